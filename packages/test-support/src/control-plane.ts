import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Metrics, parseMetrics } from './metrics.js';
import { controlPlaneMain, requireBuilt } from './paths.js';
import { type RunningProcess, startProcess } from './process.js';
import { fetchTrusting } from './tls-fetch.js';

export interface ControlPlaneOptions {
  /** Kept by `stop()` when given (a restart finds its database there); else a temp dir, removed. */
  dataDir?: string;
  /** 0 (default): ephemeral. Give fixed ports (see `freePort`) to restart where clients left it. */
  httpPort?: number;
  mqttPort?: number;
  /** MQTT over WebSocket; null (default) turns it off. */
  wsPort?: number | null;
  /** External broker URL (`--broker`): nothing is embedded then. */
  broker?: string;
  brokerPassword?: string;
  /** Alert and rollout tick (default 100 ms, so tests are quick). */
  tickMs?: number;
  /**
   * The admin token to call the API with. Only a fresh database announces one; a restart on a kept
   * data dir needs the token the first start announced.
   */
  adminToken?: string;
  /**
   * TLS: the certificate and key the control plane serves (its API then on HTTPS, and MQTT over
   * TLS and secure WebSocket on ephemeral ports beside the plain listener); `caFile` is the CA
   * the harness trusts them by, `clientCaFile` the fleet CA of device certificates.
   */
  tls?: { certFile: string; keyFile: string; caFile: string; clientCaFile?: string };
  /** More server flags (`--batch-ms 20`, `--dashboard-dir DIR`, …). */
  args?: string[];
  /** FACEFLEET_* settings and the like (nothing else is inherited besides PATH). */
  env?: Record<string, string>;
  /** Node.js flags. */
  nodeArgs?: string[];
  /** How long to wait for the `ready` line (default 30 s). */
  readyTimeoutMs?: number;
}

export interface ApiCallOptions {
  /** Another bearer token; null sends none. Default: the admin token. */
  token?: string | null;
  headers?: Record<string, string>;
}

export interface ControlPlane {
  process: RunningProcess;
  /** `http://127.0.0.1:PORT` (`https://` with `tls`). */
  url: string;
  /** The broker devices connect to: the embedded one, or the external `broker`. */
  mqttUrl: string;
  /** With `tls`: `mqtts://127.0.0.1:PORT` and `wss://127.0.0.1:PORT` (null without). */
  mqttsUrl: string | null;
  wssUrl: string | null;
  ports: {
    http: number;
    mqtt: number | null;
    ws: number | null;
    tls?: number | null;
    wss?: number | null;
  };
  /** The token `api` uses: the one announced on a fresh database, else `options.adminToken`. */
  adminToken: string;
  /** The first admin token the server announced (only on a fresh database), or null. */
  announcedToken: string | null;
  dataDir: string;
  /** The SQLite database file (open it read-only to count rows). */
  dbFile: string;
  /**
   * Calls the API. A plain object or array is sent as JSON; a string, Buffer or Uint8Array as
   * raw bytes (engine uploads).
   */
  api(method: string, path: string, body?: unknown, options?: ApiCallOptions): Promise<Response>;
  /** `api`, then the JSON body; throws with the status and body unless the status is `expect` (default: any 2xx). */
  json<T>(
    method: string,
    path: string,
    body?: unknown,
    options?: ApiCallOptions & { expect?: number },
  ): Promise<T>;
  /** Enrolls a device (POST /api/v1/devices) and returns its token. */
  enroll(id: string, options?: { deviceClass?: string; tags?: string[] }): Promise<string>;
  /** The fleet's Ed25519 public key (PEM), which agents verify engines with. */
  publicKey(): Promise<string>;
  /** GET /metrics (with the admin token), parsed. */
  metrics(): Promise<Metrics>;
  /** SIGTERM and its exit code (0 is a clean shutdown); removes a temp data dir. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, as a power cut would; keeps the data dir (a restart recovers from it). */
  kill9(): Promise<void>;
  /**
   * Starts the control plane again, once this one has exited (`kill9`, or `stop` on a data dir
   * that was given): the same data dir, the same ports (clients reconnect where they left it),
   * flags and admin token. The new one owns the data dir as this one did.
   */
  restart(): Promise<ControlPlane>;
  /** Removes a temp data dir (after `kill9`, once nothing restarts on it). */
  cleanup(): void;
}

/**
 * Starts the built control plane (`node apps/control-plane/dist/main.js`) and resolves once it
 * logged `ready` with its ports.
 */
export function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  return launch(options, options.dataDir === undefined);
}

