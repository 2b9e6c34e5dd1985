import type pg from 'pg';
import { isPostgresUrl } from './open.js';
import type { PostgresStore } from './pg/open.js';
import type { SqliteStore } from './sqlite/open.js';
import type { Store } from './store.js';

/**
 * For tests and benchmarks only: reading (and, to stage a fault, changing) a store with plain SQL,
 * whatever its kind. `?` placeholders; PostgreSQL's bigint and numeric come back as numbers.
 * Production code goes through the repositories.
 */
export async function query<T = Record<string, unknown>>(
  store: Store,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  if (store.kind === 'sqlite') {
    const statement = (store as SqliteStore).sqlite.prepare(text);
    if (statement.reader) return statement.all(...params) as T[];
    statement.run(...params);
    return [];
  }
  let n = 0;
  const pgText = text.replace(/\?/g, () => `$${++n}`);
  const result = await (store as PostgresStore).pool.query(pgText, params as never[]);
  return (result as pg.QueryResult).rows as T[];
}

/** The store kinds every contract test runs on. */
export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** `sqlite` or `postgres` from a store location. */
export function kindOf(location: string): StoreKind {
  return isPostgresUrl(location) ? 'postgres' : 'sqlite';
}
