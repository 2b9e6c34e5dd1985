import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query, type StoreKind } from '@facefleet/store/testing';
import { createPostgresDatabase, createTestPki } from '@facefleet/test-support';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig } from './config.js';
import { createServer, type RunningServer } from './server.js';

/**
 * Test helpers: a whole control plane in-process (real SQLite file in a temp dir, real aedes on
 * ephemeral loopback ports), real MQTT clients, and message builders shaped by the protocol's own
 * examples. Used by the *.test.ts files; not part of the server.
 */

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  /** Its store's location (to start another server on the same data). */
  store: string;
  /** Reads (or, to stage a fault, changes) its database with plain SQL, `?` placeholders. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  admin: string;
  api(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  enroll(id: string, deviceClass?: string, tags?: string[]): Promise<string>;
  token(role: 'viewer' | 'operator' | 'admin'): Promise<string>;
  mqttUrl: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  dataDir?: string;
  /**
   * `sqlite` (default): a file in the data dir; `postgres`: a fresh database in the test run's
   * PostgreSQL cluster; or a store location to reuse (a restart on the same data).
   */
  store?: StoreKind | string;
}

/** The location `startTestServer` uses for a store kind (a new PostgreSQL database each call). */
export function testStoreLocation(store: StoreKind | string, dataDir: string): string {
  if (store === 'sqlite') return join(dataDir, 'facefleet.db');
  if (store === 'postgres') return createPostgresDatabase(inject('postgresUrl'));
  return store;
}

