import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './wait.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test run's PostgreSQL cluster (`postgres://…/postgres`), or `error:<why>` when it could not start. */
    postgresUrl: string;
  }
}

/**
 * A throwaway PostgreSQL cluster from Debian's `postgresql` package (its binaries under
 * /usr/lib/postgresql/N/bin): initdb into a temp folder, started on a free loopback port with its
 * socket in that folder, stopped and removed by `close`. Run as `postgres` when the tests run as
 * root (initdb refuses root). Made for tests: `fsync=off` (the cluster never outlives an OS crash),
 * everything else as a real server.
 */
export interface Postgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  url: string;
  port: number;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(name?: string): string;
  close(): void;
}

/** The newest installed PostgreSQL's bin folder, or undefined. */
export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

export const POSTGRES_MISSING =
  'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `apt-get install postgresql`, which scripts/setup.sh does';

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(POSTGRES_MISSING);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'facefleet-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`.trim());
    }
    return r.stdout;
  };
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    '-c shared_buffers=64MB',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let closed = false;
  return {
    url,
    port,
    createDatabase: (name) => createPostgresDatabase(url, name),
    close() {
      if (closed) return;
      closed = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A fresh database in the cluster at `clusterUrl` (the `postgresUrl` that the vitest global setup
 * provides); throws with the reason the cluster did not start when it did not.
 */
export function createPostgresDatabase(clusterUrl: string, name?: string): string {
  if (clusterUrl.startsWith('error:')) throw new Error(clusterUrl.slice('error:'.length));
  const bin = postgresBinDir();
  if (!bin) throw new Error(POSTGRES_MISSING);
  const db = name ?? `ff_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  const r = spawnSync(
    join(bin, 'psql'),
    ['-d', clusterUrl, '-q', '-c', `CREATE DATABASE "${db}"`],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`CREATE DATABASE ${db} failed: ${r.stderr}`.trim());
  const url = new URL(clusterUrl);
  url.pathname = `/${db}`;
  return url.toString();
}
let dbCounter = 0;

/**
 * A place for a fresh store of `kind`: a SQLite file in a new temp folder, or a new database in the
 * run's PostgreSQL cluster (`clusterUrl`, from `inject('postgresUrl')`). `cleanup` removes the
 * folder (databases go with the cluster at the end of the run).
 */
export function freshStoreLocation(
  kind: 'sqlite' | 'postgres',
  clusterUrl: string,
): { location: string; cleanup(): void } {
  if (kind === 'postgres') return { location: createPostgresDatabase(clusterUrl), cleanup() {} };
  const dir = mkdtempSync(join(tmpdir(), 'facefleet-store-'));
  return {
    location: join(dir, 'facefleet.db'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
