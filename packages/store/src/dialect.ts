import type { SQL } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as tables from './schema/sqlite.js';

export type Tables = typeof tables;

/**
 * The drizzle handle repositories query through, typed as SQLite's.
 *
 * Repositories are written once for both stores: they use only the part of drizzle's query builder
 * that both dialects share and that behaves the same when awaited (select/from/where/groupBy/
 * orderBy/limit/innerJoin, insert/values/onConflict…/returning, update/set/where/returning,
 * delete/where/returning, and `sql` fragments that both parse). The PostgreSQL adapter hands in its
 * own handle and its own tables (schema/pg.ts) under this type: schema/rows.ts proves at compile
 * time that both schemas give the same rows, and the store's contract tests run every repository on
 * both databases. Writes that must be atomic go through `Dialect.atomic`; SQL that differs between
 * the two (ingest, retention, leases) lives in each adapter.
 */
export type QueryDb = BetterSQLite3Database<Tables>;

/** A write statement built by the query builder, as `atomic` takes it. */
export interface Statement {
  run(): unknown;
}

export interface Dialect {
  readonly kind: 'sqlite' | 'postgres';
  readonly db: QueryDb;
  readonly t: Tables;
  /** The database's own clock in epoch milliseconds, as SQL (leases are timed by it, not by instances' clocks). */
  readonly nowMs: SQL<number>;
  /**
   * Runs the statements that `build` makes on the handle it is given, in order, in one
   * transaction: all or none. (SQLite: a native transaction, synchronously; PostgreSQL: a
   * transaction on one pooled connection.)
   */
  atomic(build: (db: QueryDb) => Statement[]): Promise<void>;
}
