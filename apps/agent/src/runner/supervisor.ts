import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import {
  parseRunnerLine,
  type RunnerCamera,
  type RunnerError,
  type RunnerFrame,
  type RunnerHello,
  type RunnerStats,
} from '@facefleet/protocol';
import type { Logger } from 'pino';
import { createLineSplitter } from './line-splitter.js';
import { openRunnerOutput } from './output-channel.js';

export type SupervisedState = 'starting' | 'running' | 'restarting' | 'crashloop' | 'stopped';

export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * True when the agent stopped the runner on purpose (restart, shutdown). A watchdog kill is not:
   * a hung runner counts as a failure (backoff, crash loop), so its exit says false.
   */
  requested: boolean;
  /** The runner's last `error` line before it exited, if any. */
  error: RunnerError | null;
  /** ms the process lived */
  uptimeMs: number;
}

export interface SupervisorSnapshot {
  state: SupervisedState;
  pid: number | null;
  restarts: number;
  crashLoop: boolean;
  invalidLines: number;
  lastExit: RunnerExit | null;
}

export interface RunnerSupervisorEvents {
  hello: [RunnerHello];
  frame: [RunnerFrame];
  stats: [RunnerStats];
  /** A camera changed state (the runner prints one per camera after hello, then at every change). */
  camera: [RunnerCamera];
  runnerError: [RunnerError];
  invalid: [string, string];
  spawn: [number];
  exit: [RunnerExit];
  state: [SupervisorSnapshot];
}

export interface RunnerSupervisorOptions {
  command: string;
  /** Called at every start, so a restart picks up a switched engine. */
  args: () => string[];
  log: Logger;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** crashLoopExits unexpected exits within crashLoopWindowS → crash loop (device degraded). */
  crashLoopExits: number;
  crashLoopWindowS: number;
  /**
   * No frame for this many seconds → restart. A runner whose stats lines say that none of its
   * cameras is online (all reconnecting, ended or failed) is waiting for its sources, not hung:
   * it reopens live sources itself, so the watchdog leaves it running. 0: off.
   */
  watchdogS: number;
  /** SIGTERM, then SIGKILL after this many ms. */
  stopGraceMs: number;
  /**
   * Runner lines that come faster than one per this many ms are read in batches of this long
   * (openRunnerOutput). Default 25: ~40 wakeups a second at 500 frames/s instead of 500, while a
   * 30 frames/s camera is read line by line. 0: every write is read as it arrives.
   */
  readBatchMs?: number;
  /** [0, 1) source for backoff jitter (tests pin it). */
  random?: () => number;
}

export interface RunnerSupervisor extends EventEmitter<RunnerSupervisorEvents> {
  start(): void;
  /** Stops the runner (SIGTERM, SIGKILL after the grace) and does not restart it. */
  stop(): Promise<void>;
  /** Stops the runner and starts it again at once (new engine), forgetting past crashes. */
  restart(reason: string): Promise<void>;
  snapshot(): SupervisorSnapshot;
}

/** A run that produced frames for this long resets the backoff. */
const STABLE_MS = 10_000;
/** Invalid lines are logged one by one up to this many, then every 1000th. */
const INVALID_LOG_LIMIT = 20;
/** The longest runner line (a hello with 4 KiB paths, a frame with 256 boxes are ~10 KiB). */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Spawns and supervises `facefleet-runner`: every stdout line is validated against the protocol's
 * runner line contract (`parseRunnerLine`: frame lines by its hand check, everything else and every
 * refusal by runnerLineSchema; invalid lines are counted and logged, never fatal), stderr goes to the log,
 * unexpected exits restart it with exponential backoff and jitter, N exits within T seconds flag a
 * crash loop, and a watchdog restarts a runner that stops producing frames. A runner that lost a
 * live camera reopens it in place (it used to exit 4 for that): it is left running, and says so in
 * its camera and stats lines.
 */
