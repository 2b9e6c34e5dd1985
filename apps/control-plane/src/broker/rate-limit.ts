/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. `take()` returns 0 when a token
 * was available, otherwise how many ms until one will be (the token is reserved: callers wait that
 * long and go on). Pure apart from the injected clock.
 */
export function createTokenBucket(rate: number, burst: number, now: () => number = Date.now) {
  let tokens = burst;
  let last = now();
  return {
    take(): number {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * rate);
      last = t;
      tokens -= 1;
      return tokens >= 0 ? 0 : Math.ceil((-tokens / rate) * 1000);
    },
  };
}
export type TokenBucket = ReturnType<typeof createTokenBucket>;
