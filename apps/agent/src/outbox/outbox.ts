import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeviceTopicKind } from '@facefleet/protocol';
import Database from 'better-sqlite3';
import { OutboxError } from '../errors.js';
import { MIGRATIONS } from './migrations.js';
import { sqliteAddonPath } from './sqlite-addon.js';

/** One message waiting for the broker's acknowledgement. */
export interface OutboxMessage {
  seq: number;
  kind: DeviceTopicKind;
  topic: string;
  payload: string;
  retain: boolean;
}

export interface EnqueueOptions {
  kind: DeviceTopicKind;
  topic: string;
  retain?: boolean;
  /** Builds the payload once its seq is known (the seq is part of every envelope). */
  build: (seq: number) => unknown;
}

export interface Outbox {
  /** Allocates the next seq and stores the message, both in one durable transaction. Returns the seq. */
  enqueue(options: EnqueueOptions): number;
  /**
   * Hands out up to `limit` messages in seq order that were not handed out before in this process.
   * Everything stored is handed out again after a restart.
   */
  claim(limit: number): OutboxMessage[];
  /** The broker acknowledged this message: it may leave the outbox (deleted in a batch, soon). */
  ack(seq: number): void;
  /** Deletes acknowledged messages now (also happens on the next tick by itself). */
  flushAcks(): void;
  /** Messages stored and not yet acknowledged. */
  pending(): number;
  /** Messages dropped because the outbox was full, since the database was created. */
  dropped(): number;
  /** The seq the next message will get. */
  nextSeq(): number;
  /** Allocates a seq for a message that is not stored here (the MQTT will, which the broker sends). */
  reserveSeq(): number;
  /** Runs `fn` in one transaction (state change and the report of it are stored together). */
  transaction<T>(fn: () => T): T;
  getState<T>(name: string): T | undefined;
  setState(name: string, value: unknown): void;
  /** How the database runs: what the durability promises above rest on (logged at start). */
  storage(): OutboxStorage;
  close(): void;
}

export interface OutboxStorage {
  /** `wal` (`memory` for `:memory:`). */
  journalMode: string;
  /** SQLite's number for the level: 2 = FULL, an fsync at every commit. */
  synchronous: number;
  sqliteVersion: string;
  /** The better-sqlite3 addon file, when it is a copy built for this Node (see sqlite-addon.ts). */
  addon: string | null;
}

export interface OutboxOptions {
  path: string;
  maxMessages: number;
  /** Called when a message was dropped because the outbox was full. */
  onDrop?: (message: { seq: number; kind: string }) => void;
  /**
   * The first seq of a database created now (default 0). An outbox that does not outlive its
   * process (`:memory:`, the fleet simulator's) starts from the clock, so a device restarted with an
   * empty outbox never reuses a seq the control plane has already stored and de-duplicates away.
   */
  firstSeq?: number;
}

/**
 * Kinds dropped when the outbox is full, in order: the oldest face windows first, then old metrics,
 * then superseded status. `reported` is never dropped: it carries update outcomes the control plane
 * must see.
 */
const DROP_ORDER = ['faces', 'metrics', 'status'] as const;

/**
 * The outbox holds every message not yet delivered (face counts, the device's reports): its folder
 * 0700, the database and its WAL and shared-memory files 0600 (SQLite gives those the database
 * file's mode); what an older version or a umask of 022 left readable by others loses those bits.
 */
function keepPrivate(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const strip = (p: string, keep: number) => {
    const mode = statSync(p).mode & 0o777;
    if (mode & ~keep) chmodSync(p, mode & keep);
  };
  strip(dir, 0o700);
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) strip(f, 0o600);
}

/**
 * The durable outbox (better-sqlite3, WAL). `synchronous = FULL`: every commit is fsynced, so a
 * power cut cannot roll back a seq the broker has already seen (NORMAL could lose the last commits
 * in WAL mode, and a rolled-back counter would re-issue seqs the control plane de-duplicates away).
 * The cost is one fsync per message, about two a second at the default intervals; acknowledgements
 * are deleted in batches.
 */
