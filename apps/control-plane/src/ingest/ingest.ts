import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/open.js';
import { IngestClosedError, IngestWriterError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';
import type { IngestMessage } from './decode.js';
import { createWriter, type Row, type Touch, toRow } from './writer.js';
import type { WriterReply, WriterRequest, WriterWorkerData } from './writer-worker.js';

/** A message after its batch committed; `stored` is false for a replay already in the database. */
export interface CommittedMessage {
  message: IngestMessage;
  stored: boolean;
  receivedAt: number;
}

export interface IngestOptions {
  database: DatabaseHandle;
  telemetry: Telemetry;
  log: Logger;
  /** Commit at most this many ms after the first message of a batch (0: on the next turn of the event loop). */
  batchMs: number;
  /** …or as soon as the batch holds this many messages. */
  batchRows: number;
  now?: () => number;
  /** Write devices' last-seen times at most this often (ms); default 1000. */
  lastSeenMs?: number;
  /**
   * Where batches are written: `worker` (default for a database file) is a writer thread with its
   * own connection, so commits never block the event loop; `inline` writes on this thread (the
   * only choice for an in-memory database).
   */
  writer?: 'inline' | 'worker';
  /** Called after every commit, with the messages of the batch (alerts, rollouts, analytics). */
  onCommit?: (batch: CommittedMessage[]) => void;
}

interface Pending {
  message: IngestMessage;
  receivedAt: number;
  done: (err?: Error) => void;
}

/**
 * Writes batches and calls back with, per row, whether it was new (or with the error that kept the
 * batch from committing). One batch at a time.
 */
interface Committer {
  commit(
    rows: Row[],
    touches: Touch[],
    done: (err: Error | undefined, stored?: Uint8Array, seconds?: number) => void,
  ): void;
  close(): Promise<void>;
}

function inlineCommitter(database: DatabaseHandle): Committer {
  const writer = createWriter(database.sqlite);
  return {
    commit(rows, touches, done) {
      const started = performance.now();
      let stored: Uint8Array;
      try {
        stored = writer.commit(rows, touches);
      } catch (err) {
        done(err as Error);
        return;
      }
      done(undefined, stored, (performance.now() - started) / 1000);
    },
    close: async () => {},
  };
}

/** The compiled worker: beside this file, or under dist/ when the sources run through vitest. */
function workerUrl(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./writer-worker.js', here);
  const i = here.lastIndexOf('/src/');
  return new URL(
    `${here.slice(0, i)}/dist/${here.slice(i + 5, here.lastIndexOf('/'))}/writer-worker.js`,
  );
}

/**
 * A writer thread. If it dies, the batch in it fails (nothing of it was acknowledged) and the next
 * batch starts a new one.
 */
function workerCommitter(database: DatabaseHandle, log: Logger): Committer {
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, (reply: WriterReply | Error) => void>();
  const failAll = (err: Error) => {
    const callbacks = [...waiting.values()];
    waiting.clear();
    for (const cb of callbacks) cb(err);
  };
  function start(): Worker {
    const w = new Worker(workerUrl(), {
      workerData: {
        file: database.file,
        synchronous: database.synchronous,
      } satisfies WriterWorkerData,
    });
    w.on('message', (reply: WriterReply) => {
      const cb = waiting.get(reply.id);
      waiting.delete(reply.id);
      cb?.(reply);
    });
    w.on('error', (err) => {
      log.error({ err }, 'ingest writer thread failed');
      failAll(new IngestWriterError(`ingest writer thread failed: ${err.message}`));
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      if (waiting.size > 0) failAll(new IngestWriterError(`ingest writer thread exited (${code})`));
    });
    return w;
  }
  return {
    commit(rows, touches, done) {
      worker ??= start();
      const id = nextId++;
      waiting.set(id, (reply) => {
        if (reply instanceof Error) done(reply);
        else if ('error' in reply)
          done(
            Object.assign(new IngestWriterError(reply.error.message), { code: reply.error.code }),
          );
        else if ('stored' in reply) done(undefined, reply.stored, reply.seconds);
      });
      worker.postMessage({ id, rows, touches } satisfies WriterRequest);
    },
    async close() {
      const w = worker;
      if (!w) return;
      const id = nextId++;
      const closed = new Promise<void>((resolve) => {
        waiting.set(id, () => resolve());
        w.once('exit', () => resolve());
      });
      w.postMessage({ id, close: true } satisfies WriterRequest);
      await closed;
      worker = undefined;
      await w.terminate();
    },
  };
}

/**
 * Batches validated device messages and commits them in one SQLite transaction with prepared
 * inserts, idempotent on (deviceId, seq). A message's `done` is called only once its batch has
 * committed: the broker sends the QoS 1 PUBACK then, so an acknowledged message is on disk.
 *
 * By default the commits run on a writer thread (writer-worker.ts), one batch at a time; what
 * arrives meanwhile forms the next batch, which is sent the moment the previous one commits. At
 * 10,000 devices the SQLite work was about a quarter of the event loop's time, and its commits and
 * WAL checkpoints stalled every client for tens of milliseconds at a time.
 */
export function createIngest(options: IngestOptions) {
  const { database, telemetry, log, batchMs, batchRows } = options;
  const now = options.now ?? Date.now;
  const mode = options.writer ?? (database.file === ':memory:' ? 'inline' : 'worker');
  if (mode === 'worker' && database.file === ':memory:')
    throw new Error('the ingest writer thread needs a database file, not :memory:');
  const committer = mode === 'worker' ? workerCommitter(database, log) : inlineCommitter(database);

  // Devices' last-seen times. Writing one per message doubled the cost of a face window at peak,
  // so each device's time is written at most once per `lastSeenMs`, inside the batch that carries
  // it: its first message at once, later ones when the written time is that old. A device that
  // goes quiet gets its final time from a timer. The database (and the API) may so be up to
  // `lastSeenMs` behind; alert rules keep their own, exact, from the committed batches.
  const lastSeenMs = options.lastSeenMs ?? 1000;
  const seen = new Map<string, { at: number; written: number }>();
  /** Last-seen writes due with this batch. */
  function dueTouches(items: Pending[]): Touch[] {
    const due = new Map<string, number>();
    for (const item of items) {
      const id = item.message.data.deviceId;
      const e = seen.get(id) ?? { at: 0, written: 0 };
      if (e.at === 0) seen.set(id, e);
      if (item.receivedAt > e.at) e.at = item.receivedAt;
      if (e.written === 0 || e.at - e.written >= lastSeenMs) due.set(id, e.at);
    }
    return [...due];
  }
  const markWritten = (entries: Touch[]) => {
    for (const [id, at] of entries) {
      const e = seen.get(id);
      if (e && e.written < at) e.written = at;
    }
  };
  /** Devices whose latest time is unwritten and (unless `all`) at least an interval old. */
  function quietTouches(all: boolean): Touch[] {
    const cutoff = now() - lastSeenMs;
    const entries: Touch[] = [];
    for (const [id, e] of seen)
      if (e.at > e.written && (all || e.at <= cutoff)) entries.push([id, e.at]);
    return entries;
  }
  let quietDue = false;
  const lastSeenTimer = setInterval(() => {
    quietDue = true;
    kick();
  }, lastSeenMs);
  lastSeenTimer.unref();

  let batch: Pending[] = [];
  let timer: { cancel(): void } | undefined;
  const schedule = (): { cancel(): void } => {
    if (batchMs === 0) {
      const handle = setImmediate(kick);
      return { cancel: () => clearImmediate(handle) };
    }
    const handle = setTimeout(kick, batchMs);
    return { cancel: () => clearTimeout(handle) };
  };
  let closed = false;
  let inFlight = false;
  /** Messages in the batch being committed. */
  let inFlightRows = 0;
  /** Called when nothing is queued or in flight. */
  let idleWaiters: (() => void)[] = [];

  /** Sends the queued batch (and any quiet devices' last-seen times) unless one is in flight. */
  function kick(): void {
    timer?.cancel();
    timer = undefined;
    if (inFlight) return;
    if (batch.length === 0 && !quietDue) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const items = batch;
    batch = [];
    const touches = dueTouches(items);
    if (quietDue) {
      quietDue = false;
      const have = new Set(touches.map((t) => t[0]));
      for (const t of quietTouches(false)) if (!have.has(t[0])) touches.push(t);
    }
    if (items.length === 0 && touches.length === 0) {
      kick();
      return;
    }
    const rows = items.map((item) => toRow(item.message, item.receivedAt));
    inFlight = true;
    inFlightRows = items.length;
    committer.commit(rows, touches, (err, stored, seconds) => {
      inFlight = false;
      inFlightRows = 0;
      if (err || !stored) {
        log.error({ err, rows: items.length }, 'ingest batch commit failed; nothing acknowledged');
        for (const item of items) item.done(err ?? new IngestWriterError('no result'));
      } else {
        markWritten(touches);
        if (items.length > 0) committedBatch(items, stored, seconds ?? 0);
      }
      // What arrived during this commit goes at once: the commit itself was the wait.
      kick();
    });
  }

  function committedBatch(items: Pending[], stored: Uint8Array, seconds: number): void {
    telemetry.batchCommit.observe(seconds);
    telemetry.batchRows.inc();
    const counts = new Map<string, number>();
    const committed: CommittedMessage[] = new Array(items.length);
    const at = now();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      telemetry.ackDelay.observe((at - item.receivedAt) / 1000);
      const isNew = stored[i] === 1;
      const key = `${isNew ? '+' : '='}${item.message.kind}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      committed[i] = { message: item.message, stored: isNew, receivedAt: item.receivedAt };
    }
    for (const [key, n] of counts) {
      const counter = key[0] === '+' ? telemetry.ingested : telemetry.duplicates;
      counter.inc({ kind: key.slice(1) }, n);
    }
    for (const item of items) item.done();
    if (options.onCommit) {
      try {
        options.onCommit(committed);
      } catch (err) {
        log.error({ err }, 'ingest commit hook failed');
      }
    }
  }

  /** Resolves when everything queued before it (and anything after) has been committed. */
  function flush(): Promise<void> {
    const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
    kick();
    return idle;
  }

  function enqueue(message: IngestMessage, done: (err?: Error) => void): void {
    if (closed) {
      done(new IngestClosedError());
      return;
    }
    batch.push({ message, receivedAt: now(), done });
    if (batch.length >= batchRows) kick();
    else if (!timer) timer = schedule();
  }

  return {
    /**
     * Queues a message; `done` is called (with no error) once the batch holding it has committed,
     * or with the error that kept it from committing.
     */
    enqueue,
    /** `enqueue` as a promise. */
    submit(message: IngestMessage): Promise<void> {
      return new Promise<void>((resolve, reject) =>
        enqueue(message, (err) => (err ? reject(err) : resolve())),
      );
    },
    /** Commits what is queued now; resolves when nothing is left to commit. */
    flush,
    /**
     * Refuses anything more, commits what is queued, writes every device's last-seen time and
     * stops the writer thread.
     */
    async close(): Promise<void> {
      closed = true;
      clearInterval(lastSeenTimer);
      await flush();
      const rest = quietTouches(true);
      if (rest.length > 0) {
        await new Promise<void>((resolve) =>
          committer.commit([], rest, (err) => {
            if (err) log.error({ err }, 'writing last-seen times failed');
            else markWritten(rest);
            resolve();
          }),
        );
      }
      await committer.close();
    },
    /** Messages queued or being committed. */
    get pending(): number {
      return batch.length + inFlightRows;
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
