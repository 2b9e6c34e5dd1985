import type Database from 'better-sqlite3';

export type Synchronous = 'normal' | 'full';

/**
 * The settings every connection to the database uses, the main one and the ingest writer's: WAL,
 * the chosen durability, a busy wait instead of SQLITE_BUSY while the other connection writes,
 * and foreign keys.
 */
export function configureConnection(sqlite: Database.Database, synchronous: Synchronous): void {
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
}
