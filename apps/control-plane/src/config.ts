import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fieldIssues, HA_DEFAULT_PREFIX, haPrefixProblem } from '@facefleet/protocol';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The one place that reads process.env. Sources, later ones winning:
 * defaults < config file (JSON; `--config` or FACEFLEET_CONFIG) < FACEFLEET_* environment < flags.
 */

const port = z.int().min(0).max(65535);
const positiveInt = z.int().positive();

export const configSchema = z.strictObject({
  /** Where the database, the engine store and the fleet signing key live. */
  dataDir: z.string().min(1).default('./.data'),
  /**
   * The database: a SQLite file (default: <dataDir>/facefleet.db, the embedded single process) or
   * a PostgreSQL URL (`postgres://user:password@host:5432/facefleet`), which several stateless
   * instances can share.
   */
  store: z
    .string()
    .min(1)
    .refine(
      (s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^postgres(ql)?:\/\/[^\s]+$/.test(s),
      'must be a SQLite file path or a postgres:// URL',
    )
    .nullable()
    .default(null),
  /**
   * This instance's stable name among several sharing one PostgreSQL store: its lease holder name
   * and the base of its MQTT client ids (its persistent sessions on the external broker). Default:
   * `embedded` with SQLite, the host name with PostgreSQL. Restart an instance under the same id.
   */
  instanceId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 characters of A-Z a-z 0-9 . _ -')
    .nullable()
    .default(null),
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(8080),
      /**
       * Largest request body the API reads (JSON and the like; engine uploads have their own
       * limit, engines.maxBytes). Room for a rollout naming 100,000 devices by id.
       */
      maxBodyBytes: positiveInt.default(8 * 1024 * 1024),
      /** How long a dashboard sign-in lasts, in seconds. */
      sessionTtlS: positiveInt.max(30 * 86_400).default(12 * 3600),
      /**
       * The key that signs dashboard session cookies (made on first start). Instances sharing a
       * store must share it too. Default: <dataDir>/session-key.
       */
      sessionKeyFile: z.string().min(1).nullable().default(null),
      /**
       * The dashboard's built files (apps/dashboard/dist). Default: beside this app in the
       * repository (apps/control-plane/dist → ../../dashboard/dist).
       */
      dashboardDir: z.string().min(1).nullable().default(null),
      /** Serve the API and the dashboard over HTTPS with the certificate of `tls`. */
      tls: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * The control plane's own certificate and key (PEM files), which every TLS listener serves: the
   * API over HTTPS (`http.tls`), MQTT over TLS (`mqtt.tlsPort`) and over secure WebSocket
   * (`mqtt.wssPort`). Re-read on SIGHUP and when the files change; sessions stay connected.
   */
  tls: z
    .strictObject({
      certFile: z.string().min(1).nullable().default(null),
      keyFile: z.string().min(1).nullable().default(null),
      /**
       * The fleet CA (PEM) whose device certificates may log in to the TLS listeners instead of a
       * token; null: no client certificate is asked for.
       */
      clientCaFile: z.string().min(1).nullable().default(null),
      /** How often the files are checked for a change (ms); SIGHUP reloads them at once. */
      watchMs: positiveInt.min(100).max(3_600_000).default(5000),
    })
    .prefault({}),
  live: z
    .strictObject({
      /** Live events are sent to browsers in batches at most this often (ms). */
      flushMs: positiveInt.max(10_000).default(250),
      /** An idle event stream gets a heartbeat, and its credentials are re-checked, this often (ms). */
      heartbeatMs: positiveInt.max(300_000).default(15_000),
      /**
       * A stream's credentials are checked again before it sends anything once the last check is
       * this old (ms), busy or not: a revoked token or ended session stops receiving within it.
       */
      recheckMs: positiveInt.max(60_000).default(1000),
      /** Event streams one API token (and the sessions it signed in) may hold open at once. */
      maxStreamsPerToken: positiveInt.max(10_000).default(8),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      /** Plain MQTT; null disables it (a fleet on TLS only). */
      port: port.nullable().default(1883),
      /** MQTT over WebSocket; null disables it. */
      wsPort: port.nullable().default(8083),
      /** MQTT over TLS (mqtts://, usually 8883) with the certificate of `tls`; null: none. */
      tlsPort: port.nullable().default(null),
      /** MQTT over secure WebSocket (wss://) with the certificate of `tls`; null: none. */
      wssPort: port.nullable().default(null),
      /**
       * Web origins (`https://dashboard.example:443` as a browser sends it) whose pages may open
       * MQTT over WebSocket. Upgrades without an Origin (devices, programs) are not affected;
       * browsers' are refused unless listed.
       */
      wsAllowedOrigins: z
        .array(z.string().regex(/^https?:\/\/[^\s/]+$/, 'must look like https://host:port'))
        .max(100)
        .default([]),
      /** External broker URL (`mqtt://host:port`); when set, no broker is embedded. */
      broker: z
        .string()
        .regex(/^mqtts?:\/\/[^\s/]+(:\d+)?\/?$/, 'must look like mqtt://host:port')
        .nullable()
        .default(null),
      /** The CA (PEM) an external `mqtts://` broker's certificate is checked against (default: the system's). */
      brokerCaFile: z.string().min(1).nullable().default(null),
      /** A client certificate and key (PEM) the control plane presents to an external broker. */
      brokerCertFile: z.string().min(1).nullable().default(null),
      brokerKeyFile: z.string().min(1).nullable().default(null),
      /**
       * Password of the `control-plane` login on an external broker. With `brokerAdmin: dynsec`
       * the control plane sets it on the broker itself; left out, it sets a fresh random one at
       * every start.
       */
      brokerPassword: z.string().nullable().default(null),
      /**
       * Who keeps the external broker's logins: `none`, an operator (Mosquitto's password file,
       * see infra/brokers/mosquitto); `dynsec`, the control plane, through Mosquitto's dynamic
       * security plugin: it creates a login when a device is enrolled or its token rotated and
       * subscriber credentials are made, and deletes it when they are deleted or revoked.
       */
      brokerAdmin: z.enum(['none', 'dynsec']).default('none'),
      /** The dynamic-security admin login (`mosquitto_ctrl dynsec init FILE USERNAME`). */
      brokerAdminUsername: z.string().min(1).default('admin'),
      brokerAdminPassword: z.string().min(1).nullable().default(null),
      /**
       * Messages per second one login (a device, a subscriber) may publish over all its sessions
       * together (a token bucket; excess is delayed).
       */
      ratePerSec: z.number().positive().default(100),
      /** Burst size of that bucket. */
      rateBurst: positiveInt.default(500),
      /**
       * A client announcing a longer MQTT packet is disconnected before it is read (the embedded
       * broker). Payloads over the protocol's 64 KiB but under this are read, counted as too_large
       * and dropped; this cap keeps one client from making the server buffer up to 256 MiB.
       */
      maxPacketBytes: positiveInt.min(256 * 1024).default(1024 * 1024),
      /**
       * MQTT sessions one device may hold at once (the embedded broker): its agent, and room for
       * a second while the broker has not yet noticed the first one's connection drop.
       */
      maxSessionsPerDevice: positiveInt.max(1000).default(2),
      /** MQTT sessions one read-only subscriber login may hold at once (the embedded broker). */
      maxSessionsPerSubscriber: positiveInt.max(10_000).default(16),
      /** Disconnect a subscriber whose socket does not drain within this many ms. */
      drainTimeoutMs: positiveInt.default(10_000),
      /**
       * External broker: this instance's ingest sessions on the shared subscription (each has one
       * message in flight until its batch commits; more sessions, bigger batches).
       */
      ingestSessions: positiveInt.max(512).default(64),
      /** External broker: the shared-subscription group every instance joins. */
      shareGroup: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -')
        .default('facefleet'),
    })
    .superRefine((mqtt, ctx) => {
      if (mqtt.brokerAdmin !== 'dynsec') return;
      if (mqtt.broker === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['brokerAdmin'],
          message: 'dynsec manages an external broker: set mqtt.broker (--broker) too',
        });
      }
      if (mqtt.brokerAdminPassword === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['brokerAdminPassword'],
          message:
            'required with brokerAdmin dynsec (--broker-admin-password or FACEFLEET_BROKER_ADMIN_PASSWORD)',
        });
      }
    })
    .prefault({}),
  auth: z
    .strictObject({
      /**
       * The key of the keyed hash under which device tokens, API tokens and subscriber passwords
       * are stored (auth/secrets.ts), made on first start. Instances sharing a store must share
       * it too. Default: <dataDir>/token-key.
       */
      tokenKeyFile: z.string().min(1).nullable().default(null),
      /**
       * Failed logins (MQTT and API) one client address may make within `failedLoginWindowMs`;
       * past that, its logins are refused unchecked until the oldest failure is that old.
       */
      maxFailedLogins: positiveInt.max(100_000).default(30),
      failedLoginWindowMs: positiveInt.max(3_600_000).default(60_000),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** Commit a batch at most this many ms after its first message. */
      batchMs: positiveInt.max(10_000).default(25),
      /** …or as soon as it holds this many rows (a batch waits while the one before commits). */
      batchRows: positiveInt.max(100_000).default(2000),
      /**
       * `worker`: batches are written by a writer thread with its own connection, so commits and
       * WAL checkpoints never stall the MQTT clients and the API; `inline`: on the main thread.
       */
      writer: z.enum(['worker', 'inline']).default('worker'),
      /**
       * The secret that signs device messages forwarded over HTTP (`POST /api/v1/ingest`, for a
       * broker's rule engine or webhook); HTTP ingest is off without it. At least 32 characters.
       */
      httpSecret: z.string().min(32, 'must be at least 32 characters').nullable().default(null),
    })
    .prefault({}),
  homeAssistant: z
    .strictObject({
      /**
       * Home Assistant MQTT discovery: retained configs for every device (faces, FPS, inference
       * FPS, temperature, online; per camera faces, FPS and online on a device with several)
       * below the prefix, so Home Assistant on the same broker shows the fleet with no
       * configuration. `off` publishes nothing and keeps the prefix out of the ACL.
       */
      discovery: z.enum(['on', 'off']).default('on'),
      /** Home Assistant's discovery prefix (its MQTT integration's setting). */
      prefix: z
        .string()
        .superRefine((prefix, ctx) => {
          const problem = haPrefixProblem(prefix);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .default(HA_DEFAULT_PREFIX),
    })
    .prefault({}),
  db: z
    .strictObject({
      /**
       * `normal` under WAL: a committed transaction is in the WAL file when commit returns, so it
       * survives the process being killed (kill -9); only an OS crash or power loss can lose the
       * last transactions. `full` also fsyncs the WAL at every commit (survives power loss).
       */
      synchronous: z.enum(['normal', 'full']).default('normal'),
      /** PostgreSQL: connections in this instance's pool. */
      poolSize: positiveInt.max(1000).default(10),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      /**
       * Hosts (names or IP addresses) alert webhooks may reach although they are internal
       * (loopback, private, link-local): an in-house Node-RED, say. Others are refused, at the
       * rule and again at each delivery against what the name resolves to then.
       */
      webhookAllowHosts: z.array(z.string().min(1).max(253).toLowerCase()).max(100).default([]),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Raw face windows and metrics are kept this many days… */
      rawDays: z.number().positive().default(7),
      /** …and their 1-minute rollups this many. */
      rollupDays: z.number().positive().default(90),
    })
    .prefault({}),
  engines: z
    .strictObject({
      /** The largest engine file an upload may be. */
      maxBytes: positiveInt.default(1024 * 1024 * 1024),
      /**
       * All engine files together (a file shared by several engines counted once): past it,
       * uploads are refused until engines no longer used are deleted (DELETE /api/v1/engines/ID).
       */
      quotaBytes: positiveInt.default(16 * 1024 * 1024 * 1024),
      /**
       * Where engine files are kept, by sha256. Instances sharing a store must share this folder
       * (a network file system). Default: <dataDir>/engines.
       */
      dir: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
  /** Fleet Ed25519 signing key (PKCS#8 PEM); generated on first start. Default: <dataDir>/fleet-key.pem */
  keyFile: z.string().min(1).nullable().default(null),
  /** How often alert rules about silence (offline, no faces) and rollout holds are evaluated. */
  tickMs: positiveInt.default(1000),
  /**
   * The leader lease: singleton work (rollouts, alerts, retention) moves to another instance this
   * long after its leader stops renewing (killed, or cut off from the database).
   */
  leaseMs: positiveInt.min(500).max(600_000).default(5000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema> & {
  keyFile: string;
  store: string;
  instanceId: string;
  http: { dashboardDir: string; sessionKeyFile: string };
  auth: { tokenKeyFile: string };
  engines: { dir: string };
};
export type ConfigInput = z.input<typeof configSchema>;

/** Flags and environment variables, each mapped to a dotted config path and a value kind. */
type SettingKind = 'string' | 'number' | 'nullable-number' | 'boolean' | 'list';
const SETTINGS: Record<string, { path: string; kind: SettingKind }> = {
  'data-dir': { path: 'dataDir', kind: 'string' },
  store: { path: 'store', kind: 'string' },
  'instance-id': { path: 'instanceId', kind: 'string' },
  'session-key-file': { path: 'http.sessionKeyFile', kind: 'string' },
  'engines-dir': { path: 'engines.dir', kind: 'string' },
  'ingest-sessions': { path: 'mqtt.ingestSessions', kind: 'number' },
  'share-group': { path: 'mqtt.shareGroup', kind: 'string' },
  'lease-ms': { path: 'leaseMs', kind: 'number' },
  'db-pool-size': { path: 'db.poolSize', kind: 'number' },
  'http-host': { path: 'http.host', kind: 'string' },
  'http-port': { path: 'http.port', kind: 'number' },
  'session-ttl-s': { path: 'http.sessionTtlS', kind: 'number' },
  'http-max-body-bytes': { path: 'http.maxBodyBytes', kind: 'number' },
  'dashboard-dir': { path: 'http.dashboardDir', kind: 'string' },
  'live-flush-ms': { path: 'live.flushMs', kind: 'number' },
  'live-heartbeat-ms': { path: 'live.heartbeatMs', kind: 'number' },
  'live-recheck-ms': { path: 'live.recheckMs', kind: 'number' },
  'live-max-streams-per-token': { path: 'live.maxStreamsPerToken', kind: 'number' },
  'mqtt-host': { path: 'mqtt.host', kind: 'string' },
  'mqtt-port': { path: 'mqtt.port', kind: 'nullable-number' },
  'mqtt-ws-port': { path: 'mqtt.wsPort', kind: 'nullable-number' },
  'mqtt-ws-allowed-origins': { path: 'mqtt.wsAllowedOrigins', kind: 'list' },
  broker: { path: 'mqtt.broker', kind: 'string' },
  'broker-password': { path: 'mqtt.brokerPassword', kind: 'string' },
  'broker-admin': { path: 'mqtt.brokerAdmin', kind: 'string' },
  'broker-admin-username': { path: 'mqtt.brokerAdminUsername', kind: 'string' },
  'broker-admin-password': { path: 'mqtt.brokerAdminPassword', kind: 'string' },
  'broker-ca-file': { path: 'mqtt.brokerCaFile', kind: 'string' },
  'broker-cert-file': { path: 'mqtt.brokerCertFile', kind: 'string' },
  'broker-key-file': { path: 'mqtt.brokerKeyFile', kind: 'string' },
  'mqtt-tls-port': { path: 'mqtt.tlsPort', kind: 'nullable-number' },
  'mqtt-wss-port': { path: 'mqtt.wssPort', kind: 'nullable-number' },
  'http-tls': { path: 'http.tls', kind: 'boolean' },
  'tls-cert-file': { path: 'tls.certFile', kind: 'string' },
  'tls-key-file': { path: 'tls.keyFile', kind: 'string' },
  'tls-client-ca-file': { path: 'tls.clientCaFile', kind: 'string' },
  'tls-watch-ms': { path: 'tls.watchMs', kind: 'number' },
  'mqtt-max-packet-bytes': { path: 'mqtt.maxPacketBytes', kind: 'number' },
  'rate-per-sec': { path: 'mqtt.ratePerSec', kind: 'number' },
  'rate-burst': { path: 'mqtt.rateBurst', kind: 'number' },
  'max-sessions-per-device': { path: 'mqtt.maxSessionsPerDevice', kind: 'number' },
  'max-sessions-per-subscriber': { path: 'mqtt.maxSessionsPerSubscriber', kind: 'number' },
  'token-key-file': { path: 'auth.tokenKeyFile', kind: 'string' },
  'max-failed-logins': { path: 'auth.maxFailedLogins', kind: 'number' },
  'failed-login-window-ms': { path: 'auth.failedLoginWindowMs', kind: 'number' },
  'batch-ms': { path: 'ingest.batchMs', kind: 'number' },
  'batch-rows': { path: 'ingest.batchRows', kind: 'number' },
  'ingest-writer': { path: 'ingest.writer', kind: 'string' },
  'ingest-http-secret': { path: 'ingest.httpSecret', kind: 'string' },
  'ha-discovery': { path: 'homeAssistant.discovery', kind: 'string' },
  'ha-discovery-prefix': { path: 'homeAssistant.prefix', kind: 'string' },
  'db-synchronous': { path: 'db.synchronous', kind: 'string' },
  'webhook-allow-hosts': { path: 'alerts.webhookAllowHosts', kind: 'list' },
  'retention-raw-days': { path: 'retention.rawDays', kind: 'number' },
  'retention-rollup-days': { path: 'retention.rollupDays', kind: 'number' },
  'engine-max-bytes': { path: 'engines.maxBytes', kind: 'number' },
  'engine-quota-bytes': { path: 'engines.quotaBytes', kind: 'number' },
  'key-file': { path: 'keyFile', kind: 'string' },
  'tick-ms': { path: 'tickMs', kind: 'number' },
  'log-level': { path: 'logLevel', kind: 'string' },
};

function envName(flag: string): string {
  return `FACEFLEET_${flag.toUpperCase().replaceAll('-', '_')}`;
}

function convert(raw: string, kind: SettingKind): unknown {
  if (kind === 'string') return raw;
  if (kind === 'list') return raw.split(',').filter((s) => s.trim() !== '');
  if (kind === 'boolean') {
    if (['true', 'on', 'yes', '1'].includes(raw)) return true;
    if (['false', 'off', 'no', '0'].includes(raw)) return false;
    return raw;
  }
  if (kind === 'nullable-number' && (raw === 'off' || raw === 'none')) return null;
  const n = Number(raw);
  // Leave what is not a number as a string: zod then names the field and says what it expected.
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

export interface LoadConfigOptions {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/** Splits `--name value` / `--name=value` flags; positional words are returned apart. */
export function parseFlags(argv: readonly string[]): {
  flags: Map<string, string>;
  positional: string[];
  issues: { path: string; message: string }[];
} {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  const issues: { path: string; message: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0) {
      if (value === undefined || value.startsWith('--')) {
        issues.push({ path: `--${name}`, message: 'needs a value' });
        value = undefined;
      } else i++;
    }
    if (value !== undefined) flags.set(name, value);
  }
  return { flags, positional, issues };
}

const resolveOrNull = (cwd: string, path: string | null) => (path ? resolve(cwd, path) : null);

/** What the TLS settings lack: a listener on TLS needs the certificate and key, a key its certificate. */
function tlsIssues(data: z.infer<typeof configSchema>): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const users = [
    data.http.tls && 'http.tls',
    data.mqtt.tlsPort !== null && 'mqtt.tlsPort',
    data.mqtt.wssPort !== null && 'mqtt.wssPort',
  ].filter((u): u is string => typeof u === 'string');
  const { certFile, keyFile, clientCaFile } = data.tls;
  if (users.length > 0) {
    for (const [path, flag, value] of [
      ['tls.certFile', '--tls-cert-file', certFile],
      ['tls.keyFile', '--tls-key-file', keyFile],
    ] as const) {
      if (value === null)
        issues.push({ path, message: `required by ${users.join(', ')} (${flag})` });
    }
  } else if (certFile !== null || keyFile !== null || clientCaFile !== null) {
    issues.push({
      path: 'tls',
      message: 'no listener uses TLS: set http.tls, mqtt.tlsPort or mqtt.wssPort too',
    });
  }
  if (clientCaFile !== null && data.mqtt.tlsPort === null && data.mqtt.wssPort === null) {
    issues.push({
      path: 'tls.clientCaFile',
      message: 'device certificates log in over MQTT: set mqtt.tlsPort or mqtt.wssPort too',
    });
  }
  if ((data.mqtt.brokerCertFile === null) !== (data.mqtt.brokerKeyFile === null)) {
    issues.push({
      path: data.mqtt.brokerCertFile === null ? 'mqtt.brokerCertFile' : 'mqtt.brokerKeyFile',
      message:
        'a client certificate and its key go together (--broker-cert-file, --broker-key-file)',
    });
  }
  const brokerTls = [data.mqtt.brokerCaFile, data.mqtt.brokerCertFile].some((f) => f !== null);
  if (brokerTls && !data.mqtt.broker?.startsWith('mqtts://')) {
    issues.push({
      path: 'mqtt.broker',
      message: 'broker CA and certificate files are for an mqtts:// broker',
    });
  }
  return issues;
}

/** Flags that are not configuration (commands read them); `loadConfig` lets them through. */
export const COMMAND_FLAGS = new Set(['role', 'name', 'config']);

/** Builds the configuration from defaults, file, environment and flags; throws ConfigError. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { flags, issues } = parseFlags(options.argv ?? []);
  const input: Record<string, unknown> = {};

  const file = flags.get('config') ?? env.FACEFLEET_CONFIG;
  if (file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(resolve(cwd, file), 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        issues.push({ path: `config file ${file}`, message: 'must hold a JSON object' });
      } else Object.assign(input, parsed);
    } catch (err) {
      issues.push({ path: `config file ${file}`, message: (err as Error).message });
    }
  }
  for (const [flag, setting] of Object.entries(SETTINGS)) {
    const raw = env[envName(flag)];
    if (raw !== undefined) setPath(input, setting.path, convert(raw, setting.kind));
  }
  for (const [flag, raw] of flags) {
    const setting = SETTINGS[flag];
    if (setting) setPath(input, setting.path, convert(raw, setting.kind));
    else if (!COMMAND_FLAGS.has(flag)) issues.push({ path: `--${flag}`, message: 'unknown flag' });
  }

  const result = configSchema.safeParse(input);
  if (!result.success) issues.push(...fieldIssues(result.error));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  const data = result.data;
  const tlsProblems = tlsIssues(data);
  if (tlsProblems.length > 0) throw new ConfigError(tlsProblems);
  const dataDir = isAbsolute(data.dataDir) ? data.dataDir : resolve(cwd, data.dataDir);
  const postgres = data.store !== null && /^postgres(ql)?:\/\//.test(data.store);
  if (postgres && data.mqtt.brokerAdmin === 'dynsec' && data.mqtt.brokerPassword === null) {
    // Each instance would give the shared `control-plane` login a password of its own.
    throw new ConfigError([
      {
        path: 'mqtt.brokerPassword',
        message:
          'required with a PostgreSQL store and brokerAdmin dynsec: every instance logs in as control-plane with it',
      },
    ]);
  }
  return {
    ...data,
    dataDir,
    store:
      data.store === null
        ? join(dataDir, 'facefleet.db')
        : postgres || data.store === ':memory:'
          ? data.store
          : resolve(cwd, data.store),
    instanceId:
      data.instanceId ??
      (postgres
        ? hostname()
            .replace(/[^A-Za-z0-9._-]/g, '-')
            .slice(0, 63)
        : 'embedded'),
    engines: {
      ...data.engines,
      dir: data.engines.dir ? resolve(cwd, data.engines.dir) : join(dataDir, 'engines'),
    },
    keyFile: data.keyFile ? resolve(cwd, data.keyFile) : join(dataDir, 'fleet-key.pem'),
    tls: {
      ...data.tls,
      certFile: resolveOrNull(cwd, data.tls.certFile),
      keyFile: resolveOrNull(cwd, data.tls.keyFile),
      clientCaFile: resolveOrNull(cwd, data.tls.clientCaFile),
    },
    mqtt: {
      ...data.mqtt,
      brokerCaFile: resolveOrNull(cwd, data.mqtt.brokerCaFile),
      brokerCertFile: resolveOrNull(cwd, data.mqtt.brokerCertFile),
      brokerKeyFile: resolveOrNull(cwd, data.mqtt.brokerKeyFile),
    },
    auth: {
      ...data.auth,
      tokenKeyFile: data.auth.tokenKeyFile
        ? resolve(cwd, data.auth.tokenKeyFile)
        : join(dataDir, 'token-key'),
    },
    http: {
      ...data.http,
      sessionKeyFile: data.http.sessionKeyFile
        ? resolve(cwd, data.http.sessionKeyFile)
        : join(dataDir, 'session-key'),
      dashboardDir: data.http.dashboardDir
        ? resolve(cwd, data.http.dashboardDir)
        : fileURLToPath(new URL('../../dashboard/dist', import.meta.url)),
    },
  };
}