export function createRunnerSupervisor(options: RunnerSupervisorOptions): RunnerSupervisor {
  const { log } = options;
  const random = options.random ?? Math.random;
  const emitter = new EventEmitter<RunnerSupervisorEvents>();
  let child: ChildProcess | null = null;
  let state: SupervisedState = 'stopped';
  let wanted = false;
  let restarts = 0;
  let invalidLines = 0;
  let failures = 0; // consecutive unexpected exits, for the backoff
  let exitTimes: number[] = [];
  let crashLoop = false;
  let lastExit: RunnerExit | null = null;
  let restartTimer: NodeJS.Timeout | undefined;
  let watchdogTimer: NodeJS.Timeout | undefined;
  let stableTimer: NodeJS.Timeout | undefined;
  let lastFrameAt = 0;
  let stopRequested = false;
  let exitPromise: Promise<void> = Promise.resolve();
  /** A start in progress (opening the output socket, until spawn); stop and restart wait for it. */
  let spawning: Promise<void> | null = null;
  const readBatchMs = options.readBatchMs ?? 25;

  const snapshot = (): SupervisorSnapshot => ({
    state,
    pid: child?.pid ?? null,
    restarts,
    crashLoop,
    invalidLines,
    lastExit,
  });
  const setState = (s: SupervisedState) => {
    state = s;
    emitter.emit('state', snapshot());
  };

  function handleLine(text: string, lastError: { value: RunnerError | null }) {
    if (text.length === 0) return;
    const parsed = parseRunnerLine(text);
    if (!parsed.ok) return invalid(text, parsed.reason);
    const line = parsed.line;
    switch (line.type) {
      case 'frame':
        lastFrameAt = Date.now();
        if (state !== 'running') {
          setState('running');
          stableTimer ??= setTimeout(
            () => {
              failures = 0;
              if (crashLoop) {
                crashLoop = false;
                emitter.emit('state', snapshot());
              }
            },
            Math.max(STABLE_MS, options.crashLoopWindowS * 1000),
          );
        }
        emitter.emit('frame', line);
        break;
      case 'hello':
        lastFrameAt = Date.now(); // loaded: the watchdog counts from here
        emitter.emit('hello', line);
        break;
      case 'stats':
        // Alive, and no camera that could deliver: the runner is waiting for its sources.
        if (line.cameras?.every((c) => c.state !== 'online')) {
          lastFrameAt = Date.now();
        }
        emitter.emit('stats', line);
        break;
      case 'camera':
        emitter.emit('camera', line);
        break;
      case 'error':
        lastError.value = line;
        log.error({ code: line.code, message: line.message }, 'runner reported an error');
        emitter.emit('runnerError', line);
        break;
    }
  }

  function invalid(text: string, reason: string) {
    invalidLines += 1;
    if (invalidLines <= INVALID_LOG_LIMIT || invalidLines % 1000 === 0) {
      log.warn({ line: text.slice(0, 200), reason, invalidLines }, 'invalid runner line');
    }
    emitter.emit('invalid', text, reason);
  }

  function spawnRunner(): void {
    clearTimeout(restartTimer);
    restartTimer = undefined;
    setState('starting');
    const started = startRunner().catch((e: unknown) => {
      // no socket for its output (out of file descriptors?): as if the runner failed to start
      log.error({ err: (e as Error).message }, 'cannot open the runner output socket');
      lastExit = { code: -1, signal: null, requested: false, error: null, uptimeMs: 0 };
      onExit(lastExit);
    });
    spawning = started;
    void started.finally(() => {
      if (spawning === started) spawning = null;
    });
  }

  async function startRunner(): Promise<void> {
    const args = options.args();
    const lastError: { value: RunnerError | null } = { value: null };
    const out = createLineSplitter({
      onLine: (text) => handleLine(text, lastError),
      onTooLong: (bytes) => invalid('', `line of ${bytes} bytes is longer than ${MAX_LINE_BYTES}`),
      maxLineBytes: MAX_LINE_BYTES,
    });
    const output = await openRunnerOutput({ onData: (c) => out.push(c), batchMs: readBatchMs });
    if (!wanted) {
      output.destroy(); // stopped while the socket was being opened
      return;
    }
    const started = Date.now();
    lastFrameAt = started;
    stopRequested = false;
    let proc: ChildProcessByStdio<null, null, Readable>;
    try {
      proc = spawn(options.command, args, { stdio: ['ignore', output.writer, 'pipe'] });
    } finally {
      output.writer.destroy(); // the runner has its own copy; EOF comes when it closes that
    }
    child = proc;
    let resolveExit: () => void = () => {};
    exitPromise = new Promise((r) => {
      resolveExit = r;
    });
    const err = createLineSplitter({
      onLine: (text) => log.info({ runnerPid: proc.pid, stderr: text }, 'runner'),
      onTooLong: (bytes) =>
        log.warn({ runnerPid: proc.pid, bytes }, 'runner stderr line too long; dropped'),
      maxLineBytes: MAX_LINE_BYTES,
    });
    proc.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    proc.once('spawn', () => {
      log.info({ pid: proc.pid, command: options.command, args }, 'runner started');
      if (proc.pid) emitter.emit('spawn', proc.pid);
      emitter.emit('state', snapshot());
    });
    proc.once('error', (e) => {
      // spawn failure (missing binary): 'close' follows with code null/-2
      log.error({ err: e.message, command: options.command }, 'cannot start runner');
    });
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.once('close', (code, signal) => resolve([code, signal])),
    );
    // the exit is handled once the runner's last line is read, so its error line counts
    void Promise.all([closed, output.ended]).then(([[code, signal]]) => {
      clearTimeout(stableTimer);
      stableTimer = undefined;
      out.end();
      err.end();
      const exit: RunnerExit = {
        code: code ?? (signal ? null : -1),
        signal,
        requested: stopRequested,
        error: lastError.value,
        uptimeMs: Date.now() - started,
      };
      child = null;
      lastExit = exit;
      resolveExit();
      onExit(exit);
    });
  }

  function onExit(exit: RunnerExit) {
    emitter.emit('exit', exit);
    if (!wanted) {
      setState('stopped');
      return;
    }
    if (exit.requested) return; // restart() spawns the next one itself
    restarts += 1;
    const now = Date.now();
    const crashed = exit.code !== 0;
    if (crashed) {
      failures += 1;
      exitTimes = [...exitTimes.filter((t) => now - t < options.crashLoopWindowS * 1000), now];
      if (exitTimes.length >= options.crashLoopExits && !crashLoop) {
        crashLoop = true;
        log.error(
          { exits: exitTimes.length, windowS: options.crashLoopWindowS, lastExit: exit },
          'runner is crash-looping',
        );
      }
    }
    const base = crashed
      ? Math.min(options.backoffMaxMs, options.backoffInitialMs * 2 ** Math.max(0, failures - 1))
      : options.backoffInitialMs;
    // "equal jitter": half fixed, half random, so restarts of many devices spread out
    const delay = Math.round(base / 2 + (random() * base) / 2);
    log.warn(
      { code: exit.code, signal: exit.signal, delayMs: delay, restarts },
      'runner exited; restarting',
    );
    setState(crashLoop ? 'crashloop' : 'restarting');
    restartTimer = setTimeout(spawnRunner, delay);
  }

  async function terminate(): Promise<void> {
    if (spawning) await spawning;
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return exitPromise;
    stopRequested = true;
    proc.kill('SIGTERM');
    const kill = setTimeout(() => {
      log.warn({ pid: proc.pid, graceMs: options.stopGraceMs }, 'runner ignored SIGTERM; SIGKILL');
      proc.kill('SIGKILL');
    }, options.stopGraceMs);
    await exitPromise;
    clearTimeout(kill);
  }

  function startWatchdog() {
    if (options.watchdogS <= 0 || watchdogTimer) return;
    const limitMs = options.watchdogS * 1000;
    watchdogTimer = setInterval(
      () => {
        if (!child || !wanted || stopRequested) return;
        if (Date.now() - lastFrameAt > limitMs) {
          log.error(
            { pid: child.pid, watchdogS: options.watchdogS },
            'no frame from the runner; restarting it',
          );
          // counted as a failure: a hung runner is as broken as a crashed one
          stopRequested = false;
          child.kill('SIGTERM');
          const proc = child;
          setTimeout(
            () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'),
            options.stopGraceMs,
          ).unref();
          lastFrameAt = Date.now();
        }
      },
      Math.max(50, Math.min(1000, limitMs / 4)),
    );
  }

  return Object.assign(emitter, {
    start() {
      if (wanted) return;
      wanted = true;
      startWatchdog();
      spawnRunner();
    },
    async stop() {
      wanted = false;
      clearTimeout(restartTimer);
      clearInterval(watchdogTimer);
      watchdogTimer = undefined;
      await terminate();
      setState('stopped');
    },
    async restart(reason: string) {
      log.info({ reason }, 'restarting runner');
      clearTimeout(restartTimer);
      wanted = true;
      await terminate();
      failures = 0;
      exitTimes = [];
      crashLoop = false;
      restarts += 1;
      startWatchdog();
      spawnRunner();
    },
    snapshot,
  }) as RunnerSupervisor;
}
