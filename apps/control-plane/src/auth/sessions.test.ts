import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSessions, loadOrCreateSessionKey } from './sessions.js';

const key = Buffer.alloc(32, 7);

describe('dashboard sessions', () => {
  it('verifies what it issued until it expires', () => {
    let now = 1_000_000;
    const sessions = createSessions({ key, ttlS: 60, now: () => now });
    const { value, expiresAt } = sessions.issue('0123456789abcdef');
    expect(expiresAt).toBe(1_060_000);
    expect(sessions.verify(value)).toEqual({
      sessionId: expect.stringMatching(/^[0-9a-f]{32}$/),
      tokenId: '0123456789abcdef',
      expiresAt,
    });
    // every sign-in is a session of its own (signing one out leaves the others)
    expect(sessions.verify(sessions.issue('0123456789abcdef').value)?.sessionId).not.toBe(
      sessions.verify(value)?.sessionId,
    );
    now = 1_059_999;
    expect(sessions.verify(value)).toBeDefined();
    now = 1_060_000;
    expect(sessions.verify(value)).toBeUndefined();
  });

  it('refuses a cookie whose expiry or token id was edited, or that another key signed', () => {
    const sessions = createSessions({ key, ttlS: 60 });
    const { value } = sessions.issue('0123456789abcdef');
    const [v, sid, id, exp, mac] = value.split('.');
    expect(
      sessions.verify([v, sid, id, String(Number(exp) + 3_600_000), mac].join('.')),
    ).toBeUndefined();
    expect(sessions.verify([v, sid, 'fedcba9876543210', exp, mac].join('.'))).toBeUndefined();
    expect(sessions.verify([v, 'f'.repeat(32), id, exp, mac].join('.'))).toBeUndefined();
    const other = createSessions({ key: Buffer.alloc(32, 8), ttlS: 60 });
    expect(other.verify(value)).toBeUndefined();
    expect(sessions.verify('')).toBeUndefined();
    expect(sessions.verify(`${value}x`)).toBeUndefined();
  });

  it('creates the key once, 0600, and reads the same key back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-session-'));
    try {
      const file = join(dir, 'sub', 'session-key');
      const first = loadOrCreateSessionKey(file);
      expect(first).toHaveLength(32);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(loadOrCreateSessionKey(file).equals(first)).toBe(true);
      expect(readFileSync(file, 'utf8').trim()).toBe(first.toString('hex'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
