import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { distModule } from '../test-support/fixtures.js';
import { type Outbox, openOutbox } from './outbox.js';
import { sqliteAddonPath } from './sqlite-addon.js';

const dirs: string[] = [];
const open: Outbox[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-outbox-'));
  dirs.push(dir);
  return join(dir, 'agent.db');
}
function openAt(
  path: string,
  maxMessages = 1000,
  onDrop?: (m: { seq: number; kind: string }) => void,
) {
  const o = openOutbox({ path, maxMessages, ...(onDrop ? { onDrop } : {}) });
  open.push(o);
  return o;
}
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

const put = (o: Outbox, kind: 'faces' | 'metrics' | 'status' | 'reported', n = 1) => {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    seqs.push(o.enqueue({ kind, topic: `t/${kind}`, build: (seq) => ({ seq, kind }) }));
  }
  return seqs;
};

describe('outbox', () => {
  it('starts a new database at firstSeq, and an existing one where it left off', () => {
    const path = tempDb();
    const o = openOutbox({ path, maxMessages: 10, firstSeq: 1_764_270_000_000 });
    expect(put(o, 'faces', 2)).toEqual([1_764_270_000_000, 1_764_270_000_001]);
    o.close();
    const again = openAt(path, 10);
    expect(put(again, 'faces')).toEqual([1_764_270_000_002]);
    const mem = openOutbox({ path: ':memory:', maxMessages: 10, firstSeq: 42 });
    open.push(mem);
    expect(mem.reserveSeq()).toBe(42);
  });

  it('is readable by the agent only, even where an older version left it open (issue 17, finding 4)', () => {
    const path = tempDb();
    const dir = dirname(path);
    const mode = (p: string) => statSync(p).mode & 0o777;
    chmodSync(dir, 0o755);
    const first = openAt(path);
    put(first, 'faces', 3);
    expect(mode(dir)).toBe(0o700);
    for (const f of [path, `${path}-wal`]) expect(mode(f), f).toBe(0o600);
    first.close();
    open.splice(open.indexOf(first), 1);
    // as an older version under umask 022 left it
    chmodSync(dir, 0o755);
    chmodSync(path, 0o644);
    const again = openAt(path);
    expect(mode(dir)).toBe(0o700);
    expect(mode(path)).toBe(0o600);
    expect(again.pending()).toBe(3);
  });

  it('gives every message the next seq, and the payload carries it', () => {
    const o = openAt(tempDb());
    expect(put(o, 'faces', 3)).toEqual([0, 1, 2]);
    const msgs = o.claim(10);
    expect(msgs.map((m) => m.seq)).toEqual([0, 1, 2]);
    expect(JSON.parse(msgs[1]?.payload ?? '')).toEqual({ seq: 1, kind: 'faces' });
    expect(o.pending()).toBe(3);
  });

  it('the seq counter and unacknowledged messages survive closing and reopening', () => {
    const path = tempDb();
    const a = openAt(path);
    put(a, 'faces', 5);
    for (const m of a.claim(2)) a.ack(m.seq);
    a.close();
    const b = openAt(path);
    expect(b.pending()).toBe(3);
    // everything unacknowledged is handed out again, in order, after a restart
    expect(b.claim(10).map((m) => m.seq)).toEqual([2, 3, 4]);
    expect(put(b, 'metrics')).toEqual([5]);
  });

  it('claim hands each message out once per process, in seq order', () => {
    const o = openAt(tempDb());
    put(o, 'faces', 2);
    put(o, 'reported', 1);
    put(o, 'faces', 2);
    expect(o.claim(2).map((m) => m.seq)).toEqual([0, 1]);
    expect(o.claim(10).map((m) => m.seq)).toEqual([2, 3, 4]);
    expect(o.claim(10)).toEqual([]);
    put(o, 'metrics');
    expect(o.claim(10).map((m) => [m.seq, m.kind])).toEqual([[5, 'metrics']]);
  });

  it('acks are deleted in a batch on the next tick', async () => {
    const path = tempDb();
    const o = openAt(path);
    put(o, 'faces', 4);
    for (const m of o.claim(4)) o.ack(m.seq);
    expect(o.pending()).toBe(0);
    await new Promise((r) => setImmediate(r));
    o.close();
    expect(openAt(path).pending()).toBe(0);
  });

  it('when full, drops the oldest faces first, then metrics, then status, never reported; counts drops', () => {
    const drops: string[] = [];
    const path = tempDb();
    const o = openAt(path, 10, (m) => drops.push(`${m.kind}:${m.seq}`));
    put(o, 'reported', 2); // 0 1
    put(o, 'status', 1); // 2
    put(o, 'metrics', 2); // 3 4
    put(o, 'faces', 5); // 5..9
    expect(o.pending()).toBe(10);
    put(o, 'faces', 3); // 10 11 12 → drop faces 5 6 7
    expect(drops).toEqual(['faces:5', 'faces:6', 'faces:7']);
    put(o, 'reported', 8); // drops faces 8..12, then metrics 3 4, then status 2
    expect(drops.slice(3)).toEqual([
      'faces:8',
      'faces:9',
      'faces:10',
      'faces:11',
      'faces:12',
      'metrics:3',
      'metrics:4',
      'status:2',
    ]);
    expect(o.dropped()).toBe(11);
    // only reported left: it is never dropped, the bound yields
    put(o, 'reported', 2);
    expect(o.pending()).toBe(12);
    const kinds = o.claim(100).map((m) => m.kind);
    expect(new Set(kinds)).toEqual(new Set(['reported']));
    o.close();
    expect(openAt(path).dropped()).toBe(11);
  });

  it('never drops a message already handed to MQTT', () => {
    const o = openAt(tempDb(), 3);
    put(o, 'faces', 3);
    expect(o.claim(2).map((m) => m.seq)).toEqual([0, 1]);
    put(o, 'faces', 1);
    // 0 and 1 are in flight: 2 is the oldest that can go
    expect(o.claim(10).map((m) => m.seq)).toEqual([3]);
    expect(o.dropped()).toBe(1);
  });

  it('state records and a transaction that writes state and enqueues together', () => {
    const o = openAt(tempDb());
    expect(o.getState('engine')).toBeUndefined();
    expect(() =>
      o.transaction(() => {
        o.setState('engine', { id: 'e1' });
        put(o, 'reported');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(o.getState('engine')).toBeUndefined();
    expect(o.pending()).toBe(0);
    expect(o.nextSeq()).toBe(0);
    o.transaction(() => {
      o.setState('engine', { id: 'e1' });
      put(o, 'reported');
    });
    expect(o.getState('engine')).toEqual({ id: 'e1' });
    expect(o.pending()).toBe(1);
  });

  it('a process killed with SIGKILL right after enqueueing loses nothing', async () => {
    const path = tempDb();
    // a real child process writes 200 messages, prints the last seq, then waits to be killed
    const script = `
      import { openOutbox } from ${JSON.stringify(distModule('outbox/outbox.js'))};
      const o = openOutbox({ path: ${JSON.stringify(path)}, maxMessages: 10000 });
      let last = -1;
      for (let i = 0; i < 200; i++) last = o.enqueue({ kind: 'faces', topic: 't', build: (seq) => ({ seq }) });
      process.stdout.write(String(last) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const last = await new Promise<string>((resolve) =>
      child.stdout.once('data', (d) => resolve(String(d).trim())),
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(last).toBe('199');
    const o = openAt(path);
    expect(o.pending()).toBe(200);
    expect(o.nextSeq()).toBe(200);
  });

  it('fsyncs every commit (WAL, synchronous=FULL) on the addon built for the Node running it', () => {
    const o = openAt(tempDb());
    const storage = o.storage();
    expect(storage).toMatchObject({ journalMode: 'wal', synchronous: 2 });
    // Node 16 (the JetPack 4 agent, scripts/node16/run.mjs) loads the copy built for its ABI by
    // build-sqlite-addon.sh; the workspace's Node loads the package's own build
    if (process.versions.modules === '93') {
      expect(storage.addon).toMatch(
        /lib\/binding\/node-v93-linux-[a-z0-9]+\/better_sqlite3\.node$/,
      );
    } else {
      expect(storage.addon).toBeNull();
    }
    expect(storage.sqliteVersion).toMatch(/^3\.\d+\.\d+$/);
  });

  it('finds a copy built for another ABI by its node-pre-gyp name, and none for an ABI without one', () => {
    // scripts/setup.sh builds the Node 16 (ABI 93) copy for this machine
    expect(sqliteAddonPath({ modules: '93' }, 'linux', process.arch)).toMatch(
      new RegExp(`node-v93-linux-${process.arch}/better_sqlite3\\.node$`),
    );
    expect(sqliteAddonPath({ modules: '1' }, 'linux', process.arch)).toBeUndefined();
  });
});
