import type { Latency, RunnerFrame, RunnerStats } from '@facefleet/protocol';

/** Runner figures over one metrics interval, as `metrics.runner` carries them. */
export interface RunnerFigures {
  fps: number;
  inferFps: number;
  latencyMs: Latency;
  frames: number;
  dropped: number;
  restarts: number;
  invalidLines: number;
}

/** Linear interpolation between closest ranks (numpy's default, as the runner computes it). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (rank - lo);
}

const round = (x: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export interface RunnerMetricsAggregator {
  frame(frame: RunnerFrame): void;
  stats(stats: RunnerStats): void;
  invalidLine(): void;
  restart(): void;
  /** Figures since the previous take; null when the runner printed nothing in the interval. */
  take(now: number): RunnerFigures | null;
  /** Frames per second over the last completed interval (0 before the first). */
  lastFps(): number;
}

/**
 * Aggregates runner output into metrics: end-to-end FPS from frames counted over wall time,
 * inference FPS and latency percentiles from each frame's `ms.infer`, dropped frames from the
 * runner's own stats lines (their `dropped` counts the stats window only, so they are summed).
 * Latency samples are kept in a bounded reservoir so memory stays flat at any frame rate.
 */
export function createRunnerMetrics(options: {
  now: number;
  maxSamples?: number;
}): RunnerMetricsAggregator {
  const maxSamples = options.maxSamples ?? 4096;
  let start = options.now;
  let frames = 0;
  let seen = 0;
  let inferSum = 0;
  let samples: number[] = [];
  let dropped = 0;
  let restarts = 0;
  let invalidLines = 0;
  let lastFps = 0;
  let active = false;
  // xorshift for reservoir sampling: deterministic, no dependency on Math.random
  let rng = 0x9e3779b9;
  const rand = (n: number) => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) % n;
  };
  return {
    frame(f) {
      active = true;
      frames += 1;
      inferSum += f.ms.infer;
      seen += 1;
      if (samples.length < maxSamples) samples.push(f.ms.infer);
      else {
        const j = rand(seen);
        if (j < maxSamples) samples[j] = f.ms.infer;
      }
    },
    stats(s) {
      active = true;
      dropped += s.dropped;
    },
    invalidLine() {
      active = true;
      invalidLines += 1;
    },
    restart() {
      restarts += 1;
    },
    take(now) {
      const elapsedS = Math.max(0.001, (now - start) / 1000);
      const sorted = samples.sort((a, b) => a - b);
      const meanInfer = frames > 0 ? inferSum / frames : 0;
      const figures: RunnerFigures | null = active
        ? {
            fps: round(frames / elapsedS),
            inferFps: meanInfer > 0 ? round(1000 / meanInfer) : 0,
            latencyMs: {
              p50: round(percentile(sorted, 50)),
              p95: round(percentile(sorted, 95)),
              p99: round(percentile(sorted, 99)),
            },
            frames,
            dropped,
            restarts,
            invalidLines,
          }
        : null;
      if (figures) lastFps = figures.fps;
      start = now;
      frames = 0;
      seen = 0;
      inferSum = 0;
      samples = [];
      dropped = 0;
      invalidLines = 0;
      active = false;
      return figures;
    },
    lastFps: () => lastFps,
  };
}
