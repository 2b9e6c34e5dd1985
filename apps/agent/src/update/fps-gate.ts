import type { FpsFigures, RunnerStats } from '@facefleet/protocol';

/**
 * The FPS half of the health gate, as pure functions over the runner's own `stats` lines. The runner
 * counts frames and inference time per window itself, so the figures do not depend on when its lines
 * reach the agent (they arrive in batches); the same estimator runs over the same length of windows
 * for the engine before the switch and the engine after it.
 */

/** One runner stats window, reduced to what the gate compares. */
export interface StatsWindow {
  windowS: number;
  frames: number;
  /** Seconds of inference the window's frames took (frames ÷ the line's inferFps). */
  inferS: number;
  /**
   * Frames the cameras delivered in the window that the runner was to process (skipped ones left
   * out), all cameras; null without per-camera stats.
   */
  delivered: number | null;
}

export function statsWindow(s: RunnerStats): StatsWindow {
  const inferS = s.frames > 0 && s.inferFps > 0 ? s.frames / s.inferFps : 0;
  // frames a camera delivered that the runner was told to skip (`--max-fps`) are not owed to anyone
  const delivered = s.cameras
    ? s.cameras.reduce((sum, c) => sum + Math.max(0, c.cameraFps * s.windowS - c.skipped), 0)
    : null;
  return { windowS: s.windowS, frames: s.frames, inferS, delivered };
}

/**
 * The newest windows whose lengths add up closest to `lengthS` (at least one; all of them if they
 * are shorter together): the previous engine measured over the same length as the new one.
 */
export function latestWindows(windows: readonly StatsWindow[], lengthS: number): StatsWindow[] {
  let total = 0;
  let i = windows.length;
  while (i > 0 && total < lengthS) {
    i -= 1;
    total += windows[i]?.windowS ?? 0;
  }
  // one window fewer, when that comes closer to the length asked
  const last = windows[i]?.windowS ?? 0;
  if (i < windows.length - 1 && total - lengthS > lengthS - (total - last)) i += 1;
  return windows.slice(i);
}

const round = (x: number) => Math.round(x * 100) / 100;

/** The estimator: Σ frames over Σ seconds, for inference time and for wall time alike. */
export function fpsFigures(windows: readonly StatsWindow[]): FpsFigures | null {
  let windowS = 0;
  let frames = 0;
  let inferS = 0;
  let delivered: number | null = 0;
  for (const w of windows) {
    windowS += w.windowS;
    frames += w.frames;
    inferS += w.inferS;
    delivered = delivered === null || w.delivered === null ? null : delivered + w.delivered;
  }
  if (windowS <= 0) return null;
  return {
    inferFps: inferS > 0 ? round(frames / inferS) : 0,
    fps: round(frames / windowS),
    cameraFps: delivered === null ? null : round(delivered / windowS),
    windowS: round(windowS),
  };
}

const f1 = (x: number) => x.toFixed(1);
const over = (f: FpsFigures) => `over ${f1(f.windowS)} s`;

/**
 * Judges the new engine's figures against the previous engine's: inference FPS against inference
 * FPS; end-to-end FPS against the lower of the previous engine's and what the cameras deliver now
 * (a camera-bound device is healthy when it keeps up with its cameras). The reason names both
 * figures and their windows.
 */
export function judgeFps(
  engine: FpsFigures,
  previous: FpsFigures | null,
  minRatio: number,
): { ok: true } | { ok: false; reason: string } {
  if (engine.fps === 0) {
    return {
      ok: false,
      reason: `health gate: no frame in ${f1(engine.windowS)} s of runner stats`,
    };
  }
  if (previous && previous.inferFps > 0 && engine.inferFps < minRatio * previous.inferFps) {
    return {
      ok: false,
      reason: `health gate: inference ${f1(engine.inferFps)} FPS ${over(engine)} is below ${minRatio} × ${f1(previous.inferFps)} FPS of the previous engine ${over(previous)}`,
    };
  }
  const cameras = engine.cameraFps;
  const prev = previous && previous.fps > 0 ? previous.fps : null;
  const target =
    cameras !== null && cameras > 0 ? (prev === null ? cameras : Math.min(cameras, prev)) : prev;
  if (target !== null && engine.fps < minRatio * target) {
    const against =
      target === cameras
        ? `${f1(target)} FPS the cameras deliver${prev === null ? '' : ` (previous engine ${f1(prev)} FPS ${over(previous!)})`}`
        : `${f1(target)} FPS of the previous engine ${over(previous!)}${cameras === null ? '' : ` (cameras deliver ${f1(cameras)} FPS)`}`;
    return {
      ok: false,
      reason: `health gate: end-to-end ${f1(engine.fps)} FPS ${over(engine)} is below ${minRatio} × ${against}`,
    };
  }
  return { ok: true };
}