export function openOutbox({ path, maxMessages, onDrop, firstSeq }: OutboxOptions): Outbox {
  let db: Database.Database;
  // the addon built for this Node (Node 16 on JetPack 4), or the package's own build
  const addon = sqliteAddonPath();
  try {
    if (path !== ':memory:') keepPrivate(path);
    db = new Database(path, { nativeBinding: addon });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    const created = migrate(db);
    if (created && firstSeq !== undefined) {
      db.prepare(`UPDATE counters SET value = ? WHERE name = 'next_seq'`).run(firstSeq);
    }
  } catch (err) {
    const message = (err as Error).message;
    // an addon built for another Node: say how to build one for this Node
    const hint = /NODE_MODULE_VERSION/.test(message)
      ? ` (build better-sqlite3 for Node.js ${process.version}: apps/agent/scripts/build-sqlite-addon.sh)`
      : '';
    throw new OutboxError(`cannot open outbox database ${path}: ${message}${hint}`);
  }

  const q = {
    nextSeq: db.prepare<[], { value: number }>(
      `SELECT value FROM counters WHERE name = 'next_seq'`,
    ),
    bumpSeq: db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'next_seq'`),
    dropped: db.prepare<[], { value: number }>(`SELECT value FROM counters WHERE name = 'dropped'`),
    bumpDropped: db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'dropped'`),
    insert: db.prepare(
      'INSERT INTO outbox (seq, kind, topic, payload, retain, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox'),
    claim: db.prepare<
      [number, number],
      { seq: number; kind: DeviceTopicKind; topic: string; payload: string; retain: number }
    >('SELECT seq, kind, topic, payload, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
    oldestOfKind: db.prepare<[string, number], { seq: number }>(
      'SELECT seq FROM outbox WHERE kind = ? AND seq > ? ORDER BY seq LIMIT 1',
    ),
    delete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
    getState: db.prepare<[string], { value: string }>('SELECT value FROM state WHERE name = ?'),
    setState: db.prepare(
      'INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    ),
  };

  let count = q.count.get()?.n ?? 0;
  // Messages with seq <= claimedUpTo were handed out in this process (in flight or acknowledged).
  let claimedUpTo = -1;
  let acks: number[] = [];
  let ackTimer: NodeJS.Immediate | undefined;

  const recount = () => {
    count = q.count.get()?.n ?? 0;
  };

  const deleteAcks = db.transaction((seqs: number[]) => {
    let n = 0;
    for (const seq of seqs) n += q.delete.run(seq).changes;
    return n;
  });

  function dropOne(): boolean {
    for (const kind of DROP_ORDER) {
      // only messages not yet handed to MQTT: one in flight may still be delivered
      const victim = q.oldestOfKind.get(kind, claimedUpTo);
      if (victim) {
        q.delete.run(victim.seq);
        q.bumpDropped.run();
        count -= 1;
        onDrop?.({ seq: victim.seq, kind });
        return true;
      }
    }
    return false;
  }

  const enqueueTx = db.transaction((options: EnqueueOptions): number => {
    while (count >= maxMessages && dropOne()) {
      /* dropped one */
    }
    const seq = q.nextSeq.get()?.value ?? 0;
    q.bumpSeq.run();
    const payload = JSON.stringify(options.build(seq));
    q.insert.run(seq, options.kind, options.topic, payload, options.retain ? 1 : 0, Date.now());
    count += 1;
    return seq;
  });

  const outbox: Outbox = {
    enqueue(options) {
      try {
        return enqueueTx(options);
      } catch (err) {
        recount();
        throw err;
      }
    },
    claim(limit) {
      const rows = q.claim.all(claimedUpTo, limit);
      const last = rows.at(-1);
      if (last) claimedUpTo = last.seq;
      return rows.map((r) => ({ ...r, retain: r.retain === 1 }));
    },
    ack(seq) {
      acks.push(seq);
      ackTimer ??= setImmediate(() => outbox.flushAcks());
    },
    flushAcks() {
      if (ackTimer) clearImmediate(ackTimer);
      ackTimer = undefined;
      if (acks.length === 0 || !db.open) return;
      const batch = acks;
      acks = [];
      count -= deleteAcks(batch);
    },
    pending: () => count - acks.length,
    dropped: () => q.dropped.get()?.value ?? 0,
    nextSeq: () => q.nextSeq.get()?.value ?? 0,
    reserveSeq: db.transaction(() => {
      const seq = q.nextSeq.get()?.value ?? 0;
      q.bumpSeq.run();
      return seq;
    }),
    transaction<T>(fn: () => T): T {
      try {
        return db.transaction(fn)();
      } catch (err) {
        recount(); // the rollback undid inserts and drops the in-memory count had seen
        throw err;
      }
    },
    getState<T>(name: string) {
      const row = q.getState.get(name);
      return row ? (JSON.parse(row.value) as T) : undefined;
    },
    setState(name, value) {
      q.setState.run(name, JSON.stringify(value), Date.now());
    },
    storage: () => ({
      journalMode: db.pragma('journal_mode', { simple: true }) as string,
      synchronous: db.pragma('synchronous', { simple: true }) as number,
      sqliteVersion: (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
      addon: addon ?? null,
    }),
    close() {
      if (!db.open) return;
      outbox.flushAcks();
      db.close();
    },
  };
  return outbox;
}

/** Brings the schema up to date; true when the database was created now. */
function migrate(db: Database.Database): boolean {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] ?? '');
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return version === 0;
}
