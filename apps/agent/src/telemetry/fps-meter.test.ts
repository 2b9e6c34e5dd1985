import { describe, expect, it } from 'vitest';
import { createFpsMeter } from './fps-meter.js';

describe('fps meter', () => {
  it('frames per second over the window; null before two frames; 0 when frames stopped', () => {
    const m = createFpsMeter(10_000, 4096);
    expect(m.fps(0)).toBeNull();
    for (let i = 0; i <= 100; i++) m.frame(1000 + i * 40); // 25 fps for 4 s
    expect(m.fps(5000)).toBe(25);
    expect(m.fps(1000 + 100 * 40 + 20_000)).toBe(0);
    m.reset();
    expect(m.fps(6000)).toBeNull();
  });
  it('only the last window counts, and the ring bounds memory at high rates', () => {
    const m = createFpsMeter(1000, 64);
    for (let i = 0; i < 50; i++) m.frame(i * 100); // 10 fps for 5 s
    for (let i = 0; i < 500; i++) m.frame(5000 + i * 2); // then 500 fps
    expect(m.fps(6000)).toBe(500); // the ring holds 64 frames, all at 500 fps
  });
});
