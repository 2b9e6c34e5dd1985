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

/** What a control plane stored before the trust migration, in plain SQL of both dialects. */
const LEGACY_ROWS = [
  `INSERT INTO engines (id, name, model, backend, format, device_class, trt_version, precision,
     input_dims, sha256, size, signature, created_at)
   VALUES ('old-1', 'old', 'blazeface', 'opencv', 'onnx', 'generic-x86_64', NULL, 'fp32', '[3,128,128]',
     '${'a'.repeat(64)}', 10, 'sig', 1700000000000)`,
  `INSERT INTO devices (id, device_class, tags, token_hash, created_at)
   VALUES ('cam-1', 'generic-x86_64', '[]', 'scrypt$1024$8$1$c2FsdA$aGFzaA', 5)`,
];

describe.each(STORE_KINDS)(
  'the trust migration on a database of the version before (%s)',
  (kind) => {
    it('keeps every row: old engines get their upload time as version; certificates and signed-out sessions start empty', async () => {
      const place = freshStoreLocation(kind, inject('postgresUrl'));
      const before = migrationsBefore(
        kind === 'sqlite' ? SQLITE_MIGRATIONS_DIR : PG_MIGRATIONS_DIR,
        'trust',
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
          expect((await store.engines.get('old-1'))?.version).toBe(1700000000000);
          expect(await store.engines.maxVersion()).toBe(1700000000000);
          // the old scrypt hash is still there, for the first login to verify and replace
          expect(await store.devices.tokenHash('cam-1')).toBe('scrypt$1024$8$1$c2FsdA$aGFzaA');
          expect(await query(store, 'SELECT count(*) AS n FROM device_certificates')).toEqual([
            { n: 0 },
          ]);
          await store.credentials.revokeSession('s1', 10);
          expect(await store.credentials.isSessionRevoked('s1')).toBe(true);
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
