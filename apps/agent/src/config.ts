import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  AP_MODES,
  cameraIdSchema,
  DEVICE_CLASSES,
  deviceIdSchema,
  MAX_CAMERAS,
  RUNNER_BACKENDS,
  RUNNER_MODELS,
} from '@facefleet/protocol';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';

/**
 * The agent's configuration: one JSON file, then `FACEFLEET_*` environment variables, then command-line
 * flags, each overriding the one before. This module alone reads process.env (main.ts passes it in).
 */

const urlWithScheme = (schemes: string[], what: string) =>
  z.string().refine(
    (s) => {
      try {
        return schemes.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `${what} must be a URL with scheme ${schemes.map((s) => `${s}//`).join(' or ')}`,
  );

const publicKeySchema = z.string().transform((text, ctx): KeyObject => {
  try {
    return parseEd25519PublicKey(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const positive = z.number().positive();

/**
 * One camera: `{ "id": "door", "source": "rtsp://…" }`, or the text `door=rtsp://…` (the id is what
 * comes before the first `=`; a bad id is reported as `cameras.N.id`).
 */
const cameraSchema = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const eq = v.indexOf('=');
    return eq < 0 ? { id: '', source: v } : { id: v.slice(0, eq), source: v.slice(eq + 1) };
  },
  z.strictObject({ id: cameraIdSchema, source: z.string().min(1) }),
);

export type CameraConfig = { id: string; source: string };

export const configSchema = z.strictObject({
  deviceId: deviceIdSchema,
  /**
   * The device token: MQTT password and HTTP Basic password for engine downloads. From the config
   * file (0600), FACEFLEET_DEVICE_TOKEN or `deviceTokenFile`; never a flag, which every local user
   * sees in `ps`.
   */
  deviceToken: z.string().min(1, 'must not be empty'),
  /** A file holding the device token (and nothing else), not open to every user (0600 or 0640). */
  deviceTokenFile: z.string().min(1).optional(),
  /** MQTT (mqtt://), over TLS (mqtts://), over WebSocket (ws://) or secure WebSocket (wss://). */
  brokerUrl: urlWithScheme(['mqtt:', 'mqtts:', 'ws:', 'wss:'], 'broker URL'),
  controlPlaneUrl: urlWithScheme(['http:', 'https:'], 'control-plane URL'),
  /** Directory for the outbox database, downloads and engines. */
  dataDir: z.string().min(1),
  /**
   * The CA certificate (PEM) the broker's and the control plane's certificates are checked
   * against over mqtts://, wss:// and https:// (the fleet CA); default: the system's CAs.
   */
  caFile: z.string().min(1).optional(),
  /** Ed25519 public key of the fleet (PEM, or base64 of the 32 raw bytes or of the SPKI DER). */
  fleetPublicKey: publicKeySchema,
  /** Overrides device class detection (device tree model, else CPU architecture). */
  deviceClass: z.enum(DEVICE_CLASSES).optional(),
  /** TensorRT version of the device (`8.5.2`); detected from NvInferVersion.h when not given. */
  trtVersion: z.string().min(1).max(32).nullable().default(null),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  /**
   * The device's cameras, all served by one runner: `[{ "id": "door", "source": "rtsp://…" }, …]`.
   * Instead of `runner.source`; with neither, the cameras come from `runner.configFile` (a
   * deepstream-app config's [sourceN] groups).
   */
  cameras: z
    .array(cameraSchema)
    .min(1)
    .max(MAX_CAMERAS)
    .refine(
      (list) => new Set(list.map((c) => c.id)).size === list.length,
      'camera ids must be unique',
    )
    .optional(),
  runner: z
    .strictObject({
      bin: z.string().min(1),
      backend: z.enum(RUNNER_BACKENDS).default('opencv'),
      model: z.enum(RUNNER_MODELS).default('blazeface'),
      /** The engine (ONNX model or TensorRT plan) to run until an engine update installs another. */
      bootstrapModel: z.string().min(1),
      /** The one camera of a one-camera device (camera "0"); `cameras` for several. */
      source: z.string().min(1).optional(),
      loop: z.boolean().default(false),
      pace: z.boolean().default(false),
      configFile: z.string().min(1).optional(),
      statsIntervalS: positive.max(3600).default(5),
      extraArgs: z.array(z.string()).default([]),
    })
    // absent altogether, its required fields are still named one by one
    .prefault({} as never),
  publish: z
    .strictObject({
      facesWindowS: positive.max(3600).default(1),
      metricsIntervalS: positive.max(3600).default(10),
      /** Include the last frame's boxes in each faces window. */
      boxes: z.boolean().default(true),
    })
    .prefault({}),
  supervisor: z
    .strictObject({
      backoffInitialMs: z.int().min(1).default(500),
      backoffMaxMs: z.int().min(1).default(30_000),
      /** N exits within crashLoopWindowS seconds → status degraded. */
      crashLoopExits: z.int().min(1).default(5),
      crashLoopWindowS: positive.default(60),
      /** No frame for this many seconds → the runner is restarted. 0 disables the watchdog. */
      watchdogS: z.number().min(0).default(30),
      /** SIGTERM, then SIGKILL after this grace. */
      stopGraceMs: z.int().min(0).default(5000),
    })
    .prefault({}),
  outbox: z
    .strictObject({
      /** Most messages the outbox holds; beyond it the oldest faces windows are dropped. */
      maxMessages: z.int().min(10).default(100_000),
      /** Messages handed to MQTT and not yet acknowledged at once. */
      inflight: z.int().min(1).max(1000).default(32),
    })
    .prefault({}),
  healthGate: z
    .strictObject({
      /** The new engine's runner must say hello within this many seconds. */
      helloTimeoutS: positive.default(60),
    })
    .prefault({}),
  /**
   * The accuracy gate: a golden set on the device (images, and KITTI labels named after them).
   * With both set, a new engine is evaluated beside the current one before it takes over.
   */
  accuracyGate: z
    .strictObject({
      images: z.string().min(1).optional(),
      labels: z.string().min(1).optional(),
      apMode: z.enum(AP_MODES).default('voc2010'),
      /** AP at IoU above this (the model card's figure is at IoU > 0.5). */
      iou: z.number().gt(0).lt(1).default(0.5),
      /** Longest one eval may take. */
      timeoutS: positive.default(600),
    })
    .prefault({})
    .refine((g) => (g.images === undefined) === (g.labels === undefined), {
      message: 'images and labels go together (the golden set needs both)',
    }),
  trtexec: z
    .strictObject({
      bin: z.string().min(1).default('/usr/src/tensorrt/bin/trtexec'),
      /** Extra flags for the engine build (input shapes, workspace). */
      buildArgs: z.array(z.string()).default([]),
    })
    .prefault({}),
  health: z
    .strictObject({
      tegrastatsBin: z.string().min(1).default('tegrastats'),
      nvpmodelBin: z.string().min(1).default('nvpmodel'),
      deviceTreeModel: z.string().min(1).default('/proc/device-tree/model'),
      nvTegraRelease: z.string().min(1).default('/etc/nv_tegra_release'),
      procRoot: z.string().min(1).default('/proc'),
      sysRoot: z.string().min(1).default('/sys'),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      keepaliveS: z.int().min(1).default(30),
      reconnectMs: z.int().min(100).default(2000),
      /** CA certificate file for the broker alone (mqtts://, wss://); default: `caFile`. */
      caFile: z.string().min(1).optional(),
      /**
       * The device certificate and its key (PEM), signed by the fleet CA with the device id as
       * subject CN: over mqtts:// or wss:// the agent logs in with it instead of its token.
       */
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .prefault({}),
});

/** What the device-certificate settings lack: the key of a certificate, or a TLS broker URL. */
function certificateIssues(config: AgentConfig): ConfigIssue[] {
  const { certFile, keyFile } = config.mqtt;
  const issues: ConfigIssue[] = [];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    issues.push({
      path: `mqtt.${certFile === undefined ? 'certFile' : 'keyFile'}`,
      message: 'a device certificate and its key go together (--mqtt-cert-file, --mqtt-key-file)',
    });
  }
  if (certFile !== undefined && !/^(mqtts|wss):/.test(config.brokerUrl)) {
    issues.push({
      path: 'mqtt.certFile',
      message: 'a device certificate needs a TLS broker URL (mqtts:// or wss://)',
    });
  }
  return issues;
}

export type AgentConfig = z.infer<typeof configSchema>;

/**
 * Where the device's cameras are configured: exactly one of `cameras`, `runner.source` and a
 * runner config file's sources. Issues name the fields.
 */
function cameraIssues(config: AgentConfig): ConfigIssue[] {
  if (config.cameras && config.runner.source !== undefined) {
    return [{ path: 'cameras', message: 'give either cameras or runner.source, not both' }];
  }
  if (!config.cameras && config.runner.source === undefined && !config.runner.configFile) {
    return [
      {
        path: 'runner.source',
        message:
          'required (--runner-source or FACEFLEET_RUNNER_SOURCE), unless cameras (--cameras) or a runner config file with sources (--runner-config-file) is given',
      },
    ];
  }
  return [];
}

/** The cameras the runner is started with: `cameras`, or camera "0" of `runner.source`; none when a config file names them. */
export function configuredCameras(config: AgentConfig): CameraConfig[] {
  if (config.cameras) return config.cameras;
  return config.runner.source !== undefined ? [{ id: '0', source: config.runner.source }] : [];
}

type Kind = 'string' | 'number' | 'boolean' | 'list';
interface Key {
  path: string[];
  kind: Kind;
  env: string;
  flag: string;
}

function key(path: string, kind: Kind = 'string'): Key {
  const parts = path.split('.');
  const words = parts.flatMap((p) =>
    p
      .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
      .toLowerCase()
      .split(' '),
  );
  return {
    path: parts,
    kind,
    env: `FACEFLEET_${words.join('_').toUpperCase()}`,
    flag: `--${words.join('-')}`,
  };
}

/** Every setting reachable from the environment and flags: `runner.bin` ↔ FACEFLEET_RUNNER_BIN ↔ --runner-bin. */
export const CONFIG_KEYS: readonly Key[] = [
  key('deviceId'),
  key('deviceToken'),
  key('deviceTokenFile'),
  key('brokerUrl'),
  key('controlPlaneUrl'),
  key('caFile'),
  key('dataDir'),
  key('fleetPublicKey'),
  key('deviceClass'),
  key('trtVersion'),
  key('logLevel'),
  key('cameras', 'list'),
  key('runner.bin'),
  key('runner.backend'),
  key('runner.model'),
  key('runner.bootstrapModel'),
  key('runner.source'),
  key('runner.loop', 'boolean'),
  key('runner.pace', 'boolean'),
  key('runner.configFile'),
  key('runner.statsIntervalS', 'number'),
  key('runner.extraArgs', 'list'),
  key('publish.facesWindowS', 'number'),
  key('publish.metricsIntervalS', 'number'),
  key('publish.boxes', 'boolean'),
  key('supervisor.backoffInitialMs', 'number'),
  key('supervisor.backoffMaxMs', 'number'),
  key('supervisor.crashLoopExits', 'number'),
  key('supervisor.crashLoopWindowS', 'number'),
  key('supervisor.watchdogS', 'number'),
  key('supervisor.stopGraceMs', 'number'),
  key('outbox.maxMessages', 'number'),
  key('outbox.inflight', 'number'),
  key('healthGate.helloTimeoutS', 'number'),
  key('accuracyGate.images'),
  key('accuracyGate.labels'),
  key('accuracyGate.apMode'),
  key('accuracyGate.iou', 'number'),
  key('accuracyGate.timeoutS', 'number'),
  key('trtexec.bin'),
  key('trtexec.buildArgs', 'list'),
  key('health.tegrastatsBin'),
  key('health.nvpmodelBin'),
  key('health.deviceTreeModel'),
  key('health.nvTegraRelease'),
  key('health.procRoot'),
  key('health.sysRoot'),
  key('mqtt.keepaliveS', 'number'),
  key('mqtt.reconnectMs', 'number'),
  key('mqtt.caFile'),
  key('mqtt.certFile'),
  key('mqtt.keyFile'),
];

/** Settings that are never taken from a flag (`ps` shows every process's arguments). */
const SECRET_KEYS = new Set(['deviceToken']);

/** `FACEFLEET_CONFIG` / `--config`: the JSON config file. */
const CONFIG_FILE_ENV = 'FACEFLEET_CONFIG';
const CONFIG_FILE_FLAG = '--config';

function convert(kind: Kind, raw: string): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
      return raw;
    case 'list':
      // a JSON array, or whitespace-separated words
      if (raw.trim().startsWith('[')) {
        try {
          return JSON.parse(raw);
        } catch {
          return raw;
        }
      }
      return raw.split(/\s+/).filter(Boolean);
    default:
      return raw;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  const last = path.at(-1);
  if (last !== undefined) cur[last] = value;
}

export interface LoadConfigOptions {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths in the config file resolve against its directory; flags and env against cwd. */
  cwd?: string;
}

export interface ParsedArgs {
  values: Map<string, string>;
  issues: ConfigIssue[];
  help: boolean;
}

/** `--name value`, `--name=value`, and `--flag` alone for booleans. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const known = new Map(CONFIG_KEYS.map((k) => [k.flag, k]));
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const k = known.get(name);
    if (name !== CONFIG_FILE_FLAG && !k) {
      issues.push({ path: name, message: 'unknown flag (see --help)' });
      // skip its value, if it has one, so the value is not taken for another flag
      if (eq < 0 && argv[i + 1] !== undefined && !argv[i + 1]?.startsWith('--')) i++;
      continue;
    }
    if (eq > 0) {
      values.set(name, arg.slice(eq + 1));
    } else if (
      k?.kind === 'boolean' &&
      (argv[i + 1] === undefined || argv[i + 1]?.startsWith('--'))
    ) {
      values.set(name, 'true');
    } else {
      const v = argv[i + 1];
      if (v === undefined) issues.push({ path: name, message: 'needs a value' });
      else values.set(name, v);
      i++;
    }
  }
  return { values, issues, help };
}

/** Usage text listing every flag and its environment variable. */
export function usage(): string {
  const rows = CONFIG_KEYS.map((k) =>
    SECRET_KEYS.has(k.path.join('.'))
      ? `  ${`(no flag: ps shows flags)`.padEnd(40)} ${k.env}`
      : `  ${`${k.flag} <${k.kind}>`.padEnd(40)} ${k.env}`,
  );
  return [
    'usage: facefleet-agent [--config FILE] [flags]',
    '',
    'Settings come from a JSON file (--config or FACEFLEET_CONFIG), then the environment, then flags.',
    '',
    `  ${'--config <file>'.padEnd(40)} ${CONFIG_FILE_ENV}`,
    ...rows,
  ].join('\n');
}

/**
 * Merges file, environment and flags and validates the result. Throws ConfigError naming every wrong
 * field and where its value came from.
 */
export function loadConfig({ argv, env, cwd = process.cwd() }: LoadConfigOptions): AgentConfig {
  const args = parseArgs(argv);
  const issues = [...args.issues];
  const sources = new Map<string, string>();
  let raw: Record<string, unknown> = {};

  const file = args.values.get(CONFIG_FILE_FLAG) ?? env[CONFIG_FILE_ENV];
  if (file) {
    const path = resolve(cwd, file);
    try {
      const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        issues.push({ path: 'config file', message: `${path} must hold a JSON object` });
      } else {
        raw = parsed as Record<string, unknown>;
      }
    } catch (err) {
      issues.push({ path: 'config file', message: `${path}: ${(err as Error).message}` });
    }
  }
  for (const k of CONFIG_KEYS) {
    const fromEnv = env[k.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      setPath(raw, k.path, convert(k.kind, fromEnv));
      sources.set(k.path.join('.'), k.env);
    }
    const fromFlag = args.values.get(k.flag);
    if (fromFlag !== undefined && SECRET_KEYS.has(k.path.join('.'))) {
      issues.push({
        path: k.flag,
        message: `a secret on the command line is visible to every local user (ps): use ${k.flag}-file, ${k.env} or the config file`,
      });
      continue;
    }
    if (fromFlag !== undefined) {
      setPath(raw, k.path, convert(k.kind, fromFlag));
      sources.set(k.path.join('.'), k.flag);
    }
  }
  readTokenFile(raw, sources, cwd, issues);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const paths =
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => [...issue.path.map(String), key].join('.'))
          : [issue.path.map(String).join('.') || '(root)'];
      for (const p of paths) {
        const source = sources.get(p);
        const k = CONFIG_KEYS.find((c) => c.path.join('.') === p);
        const missing = issue.code === 'invalid_type' && getPath(raw, p.split('.')) === undefined;
        const message =
          issue.code === 'unrecognized_keys'
            ? 'unknown setting'
            : missing
              ? `required${k ? ` (${SECRET_KEYS.has(p) ? `${k.flag}-file` : k.flag} or ${k.env})` : ''}`
              : issue.message;
        issues.push({ path: p, message: source ? `${message} (from ${source})` : message });
      }
    }
  }
  if (result.success) issues.push(...certificateIssues(result.data), ...cameraIssues(result.data));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  const config = result.data;
  // Paths are used by child processes and after chdir-free restarts: make them absolute now.
  config.dataDir = absolute(cwd, config.dataDir);
  config.runner.bootstrapModel = absolute(cwd, config.runner.bootstrapModel);
  if (config.runner.configFile) config.runner.configFile = absolute(cwd, config.runner.configFile);
  if (config.accuracyGate.images)
    config.accuracyGate.images = absolute(cwd, config.accuracyGate.images);
  if (config.accuracyGate.labels)
    config.accuracyGate.labels = absolute(cwd, config.accuracyGate.labels);
  if (config.caFile) config.caFile = absolute(cwd, config.caFile);
  for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
    const path = config.mqtt[k];
    if (path) config.mqtt[k] = absolute(cwd, path);
  }
  return config;
}

