import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshStoreLocation } from '@facefleet/test-support';
import Database from 'better-sqlite3';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { migrate as migrateSqlite } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { openStore } from './open.js';
import { PG_MIGRATIONS_DIR } from './pg/open.js';
import { SQLITE_MIGRATIONS_DIR } from './sqlite/open.js';
import { query, STORE_KINDS } from './testing.js';

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
        if (kind === 'sqlite') {
          const sqlite = new Database(place.location);
          migrateSqlite(drizzleSqlite(sqlite), { migrationsFolder: before.dir });
          for (const text of LEGACY_ROWS) sqlite.prepare(text).run();
          sqlite.close();
        } else {
          const client = new pg.Client({ connectionString: place.location });
          await client.connect();
          await migratePg(drizzlePg(client), { migrationsFolder: before.dir });
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