export async function startTestServer(
  flags: string[] = [],
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'facefleet-cp-'));
  const store = testStoreLocation(options.store ?? 'sqlite', dataDir);
  const config = loadConfig({
    argv: [
      '--data-dir',
      dataDir,
      '--store',
      store,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--mqtt-ws-port',
      '0',
      '--tick-ms',
      '100',
      ...flags,
    ],
    env: {},
  });
  const server = await createServer({ config, log: pino({ level: 'silent' }), announce: () => {} });
  const admin = server.firstAdminToken ?? '';
  const api: TestServer['api'] = (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? admin : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Uint8Array | undefined;
    if (options.body !== undefined) {
      if (typeof options.body === 'string' || options.body instanceof Uint8Array) {
        body = options.body;
      } else {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
    }
    return Promise.resolve(server.app.request(path, { method, headers, body: body as never }));
  };
  return {
    server,
    dataDir,
    store,
    admin,
    api,
    sql: (text, params) => query(server.store, text, params),
    mqttUrl: `mqtt://127.0.0.1:${server.ports.mqtt}`,
    async enroll(id, deviceClass = 'jetson-xavier-nx', tags = []) {
      const res = await api('POST', '/api/v1/devices', { body: { id, deviceClass, tags } });
      if (res.status !== 201) throw new Error(`enroll ${id}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
    async token(role) {
      const res = await api('POST', '/api/v1/tokens', { body: { role, name: `${role} test` } });
      return ((await res.json()) as { token: string }).token;
    },
    async close() {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Connects an MQTT client; rejects with the CONNACK error when the login is refused. */
export function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

/** The SUBACK code for one filter: the granted QoS, or 128 when refused. */
export async function grant(c: MqttClient, filter: string): Promise<number> {
  try {
    const [g] = await c.subscribeAsync(filter, { qos: 1 });
    return g!.qos;
  } catch (err) {
    return (err as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1;
  }
}

/** Polls until a condition holds: the harness's, shared by every package's tests. */
import { waitFor } from '@facefleet/test-support';

export { facesMessage, metricsMessage, reportedMessage, statusMessage } from '@facefleet/protocol';
export { waitFor };

/** A free TCP port on loopback (for programs that cannot be told to pick one themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface TestMosquitto {
  /** The devices' and subscribers' plaintext listener on loopback (a login's client id is its username). */
  url: string;
  /** The devices' TLS listener as shipped (`mqtts://127.0.0.1:PORT`) and the CA its certificate chains to. */
  tlsUrl: string;
  caFile: string;
  /** The control plane's and the dynamic-security admin's listener. */
  controlPlaneUrl: string;
  /** The dynamic-security admin login (`mosquitto_ctrl dynsec init`). */
  admin: { username: string; password: string };
  /** Stops mosquitto (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** infra/brokers/mosquitto/mosquitto.conf, the configuration shipped for an external broker. */
export const SHIPPED_MOSQUITTO_CONF = fileURLToPath(
  new URL('../../../infra/brokers/mosquitto/mosquitto.conf', import.meta.url),
);

/**
 * Debian's mosquitto with the configuration shipped in infra/ (the dynamic-security plugin),
 * rewritten only where a test must differ: an ephemeral loopback port and files in `dir`. The
 * plugin's file is made the documented way: `mosquitto_ctrl dynsec init FILE admin PASSWORD`.
 */
export async function startDynsecMosquitto(dir: string): Promise<TestMosquitto> {
  const admin = { username: 'admin', password: 'admin-secret' };
  const port = await freePort();
  const tlsPort = await freePort();
  // the TLS listener as shipped, with a certificate openssl makes now (a fleet CA's)
  const pki = createTestPki(join(dir, 'tls'));
  const ca = pki.ca('fleet-ca');
  const server = ca.issue('mosquitto', { kind: 'server' });
  pki.makeReadable();
  const cpPort = await freePort();
  const dynsecFile = join(dir, 'dynamic-security.json');
  execFileSync('mosquitto_ctrl', ['dynsec', 'init', dynsecFile, admin.username, admin.password], {
    stdio: 'ignore',
  });
  const rewrites: [RegExp, string][] = [
    [/^listener 8883$/, `listener ${tlsPort} 127.0.0.1`],
    [/^cafile .*/, `cafile ${ca.certFile}`],
    [/^certfile .*/, `certfile ${server.certFile}`],
    [/^keyfile .*/, `keyfile ${server.keyFile}`],
    [/^listener 1883 127\.0\.0\.1$/, `listener ${port} 127.0.0.1`],
    [/^listener 1884 127\.0\.0\.1$/, `listener ${cpPort} 127.0.0.1`],
    [/^plugin_opt_config_file .*/, `plugin_opt_config_file ${dynsecFile}`],
    [/^persistence_location .*/, `persistence_location ${dir}/`],
    [/^log_type (notice|warning)$/, ''],
  ];
  const shipped = readFileSync(SHIPPED_MOSQUITTO_CONF, 'utf8').split('\n');
  for (const [pattern] of rewrites.slice(0, 6)) {
    if (!shipped.some((line) => pattern.test(line))) {
      throw new Error(`${SHIPPED_MOSQUITTO_CONF} has no line matching ${pattern}`);
    }
  }
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    shipped
      .map((line) => rewrites.reduce((l, [pattern, to]) => (pattern.test(l) ? to : l), line))
      .join('\n'),
  );
  // Started as root, mosquitto drops to its own user, which must still rewrite the plugin's file.
  chmodSync(dir, 0o777);
  chmodSync(dynsecFile, 0o666);
  chmodSync(conf, 0o644);
  const child: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `mqtt://127.0.0.1:${port}`;
  const tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
  try {
    await waitFor(
      () =>
        child.exitCode === null &&
        connectClient(url, { ...admin, clientId: 'probe' }).then(
          (c) => {
            c.end(true);
            return true;
          },
          () => false,
        ),
      15_000,
      'mosquitto to accept connections',
    );
  } catch (err) {
    child.kill('SIGTERM');
    throw new Error(`${(err as Error).message}; mosquitto said:\n${stderr}`);
  }
  return {
    url,
    tlsUrl,
    caFile: ca.certFile,
    controlPlaneUrl: `mqtt://127.0.0.1:${cpPort}`,
    admin,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
