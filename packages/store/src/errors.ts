/** Base class of every error the store throws on purpose. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** An ingest batch or a retention run could not be written (the writer failed, or the database refused). */
export class StoreWriterError extends StoreError {
  override name = 'StoreWriterError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The store location is not one the store can open (`--store`). */
export class StoreLocationError extends StoreError {
  override name = 'StoreLocationError';
}
