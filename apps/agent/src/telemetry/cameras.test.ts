import {
  examples,
  metricsSchema,
  parsePayload,
  type RunnerFrame,
  type RunnerStats,
  statusSchema,
} from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { createCameraTelemetry } from './cameras.js';

const t0 = 1_764_270_000_000;
const frame = (camera: string | undefined, faces: number, ts = t0): RunnerFrame => {
  const { camera: _c, ...base } = examples.runnerFrame;
  return { ...base, ...(camera ? { camera } : {}), ts, faces, boxes: [] };
};
const stats = (ts: number, cameras: NonNullable<RunnerStats['cameras']>): RunnerStats => ({
  ...examples.runnerStats,
  ts,
  windowS: 5,
  cameras,
  batch: { batches: 10, meanSize: 2.5, inferFps: 50, batchFps: 20 },
});
const cam = (id: string, over: Partial<NonNullable<RunnerStats['cameras']>[number]> = {}) => ({
  id,
  state: 'online' as const,
  frames: 50,
  processedFps: 10,
  cameraFps: 25,
  skipped: 70,
  dropped: 5,
  reconnects: 0,
  ...over,
});

describe('camera telemetry', () => {
  it('keeps one face window per camera, with no window for a camera without frames', () => {
    const t = createCameraTelemetry({ ids: ['door', 'yard', 'lobby'], boxes: false, now: t0 });
    for (const n of [1, 3, 2]) t.frame(frame('door', n));
    t.frame(frame('yard', 0));
    const windows = t.takeFaces(t0 + 1000);
    expect(windows.map((w) => [w.camera, w.window.frames, w.window.max])).toEqual([
      ['door', 3, 3],
      ['yard', 1, 0],
    ]);
    expect(t.takeFaces(t0 + 2000)).toEqual([]);
  });

  it('takes states from camera lines, at once, and says since when and why', () => {
    const t = createCameraTelemetry({ ids: ['door', 'yard'], boxes: false, now: t0 });
    expect(t.states().map((c) => c.state)).toEqual(['reconnecting', 'reconnecting']);
    t.runnerStarting(t0 + 1);
    t.hello(['door', 'yard'], t0 + 2);
    const before = t.key();
    t.camera({ type: 'camera', ts: t0 + 3, id: 'door', state: 'online' });
    t.camera({ type: 'camera', ts: t0 + 4, id: 'yard', state: 'connecting' });
    expect(t.key()).not.toBe(before);
    t.camera({ type: 'camera', ts: t0 + 9, id: 'yard', state: 'reconnecting', error: 'no frame' });
    expect(t.states()).toEqual([
      { id: 'door', state: 'online', reason: null, since: t0 + 3 },
      // reconnecting since the agent started: `since` stays, the reason is the newest
      { id: 'yard', state: 'reconnecting', reason: 'no frame', since: t0 },
    ]);
    // stats lines do not override camera lines
    t.stats(stats(t0 + 10, [cam('door', { state: 'reconnecting' }), cam('yard')]));
    expect(t.states().map((c) => c.state)).toEqual(['online', 'reconnecting']);
    t.camera({ type: 'camera', ts: t0 + 20, id: 'yard', state: 'failed', error: 'gone' });
    expect(t.states()[1]).toEqual({ id: 'yard', state: 'offline', reason: 'gone', since: t0 + 20 });
    const status = { ...examples.status, cameras: t.states() };
    expect(statusSchema.parse(status).cameras).toHaveLength(2);
  });

  it('puts every camera offline while the runner is down, with the reason', () => {
    const t = createCameraTelemetry({ ids: ['0'], boxes: false, now: t0 });
    t.camera({ type: 'camera', ts: t0 + 1, id: '0', state: 'online' });
    t.runnerDown('runner not running (exit 5)', t0 + 2);
    expect(t.states()).toEqual([
      { id: '0', state: 'offline', reason: 'runner not running (exit 5)', since: t0 + 2 },
    ]);
  });

  it('reads an older runner: states from stats lines, and its frames as camera "0"', () => {
    const t = createCameraTelemetry({ ids: ['0'], boxes: false, now: t0 });
    t.hello([], t0);
    t.frame(frame(undefined, 2, t0 + 5));
    expect(t.states()[0]).toMatchObject({ id: '0', state: 'online' });
    t.stats(stats(t0 + 10, [cam('0', { state: 'reconnecting', error: 'lost' })]));
    expect(t.states()[0]).toMatchObject({ state: 'reconnecting', reason: 'lost' });
    expect(t.takeFaces(t0 + 20)[0]?.camera).toBe('0');
  });

  it("sums each camera's figures over the interval, valid as metrics.runner.cameras", () => {
    const t = createCameraTelemetry({ ids: ['door', 'yard'], boxes: false, now: t0 });
    for (let i = 0; i < 20; i++) t.frame(frame('door', 1));
    for (let i = 0; i < 10; i++) t.frame(frame('yard', 0));
    t.stats(stats(t0 + 5000, [cam('door'), cam('yard', { cameraFps: 5, reconnects: 1 })]));
    t.stats(stats(t0 + 10_000, [cam('door', { cameraFps: 15 }), cam('yard', { cameraFps: 5 })]));
    const m = t.takeMetrics(t0 + 10_000);
    expect(m.cameras).toEqual([
      {
        id: 'door',
        state: 'online',
        fps: 2,
        cameraFps: 20,
        frames: 20,
        dropped: 10,
        skipped: 140,
        reconnects: 0,
      },
      {
        id: 'yard',
        state: 'online',
        fps: 1,
        cameraFps: 5,
        frames: 10,
        dropped: 10,
        skipped: 140,
        reconnects: 1,
      },
    ]);
    expect(m.batch).toEqual({ batches: 20, meanSize: 2.5 });
    parsePayload(
      metricsSchema,
      { ...examples.metrics, runner: { ...examples.metrics.runner, ...m } },
      'metrics',
    );
    // the next interval starts from zero; the source FPS stays the last one known
    const next = t.takeMetrics(t0 + 20_000);
    expect(next.cameras[0]).toMatchObject({ fps: 0, frames: 0, cameraFps: 20 });
    expect(next.batch).toBeNull();
  });
});
