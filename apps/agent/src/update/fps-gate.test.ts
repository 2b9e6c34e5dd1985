import { examples, type RunnerStats } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { fpsFigures, judgeFps, latestWindows, type StatsWindow, statsWindow } from './fps-gate.js';

/** A stats line as the runner prints it: one camera delivering `cameraFps`, `fps` of it processed. */
function stats(fps: number, inferFps: number, cameraFps: number, windowS = 5): RunnerStats {
  return {
    ...examples.runnerStats,
    frames: Math.round(fps * windowS),
    fps,
    inferFps,
    windowS,
    cameras: [
      {
        id: '0',
        state: 'online',
        frames: Math.round(fps * windowS),
        processedFps: fps,
        cameraFps,
        skipped: 0,
        dropped: Math.round((cameraFps - fps) * windowS),
        reconnects: 0,
      },
    ],
  };
}
const windows = (...lines: RunnerStats[]) => lines.map(statsWindow);

describe('FPS gate: the same estimator before and after, from the runner stats', () => {
  it('sums frames over inference seconds and over window seconds', () => {
    const f = fpsFigures(windows(stats(15, 300, 15), stats(15, 360, 15)));
    expect(f).toEqual({ inferFps: 327.27, fps: 15, cameraFps: 15, windowS: 10 });
    // a runner without per-camera stats: what the cameras deliver is not known
    const { cameras: _, ...old } = stats(10, 20, 10);
    expect(fpsFigures([statsWindow(old)])?.cameraFps).toBeNull();
    expect(fpsFigures([])).toBeNull();
  });

  it('frames skipped on purpose (--max-fps) are not owed: 4 of a 24-FPS camera keeps up', () => {
    const line = stats(4, 60, 24);
    line.cameras = line.cameras?.map((c) => ({ ...c, skipped: 100, dropped: 0 }));
    const f = fpsFigures([statsWindow(line)])!;
    expect(f.cameraFps).toBe(4);
    expect(judgeFps(f, null, 0.9)).toEqual({ ok: true });
  });

  it('takes the newest windows that cover the length asked', () => {
    const w = windows(stats(1, 2, 1, 5), stats(2, 2, 2, 5), stats(3, 3, 3, 5));
    expect(latestWindows(w, 5).map((x) => x.frames)).toEqual([15]);
    // the closest length: 5 s for 6 s asked, 10 s for 8 s asked
    expect(latestWindows(w, 6).map((x) => x.frames)).toEqual([15]);
    expect(latestWindows(w, 8).map((x) => x.frames)).toEqual([10, 15]);
    expect(latestWindows(w, 60)).toHaveLength(3);
    expect(latestWindows(w, 0.5)).toHaveLength(1);
    expect(latestWindows([], 5)).toEqual([]);
    // a window stretched by a stall is not taken when the newest one alone is close
    const stalled = [...w.slice(0, 2), { ...w[2]!, windowS: 13.6 }, { ...w[2]!, windowS: 5.05 }];
    expect(latestWindows(stalled, 5.1).map((x) => x.windowS)).toEqual([5.05]);
  });

  it('the issue: a camera-bound Xavier NX keeps up with its 15-FPS camera under both engines → passes', () => {
    const before = fpsFigures(windows(stats(15, 329, 15)))!;
    const after = fpsFigures(windows(stats(14.8, 331, 15)))!;
    expect(judgeFps(after, before, 0.9)).toEqual({ ok: true });
  });

  it('inference FPS against inference FPS: a slow engine on a camera-bound device is caught', () => {
    const before = fpsFigures(windows(stats(15, 329, 15)))!;
    const after = fpsFigures(windows(stats(15, 99, 15)))!;
    expect(judgeFps(after, before, 0.9)).toEqual({
      ok: false,
      reason:
        'health gate: inference 99.0 FPS over 5.0 s is below 0.9 × 329.0 FPS of the previous engine over 5.0 s',
    });
  });

  it('end-to-end FPS against what the cameras deliver: falling behind them fails', () => {
    const before = fpsFigures(windows(stats(15, 40, 15)))!;
    const after = fpsFigures(windows(stats(9, 40, 15)))!;
    expect(judgeFps(after, before, 0.9)).toEqual({
      ok: false,
      reason:
        'health gate: end-to-end 9.0 FPS over 5.0 s is below 0.9 × 15.0 FPS the cameras deliver (previous engine 15.0 FPS over 5.0 s)',
    });
  });

  it('an inference-bound device is judged against its previous end-to-end FPS, not the camera', () => {
    // a Nano at 12 FPS behind a 15-FPS camera: 11 is fine, 10 is not
    const before = fpsFigures(windows(stats(12, 12.5, 15)))!;
    expect(judgeFps(fpsFigures(windows(stats(11, 12, 15)))!, before, 0.9).ok).toBe(true);
    expect(judgeFps(fpsFigures(windows(stats(10, 12.5, 15)))!, before, 0.9)).toEqual({
      ok: false,
      reason:
        'health gate: end-to-end 10.0 FPS over 5.0 s is below 0.9 × 12.0 FPS of the previous engine over 5.0 s (cameras deliver 15.0 FPS)',
    });
  });

  it('without a previous figure the cameras alone are the reference; no frame at all fails', () => {
    expect(judgeFps(fpsFigures(windows(stats(15, 300, 15)))!, null, 0.9).ok).toBe(true);
    expect(judgeFps(fpsFigures(windows(stats(5, 300, 15)))!, null, 0.9).ok).toBe(false);
    const none: StatsWindow = { windowS: 5, frames: 0, inferS: 0, delivered: 75 };
    expect(judgeFps(fpsFigures([none])!, null, 0.9)).toEqual({
      ok: false,
      reason: 'health gate: no frame in 5.0 s of runner stats',
    });
  });
});
