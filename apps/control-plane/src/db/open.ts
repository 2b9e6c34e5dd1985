import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { configureConnection, type Synchronous } from './connection.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface DatabaseHandle {
  /** The drizzle handle every query goes through. */
  db: Db;
  /** The raw connection, for pragmas, transactions and closing. */
  sqlite: Database.Database;
  /** The file it was opened from (`:memory:` for a private in-memory database). */
  file: string;
  synchronous: Synchronous;
  close(): void;
}

export interface OpenDatabaseOptions {
  /** `normal` is durable against process death under WAL (see config.ts); `full` against power loss. */
  synchronous?: Synchronous;
}

/** drizzle-kit's generated migrations, committed in apps/control-plane/drizzle (src/db → ../../drizzle). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * Opens (creating if needed) the SQLite database at `file` (`:memory:` for tests), switches it to WAL
 * and applies the migrations.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): DatabaseHandle {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  const synchronous = options.synchronous ?? 'normal';
  configureConnection(sqlite, synchronous);
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return {
    db,
    sqlite,
    file,
    synchronous,
    close: () => {
      if (sqlite.open) sqlite.close();
    },
  };
}