/**
 * `deviceTokenFile`: reads the token from it into `deviceToken`. Users other than its owner and
 * group must have no access to it (0600, or 0640 root:facefleet as install.sh makes it).
 */
function readTokenFile(
  raw: Record<string, unknown>,
  sources: Map<string, string>,
  cwd: string,
  issues: ConfigIssue[],
): void {
  const file = raw.deviceTokenFile;
  if (typeof file !== 'string' || file === '') return;
  const from = sources.get('deviceTokenFile');
  const where = from ? ` (from ${from})` : '';
  if (raw.deviceToken !== undefined) {
    issues.push({
      path: 'deviceTokenFile',
      message: `give the device token once: deviceToken or deviceTokenFile${where}`,
    });
    return;
  }
  const path = absolute(cwd, file);
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o007) {
      issues.push({
        path: 'deviceTokenFile',
        message: `${path} is open to every user (mode ${mode.toString(8).padStart(4, '0')}): chmod o-rwx it${where}`,
      });
      return;
    }
    const token = readFileSync(path, 'utf8').trim();
    if (token === '') issues.push({ path: 'deviceTokenFile', message: `${path} is empty${where}` });
    else raw.deviceToken = token;
  } catch (err) {
    issues.push({ path: 'deviceTokenFile', message: `${(err as Error).message}${where}` });
  }
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function absolute(cwd: string, p: string): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/**
 * An Ed25519 public key from PEM (`-----BEGIN PUBLIC KEY-----`), or base64 of the 32 raw key bytes,
 * or base64 of the SPKI DER. Throws with the reason when it is none of these or not Ed25519.
 */
export function parseEd25519PublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  if (trimmed.startsWith('-----BEGIN')) {
    key = createPublicKey(trimmed);
  } else {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
      throw new Error('must be a PEM public key or base64 of an Ed25519 key');
    }
    const der = Buffer.from(trimmed, 'base64');
    // SPKI prefix of an Ed25519 key (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING }
    const spki =
      der.length === 32
        ? Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), der])
        : der;
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}
