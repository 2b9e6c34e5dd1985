#!/usr/bin/env node
import { openStore } from '@facefleet/store';
import pino from 'pino';
import { createApiTokens, ROLES, type Role } from './auth/api-tokens.js';
import { createSecrets, loadOrCreateKey } from './auth/secrets.js';
import { type Config, loadConfig, parseFlags } from './config.js';
import { ConfigError } from './errors.js';
import { createServer } from './server.js';

const USAGE = `usage: facefleet-server [serve] [--config FILE] [--data-dir DIR] [--store FILE|postgres://…]
                        [--http-host H] [--http-port N]
                        [--mqtt-host H] [--mqtt-port N|off] [--mqtt-ws-port N|off] [--broker mqtt://host:port]
                        [--tls-cert-file F --tls-key-file F] [--tls-client-ca-file F] [--http-tls true]
                        [--mqtt-tls-port N] [--mqtt-wss-port N]
                        [--broker-ca-file F] [--broker-cert-file F --broker-key-file F]
                        [--broker-password P] [--broker-admin none|dynsec] [--broker-admin-username U]
                        [--broker-admin-password P]
                        [--retention-raw-days N] [--retention-rollup-days N] [--log-level L] ...
       facefleet-server token create --role admin|operator|viewer [--name NAME] [--data-dir DIR] [--store …]
Every flag also reads from FACEFLEET_<FLAG> (FACEFLEET_DATA_DIR, FACEFLEET_HTTP_PORT, …).`;

async function tokenCreate(config: Config, argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv);
  const role = flags.get('role');
  if (!role || !(ROLES as readonly string[]).includes(role)) {
    process.stderr.write(`--role: must be one of ${ROLES.join(', ')}\n`);
    return 2;
  }
  // Inline: this short command has no ingest, so no writer thread.
  const store = await openStore(config.store, {
    synchronous: config.db.synchronous,
    writer: 'inline',
  });
  try {
    const { token } = await createApiTokens(
      store,
      createSecrets(loadOrCreateKey(config.auth.tokenKeyFile, 'token key')),
    ).create(role as Role, flags.get('name') ?? `${role} (cli)`);
    process.stdout.write(`${token}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { positional } = parseFlags(argv);
  let config: Config;
  try {
    config = loadConfig({ argv });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`facefleet-server: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const command = positional.join(' ');
  if (command === 'token create') return tokenCreate(config, argv);
  if (command !== '' && command !== 'serve') {
    process.stderr.write(
      `facefleet-server: unknown command ${JSON.stringify(command)}\n${USAGE}\n`,
    );
    return 2;
  }

  const log = pino({ level: config.logLevel, base: { app: 'facefleet-server' } });
  let server: Awaited<ReturnType<typeof createServer>>;
  try {
    server = await createServer({ config, log });
  } catch (err) {
    // files the configuration names that cannot be used (a TLS certificate, a broker CA)
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`facefleet-server: ${err.message}\n`);
    process.exit(2);
  }
  // One line tests and scripts can wait for.
  log.info({ ports: server.ports }, 'ready');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      server.close().then(resolve, (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // A renewed certificate: served from now on, on every TLS listener, with no session dropped.
    process.on('SIGHUP', () => {
      if (server.reloadTls('SIGHUP') === null) log.info('SIGHUP: no TLS listener to reload');
    });
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`facefleet-server: ${(err as Error).stack ?? String(err)}\n`);
    // A start that failed half-way (a port in use) can leave listeners and timers open that would
    // keep the process alive doing nothing: exit for real so supervisors see the failure.
    process.exit(1);
  },
);
