import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root, from apps/dashboard/src/e2e. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface ControlPlaneProcess {
  url: string;
  mqttUrl: string;
  admin: string;
  /** Calls the API with the admin token (or `token`). */
  api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T>;
  /** SIGTERM, then waits for the exit; its exit code. */
  stop(): Promise<number | null>;
  child: ChildProcess;
  log: string[];
}

/**
 * Starts the real control plane (`node apps/control-plane/dist/main.js`) on ephemeral loopback
 * ports with a temp data dir, serving the dashboard from `dashboardDir`. Resolves once it logged
 * `ready` (pino JSON) and announced the first admin token.
 */
export async function startControlPlane(dashboardDir: string): Promise<ControlPlaneProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-e2e-cp-'));
  const main = join(REPO, 'apps/control-plane/dist/main.js');
  const child = spawn(
    process.execPath,
    [
      main,
      '--data-dir',
      dataDir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--mqtt-ws-port',
      'off',
      '--tick-ms',
      '200',
      '--live-flush-ms',
      '100',
      '--dashboard-dir',
      dashboardDir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
  );
  const log: string[] = [];
  const ready = new Promise<{ http: number; mqtt: number; admin: string }>((resolve, reject) => {
    let admin = '';
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      log.push(line);
      const token = /first admin API token .*: (ff_\S+)/.exec(line)?.[1];
      if (token) admin = token;
      if (line.includes('"msg":"ready"')) {
        const ports = (JSON.parse(line) as { ports: { http: number; mqtt: number } }).ports;
        resolve({ http: ports.http, mqtt: ports.mqtt, admin });
      }
    });
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code) =>
      reject(new Error(`control plane exited with ${code} before ready:\n${log.join('\n')}`)),
    );
  });
  const { http, mqtt, admin } = await ready;
  if (!admin) throw new Error('control plane did not announce its first admin token');
  const url = `http://127.0.0.1:${http}`;
  return {
    url,
    mqttUrl: `mqtt://127.0.0.1:${mqtt}`,
    admin,
    child,
    log,
    async api<T>(method: string, path: string, body?: unknown, token = admin): Promise<T> {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) =>
        child.once('exit', (code) => resolve(code)),
      );
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
