import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Dialect, QueryDb, Tables } from '../dialect.js';
import { StoreWriterError } from '../errors.js';
import type { IngestCommitter } from '../ingest/committer.js';
import * as schema from '../schema/pg.js';
import { repositories, type Store } from '../store.js';
import { BUS_CHANNEL, pgBus } from './bus.js';
import { runRetention } from './retention.js';
import { commitBatch } from './writer.js';

/** drizzle-kit's generated migrations, committed in packages/store/drizzle/pg. */
export const PG_MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle/pg', import.meta.url));

/** Any number: the advisory lock that keeps instances starting together from migrating at once. */
const MIGRATION_LOCK = 0x66616365; // "face"

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** Connections in the pool (default 10), besides the bus's listening connection. */
  poolSize?: number;
  /** Told about errors of idle pooled connections (the pool replaces them) and of the bus. */
  onError?: (err: unknown) => void;
  /** Told when the bus's listening connection is lost and back (messages in between are missed). */
  onBusState?: (state: 'listening' | 'lost') => void;
}

export interface PostgresStore extends Store {
  readonly kind: 'postgres';
  /** The pool (tests, LISTEN/NOTIFY). */
  readonly pool: pg.Pool;
}

/** The URL with its password left out, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}

/**
 * Connects to PostgreSQL and applies the migrations (under an advisory lock, so instances starting
 * together migrate once). Counts and sums of bigint come back as JS numbers (every value here is
 * below 2^53).
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (err) => options.onError?.(err));
  const db = drizzle(pool, { schema });
  try {
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await migrate(drizzle(client, { schema }), { migrationsFolder: PG_MIGRATIONS_DIR });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  const dialect: Dialect = {
    kind: 'postgres',
    // See dialect.ts: the PostgreSQL handle and tables under the shared query type.
    db: db as unknown as QueryDb,
    t: schema as unknown as Tables,
    nowMs: sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`.mapWith(Number),
    async atomic(build) {
      await db.transaction(async (tx) => {
        for (const statement of build(tx as unknown as QueryDb)) await statement;
      });
    },
  };
  const ingest: IngestCommitter = {
    commit(rows, touches, done, announce) {
      const started = performance.now();
      pool.connect().then(
        (client) =>
          commitBatch(
            client,
            rows,
            touches,
            announce ? { channel: BUS_CHANNEL, messages: announce } : undefined,
          ).then(
            (stored) => {
              client.release();
              done(undefined, stored, (performance.now() - started) / 1000);
            },
            (err: Error & { code?: string }) => {
              client.release(err);
              done(new StoreWriterError(err.message, err.code));
            },
          ),
        (err: Error) => done(new StoreWriterError(`no PostgreSQL connection: ${err.message}`)),
      );
    },
    close: async () => {},
  };
  const bus = pgBus({
    url: options.url,
    pool,
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onBusState ? { onState: options.onBusState } : {}),
  });
  try {
    await bus.start();
  } catch (err) {
    await bus.close();
    await pool.end();
    throw err;
  }
  let closed = false;
  return {
    kind: 'postgres',
    location: redactUrl(options.url),
    pool,
    ...repositories(dialect),
    ingest,
    bus,
    async retention(now, rawDays, rollupDays) {
      const client = await pool.connect();
      try {
        return await runRetention(client, now, rawDays, rollupDays);
      } finally {
        client.release();
      }
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await bus.close();
      await pool.end();
    },
  };
}
