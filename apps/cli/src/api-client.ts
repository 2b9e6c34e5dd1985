import type { EngineManifest, Reported, Status } from '@facefleet/protocol';
import { CliError, EXIT, type ExitCode } from './errors.js';

/** A device as `GET /api/v1/devices` shows it. */
export interface DeviceView {
  id: string;
  deviceClass: string;
  tags: string[];
  createdAt: number;
  lastSeen: number | null;
  state: 'online' | 'offline' | 'degraded' | null;
  engineId: string | null;
  powerMode: string | null;
  desiredRev: number | null;
  status: Status | null;
  reported: Reported | null;
  desired: unknown;
}

export interface EngineView extends EngineManifest {
  precision: string;
  inputDims: number[];
  createdAt: number;
}

export interface RolloutTarget {
  deviceId: string;
  stage: 'canary' | 'rest';
  state: 'pending' | 'desired' | 'applied' | 'failed' | 'reverted';
  reason: string | null;
  previousEngineId: string | null;
  rev: number | null;
}

export interface RolloutView {
  id: string;
  engineId: string;
  selector: { deviceIds?: string[]; tag?: string; deviceClass?: string };
  canaryShare: number;
  holdS: number;
  failureLimit: number;
  minFpsRatio: number;
  gateHoldS: number;
  state: 'canary' | 'rolling' | 'paused' | 'completed' | 'halted' | 'aborted';
  reason: string | null;
  canaryDoneAt: number | null;
  createdAt: number;
  updatedAt: number;
  targets?: RolloutTarget[];
}

export interface FleetFpsDevice {
  deviceId: string;
  samples: number;
  fps: { p50: number | null; p95: number | null };
  inferFps: { p50: number | null; p95: number | null };
  latencyMs: { p50: number | null; p95: number | null };
  powerMode: string | null;
  referenceFps: number | null;
  ratio: number | null;
  belowReference: boolean;
}

export interface FleetFps {
  window: number;
  minRatio: number;
  reference: string;
  classes: { deviceClass: string; referenceFps: number | null; devices: FleetFpsDevice[] }[];
}

export interface Me {
  kind: 'operator' | 'device';
  name?: string;
  role?: 'viewer' | 'operator' | 'admin';
  deviceId?: string;
  mqtt: { port: number | null; wsPort: number | null };
}

export interface Health {
  ok: boolean;
  connectedDevices: number | null;
  [key: string]: unknown;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A raw body (engine upload) with its headers; JSON `body` is ignored when set. */
  raw?: { stream: ReadableStream<Uint8Array>; headers: Record<string, string> };
  /** No Authorization header (public routes). */
  anonymous?: boolean;
}

export interface ApiClientOptions {
  server: string;
  token: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: { path: string; message: string }[] | null };
}

/** The error's exit code and hint for an HTTP status. */
function classify(status: number, server: string): { exit: ExitCode; hint?: string } {
  if (status === 401) {
    return {
      exit: EXIT.auth,
      hint: `the server refused the token: run \`facefleet login --server ${server} --token TOKEN\` with a valid token`,
    };
  }
  if (status === 403) {
    return {
      exit: EXIT.auth,
      hint: 'ask an admin for a token with that role (`facefleet-server token create --role …`)',
    };
  }
  if (status === 404) return { exit: EXIT.notFound };
  if (status === 400 || status === 413) return { exit: EXIT.usage };
  return { exit: EXIT.failed };
}

/** Why a fetch failed before any response: connection refused, DNS, TLS, reset. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/**
 * Typed calls to the control plane's REST API. Every failure becomes a CliError: the server's own
 * message (`{ error: { code, message, details } }`) with an exit code by status — 401/403 → auth,
 * 404 → not found, 400 → usage — and a connection that cannot be made → unreachable, with a hint.
 */
