import type { IngestCommitter, Touch } from '@facefleet/store';
import { toRow } from '@facefleet/store';
import type { Logger } from 'pino';
import { IngestClosedError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';
import type { IngestMessage } from './decode.js';

/** A message after its batch committed; `stored` is false for a replay already in the database. */
export interface CommittedMessage {
  message: IngestMessage;
  stored: boolean;
  receivedAt: number;
}

export interface IngestOptions {
  /** Writes the batches: the store's (SQLite: its writer thread; PostgreSQL: a pooled connection). */
  committer: IngestCommitter;
  telemetry: Telemetry;
  log: Logger;
  /** Commit at most this many ms after the first message of a batch (0: on the next turn of the event loop). */
  batchMs: number;
  /** …or as soon as the batch holds this many messages. */
  batchRows: number;
  now?: () => number;
  /** Write devices' last-seen times at most this often (ms); default 1000. */
  lastSeenMs?: number;
  /** Called after every commit, with the messages of the batch (alerts, rollouts, analytics). */
  onCommit?: (batch: CommittedMessage[]) => void;
  /**
   * The bus messages that tell the other instances about a batch (see cluster/messages.ts): sent
   * by the store if and only if the batch commits. None with a single instance.
   */
  relay?: (batch: CommittedMessage[]) => string[];
}

interface Pending {
  message: IngestMessage;
  receivedAt: number;
  /** After the commit: no error, and whether the message was new (false: a replay). */
  done: (err?: Error, stored?: boolean) => void;
}

/**
 * Batches validated device messages and commits them in one transaction of the store,
 * idempotent on (deviceId, seq). A message's `done` is called only once its batch has committed:
 * the broker sends the QoS 1 PUBACK then, so an acknowledged message is stored.
 *
 * One batch is committed at a time; what arrives meanwhile forms the next batch, which is sent the
 * moment the previous one commits (on SQLite by a writer thread: at 10,000 devices the SQLite work
 * was about a quarter of the event loop's time, and its commits and WAL checkpoints stalled every
 * client for tens of milliseconds at a time).
 */
export function createIngest(options: IngestOptions) {
  const { committer, telemetry, log, batchMs, batchRows } = options;
  const now = options.now ?? Date.now;

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
    const relay = options.relay;
    const announce =
      relay && items.length > 0
        ? (stored: Uint8Array) =>
            relay(
              items.map((item, i) => ({
                message: item.message,
                stored: stored[i] === 1,
                receivedAt: item.receivedAt,
              })),
            )
        : undefined;
    committer.commit(
      rows,
      touches,
      (err, stored, seconds) => {
        inFlight = false;
        inFlightRows = 0;
        if (err || !stored) {
          log.error(
            { err, rows: items.length },
            'ingest batch commit failed; nothing acknowledged',
          );
          for (const item of items) item.done(err ?? new Error('the store gave no result'));
        } else {
          markWritten(touches);
          if (items.length > 0) committedBatch(items, stored, seconds ?? 0);
        }
        // What arrived during this commit goes at once: the commit itself was the wait.
        kick();
      },
      announce,
    );
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
    for (let i = 0; i < items.length; i++) items[i]!.done(undefined, stored[i] === 1);
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

  function enqueue(message: IngestMessage, done: (err?: Error, stored?: boolean) => void): void {
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
    /** `enqueue` as a promise: whether the message was new once its batch committed. */
    submit(message: IngestMessage): Promise<boolean> {
      return new Promise<boolean>((resolve, reject) =>
        enqueue(message, (err, stored) => (err ? reject(err) : resolve(stored === true))),
      );
    },
    /** Commits what is queued now; resolves when nothing is left to commit. */
    flush,
    /**
     * Refuses anything more, commits what is queued and writes every device's last-seen time.
     * (The store, which owns the committer, stops its writer when it closes.)
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
    },
    /** Messages queued or being committed. */
    get pending(): number {
      return batch.length + inFlightRows;
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
