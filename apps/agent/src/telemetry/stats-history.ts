import type { RunnerStats } from '@facefleet/protocol';
import { type StatsWindow, statsWindow } from '../update/fps-gate.js';

export interface StatsHistory {
  /**
   * A runner (re)started: its windows start over (those of before are forgotten once it counts
   * its first), and its first one is warm-up.
   */
  spawn(): void;
  /** A stats line; returns the window it counted, or null for the warm-up window. */
  add(stats: RunnerStats): StatsWindow | null;
  /** The latest counted windows of the running engine, oldest first. */
  windows(): StatsWindow[];
}

/**
 * The running engine's latest runner stats windows, for the FPS gate's baseline. The first window
 * after a start covers model warm-up and cameras connecting, so it is not counted, before or after
 * a switch alike. Keeps windows covering at most `maxS` seconds (memory is flat).
 */
export function createStatsHistory(options: {
  maxS: number;
  /** Windows from before the agent started (persisted), counted until the runner's own arrive. */
  initial?: StatsWindow[];
}): StatsHistory {
  let windows: StatsWindow[] = [...(options.initial ?? [])];
  let fresh = false;
  let warm = false;
  return {
    spawn() {
      warm = false;
      fresh = true;
    },
    add(stats) {
      if (!warm) {
        warm = true;
        return null;
      }
      const w = statsWindow(stats);
      if (fresh) {
        windows = [];
        fresh = false;
      }
      windows.push(w);
      let total = windows.reduce((s, x) => s + x.windowS, 0);
      while (windows.length > 1 && total - (windows[0]?.windowS ?? 0) >= options.maxS) {
        total -= windows.shift()?.windowS ?? 0;
      }
      return w;
    },
    windows: () => [...windows],
  };
}