export function createApiClient(options: ApiClientOptions) {
  const base = options.server.replace(/\/+$/, '');

  async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(`${base}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {};
    if (!opts.anonymous) headers.authorization = `Bearer ${options.token}`;
    let body: RequestInit['body'] | undefined;
    if (opts.raw) {
      Object.assign(headers, opts.raw.headers);
      body = opts.raw.stream as unknown as RequestInit['body'];
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await options.fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(opts.raw ? { duplex: 'half' } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      } as RequestInit);
    } catch (err) {
      if (options.signal?.aborted) throw new CliError('interrupted', EXIT.failed);
      throw new CliError(
        `cannot reach the control plane at ${base} (${networkReason(err)})`,
        EXIT.unreachable,
        'is it running? check the URL given to --server or `facefleet login`',
      );
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text === '' ? null : JSON.parse(text);
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const e = (data as ErrorBody | undefined)?.error;
      const { exit, hint } = classify(res.status, base);
      const message = e?.message ?? `HTTP ${res.status} ${res.statusText}`;
      throw new CliError(`${method} ${path}: ${message}`, exit, hint);
    }
    if (data === undefined) {
      throw new CliError(
        `${method} ${path}: the server answered ${res.status} with something that is not JSON`,
        EXIT.failed,
        `is ${base} a facefleet control plane?`,
      );
    }
    return data as T;
  }

  const id = (s: string) => encodeURIComponent(s);
  return {
    server: base,
    request,
    health: () => request<Health>('GET', '/healthz', { anonymous: true }),
    me: () => request<Me>('GET', '/api/v1/me'),
    publicKey: () =>
      request<{ algorithm: string; publicKeyPem: string }>('GET', '/api/v1/fleet/public-key', {
        anonymous: true,
      }),

    listDevices: (q: { tag?: string; class?: string; status?: string } = {}) =>
      request<{ devices: DeviceView[] }>('GET', '/api/v1/devices', { query: q }).then(
        (r) => r.devices,
      ),
    getDevice: (deviceId: string) =>
      request<{ device: DeviceView }>('GET', `/api/v1/devices/${id(deviceId)}`).then(
        (r) => r.device,
      ),
    enroll: (body: { id: string; deviceClass: string; tags?: string[] }) =>
      request<{ device: DeviceView; token: string; mqtt: { username: string; password: string } }>(
        'POST',
        '/api/v1/devices',
        { body },
      ),
    setTags: (deviceId: string, tags: string[]) =>
      request<{ device: DeviceView }>('PUT', `/api/v1/devices/${id(deviceId)}/tags`, {
        body: { tags },
      }).then((r) => r.device),
    deleteDevice: (deviceId: string) =>
      request<{ deleted: string }>('DELETE', `/api/v1/devices/${id(deviceId)}`),

    listEngines: () =>
      request<{ engines: EngineView[] }>('GET', '/api/v1/engines').then((r) => r.engines),
    uploadEngine: (
      query: Record<string, string | undefined>,
      stream: ReadableStream<Uint8Array>,
      size: number,
    ) =>
      request<{ engine: EngineView }>('POST', '/api/v1/engines', {
        query,
        raw: {
          stream,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        },
      }).then((r) => r.engine),

    listRollouts: () =>
      request<{ rollouts: RolloutView[] }>('GET', '/api/v1/rollouts').then((r) => r.rollouts),
    getRollout: (rolloutId: string) =>
      request<{ rollout: RolloutView }>('GET', `/api/v1/rollouts/${id(rolloutId)}`).then(
        (r) => r.rollout,
      ),
    createRollout: (body: Record<string, unknown>) =>
      request<{ rollout: RolloutView }>('POST', '/api/v1/rollouts', { body }).then(
        (r) => r.rollout,
      ),
    rolloutAction: (rolloutId: string, action: 'pause' | 'resume' | 'abort') =>
      request<{ rollout: RolloutView }>('POST', `/api/v1/rollouts/${id(rolloutId)}/${action}`).then(
        (r) => r.rollout,
      ),

    fleetFps: (q: { window?: number; minRatio?: number }) =>
      request<FleetFps>('GET', '/api/v1/fleet/fps', { query: q }),

    createAlertRule: (body: Record<string, unknown>) =>
      request<{ rule: unknown }>('POST', '/api/v1/alert-rules', { body }),
    createSubscriber: (name: string) =>
      request<{ username: string; password: string; topics: string[] }>(
        'POST',
        '/api/v1/subscribers',
        { body: { name } },
      ),
    deleteSubscriber: (name: string) =>
      request<{ deleted: string }>('DELETE', `/api/v1/subscribers/${id(name)}`),
  };
}
export type ApiClient = ReturnType<typeof createApiClient>;
