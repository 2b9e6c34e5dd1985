/**
 * Frames per second over the last `windowMs` of frames, from a fixed ring of frame times (memory is
 * flat at any frame rate; at very high rates the window shrinks to the ring's span).
 */
export function createFpsMeter(windowMs = 10_000, capacity = 4096) {
  const times = new Float64Array(capacity);
  let head = 0;
  let size = 0;
  return {
    frame(now: number) {
      times[head] = now;
      head = (head + 1) % capacity;
      if (size < capacity) size += 1;
    },
    reset() {
      size = 0;
    },
    /** null until two frames were seen */
    fps(now: number): number | null {
      if (size < 2) return null;
      const newest = times[(head - 1 + capacity) % capacity] ?? 0;
      if (now - newest > windowMs) return 0;
      let count = 0;
      let oldest = newest;
      for (let i = 1; i <= size; i++) {
        const t = times[(head - i + capacity) % capacity] ?? 0;
        if (newest - t > windowMs) break;
        oldest = t;
        count += 1;
      }
      return count >= 2 && newest > oldest ? ((count - 1) * 1000) / (newest - oldest) : null;
    },
  };
}
