import { StoreLocationError } from './errors.js';
import { openPostgresStore } from './pg/open.js';
import type { Synchronous } from './sqlite/connection.js';
import { openSqliteStore } from './sqlite/open.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** SQLite durability (see sqlite/open.ts). */
  synchronous?: Synchronous;
  /** SQLite: where ingest batches and retention run. */
  writer?: 'inline' | 'worker';
  /** PostgreSQL: connections in the pool. */
  poolSize?: number;
  /** Failures of background parts (SQLite's writer thread, idle PostgreSQL connections, the bus). */
  onError?: (err: unknown) => void;
  /** PostgreSQL: the bus's listening connection was lost or is back. */
  onBusState?: (state: 'listening' | 'lost') => void;
}

/** Whether `location` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** Opens a store: `postgres://…` (or `postgresql://…`) or a SQLite file path (`:memory:` too). */
export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(location)) {
    try {
      new URL(location);
    } catch {
      throw new StoreLocationError(`store: ${location} is not a valid PostgreSQL URL`);
    }
    return openPostgresStore({
      url: location,
      ...(options.poolSize ? { poolSize: options.poolSize } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.onBusState ? { onBusState: options.onBusState } : {}),
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new StoreLocationError(
      `store: ${location.split('://')[0]}:// is not supported (a SQLite file path or postgres://…)`,
    );
  }
  return openSqliteStore({
    file: location,
    ...(options.synchronous ? { synchronous: options.synchronous } : {}),
    ...(options.writer ? { writer: options.writer } : {}),
    ...(options.onError ? { onWriterError: options.onError } : {}),
  });
}
