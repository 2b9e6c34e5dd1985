/**
 * The ingest writer thread: its own connection to the database, committing the batches the main
 * thread sends (see ingest.ts). SQLite work — inserts, commits, WAL checkpoints — so never blocks
 * the event loop that serves the MQTT clients and the API.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configureConnection, type Synchronous } from '../db/connection.js';
import { createWriter, type Row, type Touch } from './writer.js';

export interface WriterWorkerData {
  file: string;
  synchronous: Synchronous;
}
export type WriterRequest =
  | { id: number; rows: Row[]; touches: Touch[] }
  | { id: number; close: true };
export type WriterReply =
  | { id: number; stored: Uint8Array; seconds: number }
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
    const stored = writer.commit(req.rows, req.touches);
    reply = { id: req.id, stored, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    reply = {
      id: req.id,
      error: { message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) },
    };
  }
  port.postMessage(reply);
});
