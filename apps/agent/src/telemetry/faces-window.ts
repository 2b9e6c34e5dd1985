import type { Box, RunnerFrame } from '@facefleet/protocol';

/** A faces window without its envelope (v, deviceId, seq, ts are added when it is published). */
export interface FacesWindow {
  start: number;
  end: number;
  frames: number;
  last: number;
  min: number;
  max: number;
  mean: number;
  boxes?: Box[];
}

export interface FacesAggregator {
  add(frame: RunnerFrame): void;
  /** Closes the current window at `now` and opens the next; null when it saw no frame. */
  take(now: number): FacesWindow | null;
}

/**
 * Aggregates runner frame lines into windows: frame count, last/min/max/mean face count and,
 * optionally, the last frame's boxes. A window runs from the previous take (or creation) to now.
 */
export function createFacesAggregator(options: { boxes: boolean; now: number }): FacesAggregator {
  let start = options.now;
  let frames = 0;
  let sum = 0;
  let min = 0;
  let max = 0;
  let last = 0;
  let lastBoxes: Box[] = [];
  return {
    add(frame) {
      if (frames === 0) {
        min = frame.faces;
        max = frame.faces;
      } else {
        if (frame.faces < min) min = frame.faces;
        if (frame.faces > max) max = frame.faces;
      }
      frames += 1;
      sum += frame.faces;
      last = frame.faces;
      lastBoxes = frame.boxes;
    },
    take(now) {
      const window: FacesWindow | null =
        frames === 0
          ? null
          : {
              start,
              end: Math.max(start, now),
              frames,
              last,
              min,
              max,
              // rounding keeps the mean between min and max: both are integers
              mean: Math.round((sum / frames) * 1000) / 1000,
              ...(options.boxes ? { boxes: lastBoxes } : {}),
            };
      start = Math.max(start, now);
      frames = 0;
      sum = 0;
      return window;
    },
  };
}
