import { examples, facesSchema, parsePayload, type RunnerFrame } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { createFacesAggregator } from './faces-window.js';
import { createRunnerMetrics, percentile } from './runner-metrics.js';

const t0 = 1_764_270_000_000;
const frame = (faces: number, infer = 10, i = 0): RunnerFrame => ({
  ...examples.runnerFrame,
  index: i,
  faces,
  boxes: Array.from({ length: faces }, (_, k) => ({ x: k, y: k, w: 10, h: 10, conf: 0.9 })),
  ms: { ...examples.runnerFrame.ms, infer },
});

describe('faces windows', () => {
  it('frames, last/min/max/mean and the last boxes, valid against the protocol', () => {
    const agg = createFacesAggregator({ boxes: true, now: t0 });
    for (const n of [2, 0, 3, 1]) agg.add(frame(n));
    const w = agg.take(t0 + 1000);
    expect(w).toMatchObject({
      start: t0,
      end: t0 + 1000,
      frames: 4,
      last: 1,
      min: 0,
      max: 3,
      mean: 1.5,
    });
    expect(w?.boxes).toHaveLength(1);
    parsePayload(facesSchema, { v: 1, deviceId: 'cam-7', seq: 1, ts: t0 + 1000, ...w }, 'faces');
  });
  it('an empty window is null; the next window starts where the last ended', () => {
    const agg = createFacesAggregator({ boxes: false, now: t0 });
    expect(agg.take(t0 + 1000)).toBeNull();
    agg.add(frame(5));
    const w = agg.take(t0 + 2000);
    expect(w).toEqual({
      start: t0 + 1000,
      end: t0 + 2000,
      frames: 1,
      last: 5,
      min: 5,
      max: 5,
      mean: 5,
    });
  });
  it('a mean of thirds stays between min and max after rounding', () => {
    const agg = createFacesAggregator({ boxes: false, now: t0 });
    for (const n of [1, 1, 2]) agg.add(frame(n));
    const w = agg.take(t0 + 10);
    expect(w?.mean).toBe(1.333);
  });
});

describe('runner metrics', () => {
  it('percentiles interpolate like numpy', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBeCloseTo(9.55);
    expect(percentile([], 99)).toBe(0);
  });
  it('fps over wall time, infer fps and latency from frames, dropped summed from stats windows', () => {
    const m = createRunnerMetrics({ now: t0 });
    for (let i = 1; i <= 100; i++) m.frame(frame(1, i / 10, i));
    m.stats({ ...examples.runnerStats, dropped: 2 });
    m.stats({ ...examples.runnerStats, dropped: 3 });
    m.invalidLine();
    m.restart();
    const f = m.take(t0 + 10_000);
    expect(f).toEqual({
      fps: 10,
      inferFps: round(1000 / 5.05),
      latencyMs: { p50: 5.05, p95: 9.505, p99: 9.901 },
      frames: 100,
      dropped: 5,
      restarts: 1,
      invalidLines: 1,
    });
    expect(m.lastFps()).toBe(10);
    // restarts is a running total; the rest start again
    m.frame(frame(0));
    expect(m.take(t0 + 20_000)).toMatchObject({
      frames: 1,
      dropped: 0,
      restarts: 1,
      invalidLines: 0,
    });
    expect(m.take(t0 + 30_000)).toBeNull();
  });
  it('the latency reservoir stays bounded at high frame rates', () => {
    const m = createRunnerMetrics({ now: t0, maxSamples: 64 });
    for (let i = 0; i < 10_000; i++) m.frame(frame(0, i % 2 === 0 ? 1 : 3));
    const f = m.take(t0 + 1000);
    expect(f?.frames).toBe(10_000);
    expect(f?.inferFps).toBe(500);
    expect(f?.latencyMs.p99).toBe(3);
    expect(f?.latencyMs.p50).toBeGreaterThanOrEqual(1);
  });
});

function round(x: number) {
  return Math.round(x * 1000) / 1000;
}
