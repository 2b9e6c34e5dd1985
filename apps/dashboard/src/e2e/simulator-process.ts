import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from './control-plane-process.js';

/** The built `facefleet` binary (apps/cli), run as an operator would run it. */
const CLI_MAIN = join(REPO, 'apps/cli/dist/main.js');

export interface SimulatorProcess {
  child: ChildProcess;
  /** Where the simulator keeps its device credentials and downloads (removed by `stop`). */
  dataDir: string;
  stdout: string[];
  stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching `re`; rejects after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (every device says offline and disconnects), then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the fleet simulator, `facefleet simulate ARGS --server URL --token T --data-dir TMP`, as a
 * child process: it enrolls its devices through the API and runs the agent's own code for each
 * (MQTT link, reconciler, engine download and verification, health gate, reported state) with a
 * synthetic detector. Started the way apps/cli's end-to-end tests start it
 * (apps/cli/src/test-support/processes.ts); that helper is not part of @facefleet/cli's exports.
 */
export function startSimulator(
  args: string[],
  login: { server: string; token: string },
): SimulatorProcess {
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-e2e-sim-'));
  const child = spawn(
    process.execPath,
    [
      CLI_MAIN,
      'simulate',
      ...args,
      '--data-dir',
      dataDir,
      '--server',
      login.server,
      '--token',
      login.token,
    ],
    {
      // HOME in the temp dir: nothing read from or written to the user's facefleet config
      env: { PATH: process.env.PATH ?? '', HOME: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
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
  const output = () => `\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`;
  return {
    child,
    dataDir,
    stdout,
    stderr,
    waitForLine(re, timeoutMs = 20_000) {
      const seen = [...stdout, ...stderr].find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`simulator: no line matching ${re} in ${timeoutMs} ms${output()}`));
        }, timeoutMs);
        const w = {
          re,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.add(w);
        void exited.then((code) => {
          if (!waiters.delete(w)) return;
          clearTimeout(timer);
          reject(new Error(`simulator exited (${code}) without a line matching ${re}${output()}`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
