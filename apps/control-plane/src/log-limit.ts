import type { Logger } from 'pino';

export interface LogLimiterOptions {
  /** Lines logged per key and window; the rest are only counted. */
  perWindow?: number;
  windowMs?: number;
  now?: () => number;
}

/**
 * Keeps a misbehaving client from flooding the log with refusals (the counters in /metrics count
 * every one): at most `perWindow` warnings per key (a refusal reason) per window; the first one
 * logged in a later window says how many were left out before it.
 */
export function createLogLimiter(log: Logger, options: LogLimiterOptions = {}) {
  const perWindow = options.perWindow ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const windows = new Map<string, { start: number; logged: number; suppressed: number }>();
  return {
    warn(key: string, fields: Record<string, unknown>, message: string): void {
      const t = now();
      let w = windows.get(key);
      let suppressedBefore = 0;
      if (!w || t - w.start >= windowMs) {
        suppressedBefore = w?.suppressed ?? 0;
        w = { start: t, logged: 0, suppressed: 0 };
        windows.set(key, w);
      }
      if (w.logged >= perWindow) {
        w.suppressed++;
        return;
      }
      w.logged++;
      let logged = fields;
      let text = message;
      if (suppressedBefore > 0) {
        logged = { ...logged, suppressedBefore };
        text += ` (${suppressedBefore} like it not logged)`;
      }
      if (w.logged === perWindow) {
        logged = { ...logged, limit: perWindow, windowS: windowMs / 1000 };
        text += ` (further ones like it are only counted for ${windowMs / 1000} s)`;
      }
      log.warn(logged, text);
    },
  };
}
