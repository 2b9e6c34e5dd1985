import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Test helpers that run things as a user would: the built control plane (`node dist/main.js`) on a
 * temp data dir and ephemeral ports, and the built `facefleet` binary as child processes.
 */
export const CLI_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const SERVER_MAIN = fileURLToPath(new URL('../../../control-plane/dist/main.js', import.meta.url));

export interface ControlPlane {
  url: string;
  mqttUrl: string;
  adminToken: string;
  dataDir: string;
  api(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<number | null>;
}

/** A free loopback port (for a server that must come back on the same port after a restart). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/**
 * Starts the control plane and resolves once it logged `ready` (with its ports). With `dataDir`
 * and ports given, a restart finds its database and comes back where clients left it; `stop` then
 * keeps the data.
 */
export function startControlPlane(
  options: { dataDir?: string; httpPort?: number; mqttPort?: number } = {},
): Promise<ControlPlane> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ff-cli-cp-'));
  const child = spawn(
    process.execPath,
    [
      SERVER_MAIN,
      '--data-dir',
      dataDir,
      '--http-port',
      String(options.httpPort ?? 0),
      '--mqtt-port',
      String(options.mqttPort ?? 0),
      '--mqtt-ws-port',
      'off',
      '--tick-ms',
      '100',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return new Promise((resolve, reject) => {
    let adminToken = '';
    const timer = setTimeout(
      () => reject(new Error('the control plane did not get ready')),
      30_000,
    );
    child.once('exit', (code) => reject(new Error(`the control plane exited early (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const token = /first admin API token.*: (ff_\S+)/.exec(line);
      if (token) adminToken = token[1]!;
      if (!line.includes('"msg":"ready"')) return;
      clearTimeout(timer);
      const { ports } = JSON.parse(line) as { ports: { http: number; mqtt: number } };
      const url = `http://127.0.0.1:${ports.http}`;
      resolve({
        url,
        mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
        adminToken,
        dataDir,
        api: (method, path, body) =>
          fetch(`${url}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${adminToken}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          }),
        async stop() {
          child.kill('SIGTERM');
          const code = await exited;
          if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
          return code;
        },
      });
    });
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `facefleet` process whose output is collected line by line. */
export interface RunningCli {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching `re`; rejects after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  const onLine = (into: string[]) => (line: string) => {
    into.push(line);
    for (const w of waiters) {
      if (w.re.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine(stdout));
  createInterface({ input: child.stderr! }).on('line', onLine(stderr));
  const exited = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return {
    child,
    stdout,
    stderr,
    exited,
    waitForLine(re, timeoutMs = 20_000) {
      const seen = [...stdout, ...stderr].find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.add(w);
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(
            new Error(
              `no line matching ${re} in ${timeoutMs} ms\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`,
            ),
          );
        }, timeoutMs);
        exited.then(() => {
          if (!waiters.has(w)) return;
          clearTimeout(timer);
          waiters.delete(w);
          reject(
            new Error(
              `exited without a line matching ${re}\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`,
            ),
          );
        });
        const original = w.resolve;
        w.resolve = (l) => {
          clearTimeout(timer);
          original(l);
        };
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs `facefleet ARGS` to the end. */
export async function runCliProcess(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<CliResult> {
  const p = startCli(args, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout.join('\n'), stderr: p.stderr.join('\n') };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
