import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';

/** util-linux's setpriv (essential on Debian): sets PR_SET_PDEATHSIG, then execs the program. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export interface TiedChildren {
  /** node:child_process `spawn`, for a child that ends with this process. */
  spawn(cmd: string, args: string[], options: SpawnOptions): ChildProcess;
  /** SIGTERM to every child still running; resolves once all have exited (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /**
   * Runs `main`. When it fails because a signal is stopping the children under it, it waits for the
   * exit that signal brings (not exit 1 for a load generator that "printed no result"); when it
   * fails for its own reasons, the children are stopped before the error goes on.
   */
  run(main: () => Promise<void>): Promise<void>;
}

/**
 * Child processes that do not outlive this one (a benchmark's broker, load generator, server):
 * - each is started through `setpriv --pdeathsig TERM`, so the kernel sends it SIGTERM when this
 *   process ends in any way, `kill -9` included (Node has no prctl of its own);
 * - SIGINT, SIGTERM and SIGHUP stop them all, then this process exits with 128 + the signal's
 *   number, as the default action would have.
 * Without setpriv the signal handlers still stop them; only a `kill -9` could then orphan them.
 * The kernel clears the parent-death signal when a child changes its user (mosquitto started as
 * root does, unless its config says `user <the current user>`).
 */
export function tiedChildren(name: string): TiedChildren {
  const running = new Set<ChildProcess>();
  let stopping: NodeJS.Signals | null = null;
  const group: TiedChildren = {
    spawn(cmd, args, options) {
      const child = SETPRIV
        ? spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', cmd, ...args], options)
        : spawn(cmd, args, options);
      running.add(child);
      child.once('exit', () => running.delete(child));
      return child;
    },
    async stop(graceMs = 5000) {
      const left = [...running];
      const exits = left.map((c) => new Promise((r) => c.once('exit', r)));
      for (const c of left) c.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const c of running) c.kill('SIGKILL');
      }, graceMs);
      await Promise.all(exits);
      clearTimeout(timer);
    },
    async run(main) {
      try {
        await main();
      } catch (err) {
        if (stopping) return new Promise<void>(() => {}); // the signal's handler exits
        await group.stop();
        throw err;
      }
    },
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopping = signal;
      console.error(`${name}: ${signal}: stopping ${running.size} child process(es)`);
      void group.stop().then(() => process.exit(128 + constants.signals[signal]));
    });
  }
  return group;
}
