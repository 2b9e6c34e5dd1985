import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { StoreWriterError } from '../errors.js';
import type { IngestCommitter, RetentionResult } from '../ingest/committer.js';
import type { Row, Touch } from '../ingest/rows.js';
import type { Synchronous } from './connection.js';
import { runRetention } from './retention.js';
import { createWriter } from './writer.js';
import type { WriterReply, WriterRequest, WriterWorkerData } from './writer-worker.js';

/** SQLite's writes that are not single statements: ingest batches and retention, on one connection. */
export interface SqliteWriter extends IngestCommitter {
  retention(now: number, rawDays: number, rollupDays: number): Promise<RetentionResult>;
}

/** Writes on the calling thread (an in-memory database, or `--ingest-writer inline`). */
export function inlineWriter(sqlite: Database.Database): SqliteWriter {
  const writer = createWriter(sqlite);
  return {
    commit(rows, touches, done) {
      const started = performance.now();
      let stored: Uint8Array;
      try {
        stored = writer.commit(rows, touches);
      } catch (err) {
        const e = err as Error & { code?: unknown };
        done(new StoreWriterError(e.message, typeof e.code === 'string' ? e.code : undefined));
        return;
      }
      done(undefined, stored, (performance.now() - started) / 1000);
    },
    retention: async (now, rawDays, rollupDays) => runRetention(sqlite, now, rawDays, rollupDays),
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

export interface WorkerWriterOptions {
  file: string;
  synchronous: Synchronous;
  /** Told when the thread fails (it is restarted for the next request). */
  onError?: (err: Error) => void;
}

/**
 * A writer thread with its own connection. If it dies, the request in it fails (nothing of that
 * batch was acknowledged) and the next request starts a new one.
 */
export function workerWriter(options: WorkerWriterOptions): SqliteWriter {
  let worker: Worker | undefined;
  let nextId = 1;
  /** Requests sent and not answered, with the thread each went to. */
  const waiting = new Map<number, { w: Worker; cb: (reply: WriterReply | Error) => void }>();
  /** Fails what was sent to `w` (and only that: later requests go to a new thread). */
  const failSentTo = (w: Worker, err: Error) => {
    for (const [id, entry] of [...waiting]) {
      if (entry.w !== w) continue;
      waiting.delete(id);
      entry.cb(err);
    }
  };
  function start(): Worker {
    const w = new Worker(workerUrl(), {
      workerData: {
        file: options.file,
        synchronous: options.synchronous,
      } satisfies WriterWorkerData,
    });
    w.on('message', (reply: WriterReply) => {
      const entry = waiting.get(reply.id);
      waiting.delete(reply.id);
      entry?.cb(reply);
    });
    w.on('error', (err) => {
      // Whatever comes next goes to a new thread, even before this one's exit is reported.
      if (worker === w) worker = undefined;
      options.onError?.(err);
      failSentTo(w, new StoreWriterError(`the SQLite writer thread failed: ${err.message}`));
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      failSentTo(w, new StoreWriterError(`the SQLite writer thread exited (${code})`));
    });
    return w;
  }
  function request(req: WriterRequest, cb: (reply: WriterReply | Error) => void): void {
    worker ??= start();
    waiting.set(req.id, { w: worker, cb });
    worker.postMessage(req);
  }
  const asError = (reply: WriterReply | Error): Error | undefined =>
    reply instanceof Error
      ? reply
      : 'error' in reply
        ? new StoreWriterError(reply.error.message, reply.error.code)
        : undefined;
  return {
    commit(rows: Row[], touches: Touch[], done) {
      request({ id: nextId++, rows, touches }, (reply) => {
        const err = asError(reply);
        if (err) done(err);
        else if ('stored' in reply) done(undefined, reply.stored, reply.seconds);
      });
    },
    retention(now, rawDays, rollupDays) {
      return new Promise((resolve, reject) =>
        request({ id: nextId++, retention: { now, rawDays, rollupDays } }, (reply) => {
          const err = asError(reply);
          if (err) reject(err);
          else if ('removed' in reply) resolve(reply.removed);
        }),
      );
    },
    async close() {
      const w = worker;
      if (!w) return;
      const id = nextId++;
      const closed = new Promise<void>((resolve) => {
        waiting.set(id, { w, cb: () => resolve() });
        w.once('exit', () => resolve());
      });
      w.postMessage({ id, close: true } satisfies WriterRequest);
      await closed;
      worker = undefined;
      await w.terminate();
    },
  };
}