/** `ownDir`: the data dir is the harness's own, removed by `stop()` and `cleanup()`. */
async function launch(options: ControlPlaneOptions, ownDir: boolean): Promise<ControlPlane> {
  requireBuilt(controlPlaneMain);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ff-test-cp-'));
  const args = [
    ...(options.nodeArgs ?? []),
    controlPlaneMain,
    '--data-dir',
    dataDir,
    '--http-port',
    String(options.httpPort ?? 0),
    '--tick-ms',
    String(options.tickMs ?? 100),
  ];
  if (options.broker) {
    args.push('--broker', options.broker);
    if (options.brokerPassword) args.push('--broker-password', options.brokerPassword);
  } else {
    args.push(
      '--mqtt-port',
      String(options.mqttPort ?? 0),
      '--mqtt-ws-port',
      options.wsPort == null ? 'off' : String(options.wsPort),
    );
  }
  if (options.tls) {
    args.push(
      '--tls-cert-file',
      options.tls.certFile,
      '--tls-key-file',
      options.tls.keyFile,
      '--http-tls',
      'true',
      '--mqtt-tls-port',
      '0',
      '--mqtt-wss-port',
      '0',
      ...(options.tls.clientCaFile ? ['--tls-client-ca-file', options.tls.clientCaFile] : []),
    );
  }
  args.push(...(options.args ?? []));
  const proc = startProcess(process.execPath, args, {
    name: 'control-plane',
    env: options.env ?? {},
  });
  const cleanup = () => {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };

  let ready: { ports: ControlPlane['ports'] };
  try {
    const line = await proc.waitForLine(/"msg":"ready"/, options.readyTimeoutMs ?? 30_000);
    ready = JSON.parse(line) as typeof ready;
  } catch (err) {
    await proc.kill();
    cleanup();
    throw err;
  }
  // Not a terminal: the server names the file it left the token in (never the token itself).
  const announced = proc.lines
    .map((l) => /first admin API token written to (\S+)/.exec(l)?.[1])
    .filter((f): f is string => f !== undefined)
    .map((f) => readFileSync(f, 'utf8').trim())
    .find(Boolean);
  const announcedToken = announced ?? null;
  const adminToken = announcedToken ?? options.adminToken ?? '';
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${ready.ports.http}`;
  const mqttUrl = options.broker ?? `mqtt://127.0.0.1:${ready.ports.mqtt}`;
  const fetch = options.tls
    ? fetchTrusting(readFileSync(options.tls.caFile))
    : globalThis.fetch.bind(globalThis);

  const api: ControlPlane['api'] = async (method, path, body, call = {}) => {
    const token = call.token === undefined ? adminToken : call.token;
    if (token === '') {
      throw new Error(
        'the control plane announced no admin token (not a fresh database): pass adminToken',
      );
    }
    const headers: Record<string, string> = { ...call.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | Uint8Array | undefined;
    if (body === undefined) payload = undefined;
    else if (typeof body === 'string' || body instanceof Uint8Array) {
      payload = body;
      headers['content-type'] ??= 'application/octet-stream';
    } else {
      payload = JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    return fetch(`${url}${path}`, { method, headers, body: payload as RequestInit['body'] });
  };
  const json: ControlPlane['json'] = async (method, path, body, call = {}) => {
    const res = await api(method, path, body, call);
    const text = await res.text();
    const ok = call.expect === undefined ? res.ok : res.status === call.expect;
    if (!ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as never;
  };

  return {
    process: proc,
    url,
    mqttUrl,
    mqttsUrl: ready.ports.tls ? `mqtts://127.0.0.1:${ready.ports.tls}` : null,
    wssUrl: ready.ports.wss ? `wss://127.0.0.1:${ready.ports.wss}` : null,
    ports: ready.ports,
    adminToken,
    announcedToken,
    dataDir,
    dbFile: join(dataDir, 'facefleet.db'),
    api,
    json,
    async enroll(id, { deviceClass = 'generic-x86_64', tags = [] } = {}) {
      const r = await json<{ token: string }>(
        'POST',
        '/api/v1/devices',
        { id, deviceClass, tags },
        { expect: 201 },
      );
      return r.token;
    },
    async publicKey() {
      const r = await json<{ publicKeyPem: string }>('GET', '/api/v1/fleet/public-key', undefined, {
        token: null,
      });
      return r.publicKeyPem;
    },
    async metrics() {
      // /metrics needs a token (any role)
      const res = await api('GET', '/metrics');
      if (!res.ok) throw new Error(`GET /metrics: ${res.status} ${await res.text()}`);
      return parseMetrics(await res.text());
    },
    async stop(timeoutMs) {
      try {
        return await proc.stop(timeoutMs);
      } finally {
        cleanup();
      }
    },
    async kill9() {
      await proc.kill('SIGKILL');
    },
    async restart() {
      if (proc.running) throw new Error('control-plane: restart() while it still runs');
      if (ownDir && !existsSync(dataDir))
        throw new Error('control-plane: its data dir was removed');
      return launch(
        {
          ...options,
          dataDir,
          httpPort: ready.ports.http,
          ...(options.broker
            ? {}
            : { mqttPort: ready.ports.mqtt ?? 0, wsPort: ready.ports.ws ?? null }),
          ...(options.tls
            ? {
                args: [
                  ...(options.args ?? []),
                  '--mqtt-tls-port',
                  String(ready.ports.tls ?? 0),
                  '--mqtt-wss-port',
                  String(ready.ports.wss ?? 0),
                ],
              }
            : {}),
          adminToken,
        },
        ownDir,
      );
    },
    cleanup,
  };
}
