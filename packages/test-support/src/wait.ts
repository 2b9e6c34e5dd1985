import { createConnection, createServer } from 'node:net';

export interface WaitOptions {
  /** Give up after this many ms (default 10 s). */
  timeoutMs?: number;
  /** Poll this often (default 20 ms). */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/** What a successful `waitFor` resolves with: the check's value, known to be truthy. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `check` until it returns a truthy value, and resolves with it; throws after the deadline,
 * naming what it waited for. `waitFor(check, 10_000, 'faces')` is short for
 * `waitFor(check, { timeoutMs: 10_000, what: 'faces' })`.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitOptions | number = {},
  what?: string,
): Promise<Truthy<T>> {
  const o = typeof options === 'number' ? { timeoutMs: options, what } : options;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const intervalMs = o.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${o.what ?? 'condition'}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A loopback port that was free a moment ago: for a server that must come back on the same port
 * after a restart. Servers that need no fixed port should listen on 0 and report theirs.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a TCP connection to 127.0.0.1:port is accepted now. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
