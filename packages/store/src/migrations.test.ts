import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshStoreLocation } from '@facefleet/test-support';
import Database from 'better-sqlite3';
import { drizzle as sqliteDrizzle } from 'drizzle-orm/better-sqlite3';
import { migrate as sqliteMigrate } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres';
import { migrate as pgMigrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { openStore } from './open.js';
import { PG_MIGRATIONS_DIR } from './pg/open.js';
import { SQLITE_MIGRATIONS_DIR } from './sqlite/open.js';
import type { Store } from './store.js';
import { query, STORE_KINDS } from './testing.js';

/**
 * Upgrades: a database migrated by the previous release (every migration but the newest) opens
 * under this one, gains the newest migration and keeps its rows.
 */

interface Journal {
  entries: { idx: number; tag: string }[];
}

/** A copy of a migrations folder that stops before its newest migration. */
function withoutNewest(dir: string): { dir: string; entries: number; cleanup(): void } {
  const copy = mkdtempSync(join(tmpdir(), 'facefleet-migrations-'));
  cpSync(dir, copy, { recursive: true });
  const file = join(copy, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(file, 'utf8')) as Journal;
  const newest = journal.entries.pop()!;
  writeFileSync(file, JSON.stringify(journal));
  rmSync(join(copy, `${newest.tag}.sql`));
  return {
    dir: copy,
    entries: journal.entries.length,
    cleanup: () => rmSync(copy, { recursive: true }),
  };
}

/**
 * The migrations folder as it was before the migration called `name` (a copy whose journal stops
 * there); by name, not number, as a migration is renumbered when others land before it.
 */
function migrationsBefore(dir: string, name: string): { dir: string; cleanup(): void } {
  const copy = mkdtempSync(join(tmpdir(), 'facefleet-migrations-'));
  cpSync(dir, copy, { recursive: true });
  const journalFile = join(copy, 'meta/_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const at = journal.entries.findIndex((e) => e.tag.replace(/^\d+_/, '') === name);
  if (at < 0) throw new Error(`no migration ${name} in ${dir}`);
  journal.entries = journal.entries.slice(0, at);
  writeFileSync(journalFile, JSON.stringify(journal));
  return { dir: copy, cleanup: () => rmSync(copy, { recursive: true, force: true }) };
}

async function migrateTo(kind: 'sqlite' | 'postgres', location: string, dir: string) {
  if (kind === 'sqlite') {
    const sqlite = new Database(location);
    try {
      sqliteMigrate(sqliteDrizzle(sqlite), { migrationsFolder: dir });
    } finally {
      sqlite.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    await pgMigrate(pgDrizzle(client), { migrationsFolder: dir });
  } finally {
    await client.end();
  }
}

/** Rows written with plain SQL in the columns every migration so far has had. */
const OLD_ROWS = [
  `INSERT INTO devices (id, device_class, tags, token_hash, created_at, desired_rev)
    VALUES ('cam-1', 'xavier-nx', '[]', 'h', 1, 3)`,
  `INSERT INTO engines (id, name, model, backend, format, device_class, precision, input_dims,
    sha256, size, signature, created_at)
    VALUES ('e1', 'facenet', 'facenet', 'tensorrt', 'plan', 'xavier-nx', 'int8', '[3,416,736]',
    'ab', 10, 'sig', 1)`,
  `INSERT INTO rollouts (id, engine_id, selector, canary_share, hold_s, failure_limit,
    min_fps_ratio, gate_hold_s, state, created_at, updated_at)
    VALUES ('r1', 'e1', '{}', 0.05, 5, 0, 0.9, 5, 'done', 1, 2)`,
];

describe.each(STORE_KINDS)('store migrations (%s)', (kind) => {
  let store: Store | undefined;
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await store?.close();
    store = undefined;
    for (const c of cleanups.splice(0)) c();
  });

  it("a database at the previous release's migrations upgrades and keeps its rows", async () => {
    const place = freshStoreLocation(kind, inject('postgresUrl'));
    cleanups.push(place.cleanup);
    const previous = withoutNewest(kind === 'sqlite' ? SQLITE_MIGRATIONS_DIR : PG_MIGRATIONS_DIR);
    cleanups.push(previous.cleanup);
    await migrateTo(kind, place.location, previous.dir);
    if (kind === 'sqlite') {
      const sqlite = new Database(place.location);
      for (const s of OLD_ROWS) sqlite.prepare(s).run();
      sqlite.close();
    } else {
      const client = new pg.Client({ connectionString: place.location });
      await client.connect();
      for (const s of OLD_ROWS) await client.query(s);
      await client.end();
    }

    store = await openStore(place.location);
    expect(await store.devices.ids()).toEqual(['cam-1']);
    expect((await store.devices.get('cam-1'))?.desiredRev).toBe(3);
    // From 0003_gates on: an old engine has no DLA core, an old rollout the default AP tolerance,
    // and the accuracy records' table is there and empty.
    expect((await store.engines.get('e1'))?.dlaCore).toBeNull();
    expect((await store.rollouts.get('r1'))?.apTolerance).toBe(1);
    expect(await query(store, 'SELECT * FROM engine_accuracy')).toEqual([]);
    // From the trust migration on: an old engine's version is its upload time (devices refuse to
    // go to a lower version), an old scrypt token hash is kept for its first login to replace,
    // and the device-certificate and signed-out-session tables are there and empty.
    expect((await store.engines.get('e1'))?.version).toBe(1);
    expect(await store.devices.tokenHash('cam-1')).toBe('h');
    expect(await query(store, 'SELECT * FROM device_certificates')).toEqual([]);
    expect(await query(store, 'SELECT * FROM revoked_sessions')).toEqual([]);
    const applied = await query<{ n: number }>(
      store,
      kind === 'sqlite'
        ? 'SELECT count(*) AS n FROM __drizzle_migrations'
        : 'SELECT count(*) AS n FROM drizzle.__drizzle_migrations',
    );
    expect(applied[0]?.n).toBe(previous.entries + 1);
  });
});

/** Rows a control plane stored before cameras existed, in plain SQL of both dialects. */
const LEGACY_ROWS = [
  `INSERT INTO face_windows (device_id, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at)
   VALUES ('cam-1', 1, 2000, 1000, 2000, 30, 1, 0, 2, 1.5, NULL, 2000)`,
  `INSERT INTO face_rollups (device_id, minute, windows, frames, max_faces, mean_sum)
   VALUES ('cam-1', 0, 4, 120, 3, 5)`,
  `INSERT INTO alerts (id, rule_id, device_id, kind, state, severity, message, value, threshold, fired_at)
   VALUES ('al-1', 'crowd', 'cam-1', 'faces_above', 'firing', 'warning', 'm', 3, 2, 5)`,
];

describe.each(STORE_KINDS)(
  'the cameras migration on a database of the version before (%s)',
  (kind) => {
    it('keeps every row: old windows and rollups become camera "0", old alerts device-wide', async () => {
      const place = freshStoreLocation(kind, inject('postgresUrl'));
      const before = migrationsBefore(
        kind === 'sqlite' ? SQLITE_MIGRATIONS_DIR : PG_MIGRATIONS_DIR,
        'cameras',
      );
      try {
        await migrateTo(kind, place.location, before.dir);
        if (kind === 'sqlite') {
          const sqlite = new Database(place.location);
          for (const text of LEGACY_ROWS) sqlite.prepare(text).run();
          sqlite.close();
        } else {
          const client = new pg.Client({ connectionString: place.location });
          await client.connect();
          for (const text of LEGACY_ROWS) await client.query(text);
          await client.end();
        }
        const store = await openStore(place.location);
        try {
          expect(await query(store, 'SELECT seq, camera FROM face_windows')).toEqual([
            { seq: 1, camera: '0' },
          ]);
          expect(await query(store, 'SELECT camera, windows, max_faces FROM face_rollups')).toEqual(
            [{ camera: '0', windows: 4, max_faces: 3 }],
          );
          expect(await query(store, 'SELECT id, camera FROM alerts')).toEqual([
            { id: 'al-1', camera: null },
          ]);
          // and the new primary key lets a second camera's rollup of the same minute in
          await query(
            store,
            `INSERT INTO face_rollups (device_id, camera, minute, windows, frames, max_faces, mean_sum)
           VALUES ('cam-1', 'yard', 0, 1, 30, 1, 1)`,
          );
          const buckets = await store.telemetry.faceBuckets('cam-1', 0, 60_000, 60_000, '0');
          expect(buckets.map((b) => b.windows)).toEqual([5]); // 4 rolled up, 1 raw; not the yard's
        } finally {
          await store.close();
        }
      } finally {
        before.cleanup();
        place.cleanup();
      }
    });
  },
);
