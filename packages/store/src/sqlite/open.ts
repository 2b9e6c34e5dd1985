import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { localBus } from '../bus.js';
import type { Dialect } from '../dialect.js';
import * as schema from '../schema/sqlite.js';
import { repositories, type Store } from '../store.js';
import { inlineWriter, type SqliteWriter, workerWriter } from './committer.js';
import { configureConnection, type Synchronous } from './connection.js';

/** drizzle-kit's generated migrations, committed in packages/store/drizzle/sqlite (dist/sqlite → ../../drizzle/sqlite). */
export const SQLITE_MIGRATIONS_DIR = fileURLToPath(
  new URL('../../drizzle/sqlite', import.meta.url),
);

export interface SqliteStoreOptions {
  /** The database file; `:memory:` for a private in-memory database (tests). */
  file: string;
  /** `normal` is durable against process death under WAL; `full` against power loss. */
  synchronous?: Synchronous;
  /**
   * Where ingest batches and retention run: `worker` (the default for a file) is a writer thread
   * with its own connection, so commits never block the event loop; `inline` writes on this
   * thread (the only choice for an in-memory database).
   */
  writer?: 'inline' | 'worker';
  /** Told when the writer thread fails (the failed batch is refused; the next starts a new thread). */
  onWriterError?: (err: unknown) => void;
}

/**
 * The database holds every token hash and all the fleet's data: its folder is made 0700 and the
 * file, its WAL and shared-memory files 0600 (SQLite gives the WAL and -shm files the database
 * file's permissions when it creates them); files from before that were readable by others lose
 * those bits.
 */
function keepPrivate(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (!existsSync(f)) continue;
    const mode = statSync(f).mode & 0o777;
    if (mode & 0o077) chmodSync(f, mode & 0o700);
  }
}

/** A SQLite store and, for tests, its main connection. */
export interface SqliteStore extends Store {
  readonly kind: 'sqlite';
  /** The main thread's connection (tests, diagnostics). */
  readonly sqlite: Database.Database;
}

/**
 * Opens (creating if needed) the SQLite database, switches it to WAL and applies the migrations.
 * Repositories query on this thread (better-sqlite3 is synchronous: each is one short statement);
 * ingest batches and retention go to the writer.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const { file } = options;
  const memory = file === ':memory:';
  const mode = options.writer ?? (memory ? 'inline' : 'worker');
  if (mode === 'worker' && memory) {
    throw new Error('the SQLite writer thread needs a database file, not :memory:');
  }
  if (!memory) keepPrivate(file);
  const sqlite = new Database(file);
  const synchronous = options.synchronous ?? 'normal';
  configureConnection(sqlite, synchronous);
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: SQLITE_MIGRATIONS_DIR });
  const dialect: Dialect = {
    kind: 'sqlite',
    db,
    t: schema,
    nowMs: sql<number>`CAST(unixepoch('subsec') * 1000 AS INTEGER)`,
    async atomic(build) {
      // better-sqlite3 runs a transaction synchronously: nothing else can interleave with it.
      sqlite.transaction(() => {
        for (const statement of build(db)) statement.run();
      })();
    },
  };
  const writer: SqliteWriter =
    mode === 'worker'
      ? workerWriter({
          file,
          synchronous,
          ...(options.onWriterError ? { onError: options.onWriterError } : {}),
        })
      : inlineWriter(sqlite);
  const bus = localBus(options.onWriterError);
  let closed = false;
  return {
    kind: 'sqlite',
    location: file,
    sqlite,
    ...repositories(dialect),
    ingest: {
      commit(rows, touches, done, announce) {
        writer.commit(rows, touches, (err, stored, seconds) => {
          if (!err && stored && announce) for (const m of announce(stored)) void bus.publish(m);
          done(err, stored, seconds);
        });
      },
      close: () => writer.close(),
    },
    bus,
    retention: (now, rawDays, rollupDays) => writer.retention(now, rawDays, rollupDays),
    ping: async () => sqlite.open,
    async close() {
      if (closed) return;
      closed = true;
      await writer.close();
      if (sqlite.open) sqlite.close();
    },
  };
}
