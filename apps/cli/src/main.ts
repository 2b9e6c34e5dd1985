#!/usr/bin/env node
import { cliEnv } from './cli-config.js';
import type { CliContext } from './command.js';
import { commands } from './commands/index.js';
import { runCli } from './run-cli.js';

/**
 * The `facefleet` binary: the real process's streams, environment and fetch, and a signal that
 * SIGINT/SIGTERM abort so long-running commands (tail, watch, simulate) end cleanly. A second signal
 * exits at once.
 */
const controller = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const ctx: CliContext = {
  env: cliEnv(process.env),
  stdout: process.stdout,
  stderr: process.stderr,
  fetch: globalThis.fetch,
  now: Date.now,
  signal: controller.signal,
};

runCli(process.argv.slice(2), ctx, commands).then(
  (code) => {
    process.exitCode = code;
    // Nothing should be left running; a stray handle must not keep the CLI alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`facefleet: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
