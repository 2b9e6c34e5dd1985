import type { Row, Touch } from './rows.js';

/** What a retention run removed from the raw tables (folded into their rollups first). */
export interface RetentionResult {
  faces: number;
  metrics: number;
}

/**
 * Writes ingest batches for a store: one batch at a time, each in one transaction. `done` gets, per
 * row, 1 if it was new and 0 for a replay already stored, or the error that kept the batch from
 * committing (then nothing of it was written). `announce`, given which rows were new, makes the
 * bus messages that tell every instance about the batch: they are sent if and only if the batch
 * commits (on PostgreSQL inside its transaction).
 */
export interface IngestCommitter {
  commit(
    rows: Row[],
    touches: Touch[],
    done: (err: Error | undefined, stored?: Uint8Array, seconds?: number) => void,
    announce?: (stored: Uint8Array) => string[],
  ): void;
  close(): Promise<void>;
}
