#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createAgent } from './agent.js';
import { loadConfig, parseArgs, usage } from './config.js';
import { ConfigError } from './errors.js';

const argv = process.argv.slice(2);
if (parseArgs(argv).help) {
  console.log(usage());
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ argv, env: process.env });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`facefleet-agent: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

const pkg = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../package.json'), 'utf8'),
) as {
  version: string;
};
const log = pino({ level: config.logLevel, base: { deviceId: config.deviceId } });
const agent = createAgent({ config, log, version: pkg.version });
agent.start();

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  agent.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err: (err as Error).message }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
