import { describe, expect, it } from 'vitest';
import { examples, facesMessage } from './examples.js';
import type { Metrics } from './messages.js';
import {
  cameraCounts,
  deviceCameras,
  facesNow,
  fpsRatio,
  lastFaces,
  lastMetrics,
  metricsSample,
  referenceFps,
  tempMaxC,
} from './projections.js';

describe('projections', () => {
  it('takes the hottest sensor, negative ones included, and null for none', () => {
    expect(tempMaxC({ CPU: 47.5, GPU: 46, AO: 44.5 })).toBe(47.5);
    expect(tempMaxC({ outdoor: -12, board: -3.5 })).toBe(-3.5);
    expect(tempMaxC({})).toBeNull();
  });

  it("gives the model card's FPS for the classes it lists only", () => {
    expect(referenceFps('jetson-xavier-nx')).toBe(329);
    expect(referenceFps('jetson-orin-nano')).toBeNull();
    expect(referenceFps('generic-x86_64')).toBeNull();
  });

  it('compares inference FPS with the card, and says nothing without both', () => {
    expect(fpsRatio(164.5, 329)).toBe(0.5);
    expect(fpsRatio(null, 329)).toBeNull();
    expect(fpsRatio(100, null)).toBeNull();
    expect(fpsRatio(100, 0)).toBeNull();
    expect(fpsRatio(0, 16)).toBe(0);
  });

  it('keeps of a face window what "last faces" shows, and nothing else', () => {
    const w = facesMessage('cam-1', 7, { last: 2, max: 5, mean: 1.5, frames: 30 });
    expect(lastFaces(w)).toEqual({ ts: w.ts, last: 2, max: 5, mean: 1.5, frames: 30 });
  });

  it('flattens a metrics message, and summarises it as the overview does', () => {
    const m = examples.metrics;
    const sample = metricsSample(m);
    expect(sample).toEqual({
      deviceId: 'cam-7',
      ts: m.ts,
      deviceClass: 'jetson-xavier-nx',
      fps: 29.9,
      inferFps: 310.4,
      latencyMs: { p50: 3.1, p95: 3.6, p99: 4.2 },
      tempsC: { CPU: 47.5, GPU: 46, AO: 44.5 },
      powerMode: 'MODE_15W_6CORE',
      gpuPct: 61,
      referenceFps: 329,
      cameras: [
        { id: '0', state: 'online', fps: 10, cameraFps: 30 },
        { id: 'lobby', state: 'online', fps: 9.9, cameraFps: 25 },
        { id: 'yard', state: 'reconnecting', fps: 10, cameraFps: 10 },
      ],
    });
    expect(lastMetrics(sample)).toEqual({
      ts: m.ts,
      fps: 29.9,
      inferFps: 310.4,
      latencyP95: 3.6,
      tempMaxC: 47.5,
      powerMode: 'MODE_15W_6CORE',
    });
  });

  it("sums the faces in view over the cameras that sent lately, and is one camera's window alone", () => {
    const w = (ts: number, last: number) => ({ ts, last, max: last + 1, mean: last, frames: 10 });
    expect(facesNow([])).toBeNull();
    expect(facesNow([w(5000, 2)])).toEqual(w(5000, 2));
    expect(facesNow([w(100_000, 2), w(99_000, 3), w(40_000, 9)])).toEqual({
      ts: 100_000,
      last: 5,
      max: 7,
      mean: 5,
      frames: 20,
    });
  });

  it("lists a device's cameras, an older agent's as its one camera, and counts them by state", () => {
    const cams = deviceCameras(examples.status);
    expect(cams.map((c) => c.id)).toEqual(['0', 'lobby', 'yard']);
    expect(cameraCounts(cams)).toEqual({ total: 3, online: 2, reconnecting: 1, offline: 0 });
    const { cameras: _c, ...old } = examples.status;
    expect(deviceCameras(old)).toEqual([{ id: '0', state: 'online', reason: null, since: old.ts }]);
    expect(deviceCameras({ ...old, state: 'offline' })[0]).toMatchObject({
      state: 'offline',
      reason: 'device offline',
    });
    expect(deviceCameras(null)).toEqual([]);
    expect(cameraCounts([])).toEqual({ total: 0, online: 0, reconnecting: 0, offline: 0 });
  });

  it('summarises a device with no runner running and no sensors', () => {
    const idle: Metrics = {
      ...examples.metrics,
      runner: null,
      device: { ...examples.metrics.device, tempsC: {} },
    };
    expect(lastMetrics(metricsSample(idle))).toMatchObject({
      fps: null,
      inferFps: null,
      latencyP95: null,
      tempMaxC: null,
    });
  });
});
