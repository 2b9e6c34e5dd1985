import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcessOptions {
  /** A short name for error messages: `control-plane`, `agent cam-1`. Default: the command. */
  name?: string;
  /**
   * The child's whole environment besides PATH: nothing else is inherited, so a developer's own
   * FACEFLEET_* variables never leak into a test.
   */
  env?: Record<string, string>;
  cwd?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WaitForLineOptions {
  /** Default 20 s. */
  timeoutMs?: number;
  /** Only lines from this index of `lines` on (take it from `lines.length` before acting). */
  since?: number;
}

/** A child process whose stdout and stderr are collected line by line. */
export interface RunningProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  stdout: string[];
  stderr: string[];
  /** Lines of both streams in arrival order. */
  lines: string[];
  /** Resolves when the process has exited and its streams are closed. */
  exited: Promise<ExitStatus>;
  readonly running: boolean;
  /**
   * Resolves with the first line (stdout or stderr) matching `re`, including lines already seen;
   * rejects after the timeout or when the process exits first, with the output's tail.
   */
  waitForLine(re: RegExp, options?: number | WaitForLineOptions): Promise<string>;
  /**
   * SIGTERM, then the exit code (null when a signal ended it). A process still running after
   * `timeoutMs` (default 20 s) is killed with SIGKILL and the promise rejects: not exiting on
   * SIGTERM is a bug the test should see.
   */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Calls `listener` with every line from now on. */
  onLine(listener: (line: string, stream: 'stdout' | 'stderr') => void): void;
  /** The last `n` output lines, for messages. */
  tail(n?: number): string;
}

/**
 * Every child still running. A test that fails half-way may never reach its cleanup; these are
 * killed when the test worker exits, so no runner is left eating the CI machine's two cores.
 * (Module state on purpose: the exit hook has nowhere else to find them.)
 */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Starts `command args` with piped output collected line by line. */
export function startProcess(
  command: string,
  args: string[],
  options: ProcessOptions = {},
): RunningProcess {
  const name = options.name ?? command;
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  track(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines: string[] = [];
  const waiters = new Set<{ re: RegExp; since: number; done: (line: string) => void }>();
  const listeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  const onLine = (stream: 'stdout' | 'stderr') => (line: string) => {
    (stream === 'stdout' ? stdout : stderr).push(line);
    lines.push(line);
    const index = lines.length - 1;
    for (const l of listeners) l(line, stream);
    for (const w of waiters) if (index >= w.since && w.re.test(line)) w.done(line);
  };
  createInterface({ input: child.stdout! }).on('line', onLine('stdout'));
  createInterface({ input: child.stderr! }).on('line', onLine('stderr'));
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', reject); // the command could not be started at all
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // A spawn failure rejects `exited`; it is reported where it is awaited, not as unhandled here.
  exited.catch(() => {});
  let status: ExitStatus | undefined;
  exited.then((s) => {
    status = s;
  });
  const tail = (n = 40) => lines.slice(-n).join('\n');

  const proc: RunningProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    stdout,
    stderr,
    lines,
    exited,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    waitForLine(re, options = {}) {
      const o = typeof options === 'number' ? { timeoutMs: options } : options;
      const timeoutMs = o.timeoutMs ?? 20_000;
      const since = o.since ?? 0;
      const seen = lines.slice(since).find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          re,
          since,
          done: (line: string) => {
            finish();
            resolve(line);
          },
        };
        const fail = (why: string) => {
          finish();
          reject(new Error(`${name}: ${why} a line matching ${re}; its output:\n${tail()}`));
        };
        const timer = setTimeout(() => fail(`no ${timeoutMs} ms after, still no`), timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(w);
        };
        waiters.add(w);
        exited.then(
          (s) => {
            if (waiters.has(w)) fail(`exited (${s.signal ?? s.code}) without`);
          },
          () => {
            if (waiters.has(w)) fail('could not be started, so no');
          },
        );
      });
    },
    async stop(timeoutMs = 20_000) {
      if (status) return status.code;
      if (proc.running) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const r = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (r === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(
          `${name} did not exit within ${timeoutMs} ms of SIGTERM (killed); its output:\n${tail()}`,
        );
      }
      return r.code;
    },
    async kill(signal = 'SIGKILL') {
      if (proc.running) child.kill(signal);
      return exited;
    },
    onLine(listener) {
      listeners.push(listener);
    },
    tail,
  };
  return proc;
}
