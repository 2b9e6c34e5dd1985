import { examples } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { createStatsHistory } from './stats-history.js';

const line = (frames: number, windowS = 5) => ({
  ...examples.runnerStats,
  frames,
  windowS,
  inferFps: 100,
});

describe('runner stats history', () => {
  it('skips the warm-up window after each start and keeps at most maxS seconds', () => {
    const h = createStatsHistory({ maxS: 12 });
    h.spawn();
    expect(h.add(line(1))).toBeNull(); // warm-up
    for (const n of [10, 20, 30, 40]) expect(h.add(line(n))?.frames).toBe(n);
    expect(h.windows().map((w) => w.frames)).toEqual([20, 30, 40]);
    h.spawn();
    expect(h.add(line(5))).toBeNull();
    // the old runner's windows stay until the new one counts its first
    expect(h.windows()).toHaveLength(3);
    h.add(line(50));
    expect(h.windows().map((w) => w.frames)).toEqual([50]);
  });

  it('starts from windows persisted before the agent restarted, until its runner counts one', () => {
    const h = createStatsHistory({
      maxS: 60,
      initial: [{ windowS: 5, frames: 75, inferS: 0.25, delivered: 75 }],
    });
    expect(h.windows()).toHaveLength(1);
    h.spawn();
    h.add(line(1));
    expect(h.windows()).toHaveLength(1);
    h.add(line(70));
    expect(h.windows().map((w) => w.frames)).toEqual([70]);
  });
});
