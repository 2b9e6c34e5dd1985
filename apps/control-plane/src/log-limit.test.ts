import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogLimiter } from './log-limit.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'warn' },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { log, lines };
}

describe('createLogLimiter', () => {
  it('logs a few per reason and window, counts the rest, and says so in the next window', () => {
    const { log, lines } = capture();
    let clock = 0;
    const limiter = createLogLimiter(log, { perWindow: 3, windowMs: 1000, now: () => clock });
    for (let i = 0; i < 100; i++) limiter.warn('invalid_json', { i }, 'device message refused');
    limiter.warn('acl', { i: 'a' }, 'publish refused by the ACL'); // another reason: its own budget
    expect(lines.map((l) => l.i)).toEqual([0, 1, 2, 'a']);
    expect(lines[2]?.msg).toMatch(/only counted for 1 s/);
    clock = 1000;
    limiter.warn('invalid_json', { i: 100 }, 'device message refused');
    expect(lines.at(-1)).toMatchObject({ i: 100, suppressedBefore: 97 });
    expect(lines.at(-1)?.msg).toMatch(/97 like it not logged/);
  });

  it('with one line a window, that line still says how many were left out before it', () => {
    const { log, lines } = capture();
    let clock = 0;
    const limiter = createLogLimiter(log, { perWindow: 1, windowMs: 1000, now: () => clock });
    for (let i = 0; i < 5; i++) limiter.warn('acl', { i }, 'refused');
    clock = 1000;
    limiter.warn('acl', { i: 5 }, 'refused');
    expect(lines.map((l) => l.i)).toEqual([0, 5]);
    expect(lines[1]).toMatchObject({ suppressedBefore: 4, limit: 1 });
  });
});
