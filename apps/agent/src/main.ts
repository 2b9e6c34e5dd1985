#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createAgent } from './agent.js';
import { loadConfig, parseArgs, usage } from './config.js';
import { ConfigError } from './errors.js';
import { missingNodeFlags, scriptNodeFlags } from './node-flags.js';

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

const self = fileURLToPath(import.meta.url);
const pkg = JSON.parse(readFileSync(join(dirname(self), '../package.json'), 'utf8')) as {
  version: string;
};
const log = pino({ level: config.logLevel, base: { deviceId: config.deviceId } });
// The bundle's first line names the Node flags its memory figures assume; a launcher that drops
// them (`node dist/facefleet-agent.js`, a package-manager shim made before the build) still works
const missing = missingNodeFlags(scriptNodeFlags(self), process.execArgv);
if (missing.length > 0) {
  log.warn(
    { missing, execArgv: process.execArgv },
    'started without the Node flags the agent is tuned for: expect more memory use',
  );
}
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
