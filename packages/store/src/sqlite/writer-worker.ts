/**
 * The SQLite writer thread: its own connection to the database, committing the ingest batches and
 * running the retention that the main thread sends (see committer.ts). SQLite work — inserts,
 * commits, WAL checkpoints, rollups — so never blocks the event loop that serves the MQTT clients
 * and the API, and every write of the two kinds goes through this one connection in turn.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { RetentionResult } from '../ingest/committer.js';
import type { Row, Touch } from '../ingest/rows.js';
import { configureConnection, type Synchronous } from './connection.js';
import { runRetention } from './retention.js';
import { createWriter } from './writer.js';

export interface WriterWorkerData {
  file: string;
  synchronous: Synchronous;
}
export type WriterRequest =
  | { id: number; rows: Row[]; touches: Touch[] }
  | { id: number; retention: { now: number; rawDays: number; rollupDays: number } }
  | { id: number; close: true };
export type WriterReply =
  | { id: number; stored: Uint8Array; seconds: number }
  | { id: number; removed: RetentionResult }
  | { id: number; error: { message: string; code?: string } }
  | { id: number; closed: true };

const port = parentPort;
if (!port) throw new Error('writer-worker.js runs as a worker thread');
const { file, synchronous } = workerData as WriterWorkerData;
const sqlite = new Database(file);
configureConnection(sqlite, synchronous);
const writer = createWriter(sqlite);

port.on('message', (req: WriterRequest) => {
  if ('close' in req) {
    sqlite.close();
    port.postMessage({ id: req.id, closed: true } satisfies WriterReply);
    port.close();
    return;
  }
  const started = performance.now();
  let reply: WriterReply;
  try {
    if ('retention' in req) {
      const { now, rawDays, rollupDays } = req.retention;
      reply = { id: req.id, removed: runRetention(sqlite, now, rawDays, rollupDays) };
    } else {
      const stored = writer.commit(req.rows, req.touches);
      reply = { id: req.id, stored, seconds: (performance.now() - started) / 1000 };
    }
  } catch (err) {
    const e = err as Error & { code?: unknown };
    reply = {
      id: req.id,
      error: { message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) },
    };
  }
  port.postMessage(reply);
});
