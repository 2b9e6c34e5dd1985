import type { ApiErrorBody, AppType } from '@facefleet/control-plane/api-type';
import { hc } from 'hono/client';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { printable, printableDeep } from './printable.js';

/**
 * The control plane's REST API through Hono's typed client (`hc<AppType>`): paths, inputs and
 * answers are the server's own route types (types only: no server code reaches the CLI), so
 * nothing here restates a response shape. Every failure becomes a CliError: the server's own
 * message (`{ error: { code, message, details } }`) with an exit code by status — 401/403 → auth,
 * 404 → not found, 400 → usage — and a connection that cannot be made → unreachable, with a hint.
 */

export interface ApiClientOptions {
  server: string;
  token: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
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

/** Statuses whose responses carry no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** The answer's parsed JSON, typed by the route that gave it. */
/**
 * The JSON of an answer. What devices report (a status reason, an update's failure) is the
 * devices' to choose, and commands print it: every string comes with its control, bidi and
 * invisible characters written out (`printable`), unless `raw` (data a command uses as it is: the
 * fleet's public key PEM, which the server makes itself).
 */
async function json<T>(response: Promise<{ json(): Promise<T> }>, raw = false): Promise<T> {
  const data = await (await response).json();
  return raw ? data : (printableDeep(data) as T);
}

export function createApiClient(options: ApiClientOptions) {
  const base = options.server.replace(/\/+$/, '');

  /**
   * The fetch the typed client calls: answers only when the server said yes with JSON (or
   * nothing); every other outcome is thrown as a CliError naming the method and the path.
   */
  const call = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? 'GET';
    const path = url.slice(base.length).replace(/\?.*$/, '');
    let res: Response;
    try {
      res = await options.fetch(url, {
        ...init,
        ...(options.signal ? { signal: options.signal } : {}),
      });
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
      const e = (data as Partial<ApiErrorBody> | undefined)?.error;
      const { exit, hint } = classify(res.status, base);
      const message = e?.message ?? `HTTP ${res.status} ${res.statusText}`;
      throw new CliError(`${method} ${path}: ${printable(String(message))}`, exit, hint);
    }
    if (data === undefined) {
      throw new CliError(
        `${method} ${path}: the server answered ${res.status} with something that is not JSON`,
        EXIT.failed,
        `is ${base} a facefleet control plane?`,
      );
    }
    return new Response(text === '' ? 'null' : text, {
      status: NULL_BODY.has(res.status) ? 200 : res.status,
      headers: res.headers,
    });
  };

  const anonymous = hc<AppType>(base, { fetch: call }).api.v1;
  const api = hc<AppType>(base, {
    fetch: call,
    headers: { authorization: `Bearer ${options.token}` },
  }).api.v1;
  /** A path parameter, percent-encoded; an empty one is refused (it would name another route). */
  const param = (value: string, what: string) => {
    if (value === '') throw new CliError(`the ${what} is empty`, EXIT.usage);
    return encodeURIComponent(value);
  };
  const device = (id: string) => ({ param: { id: param(id, 'device id') } });
  const rollout = (id: string) => ({ param: { id: param(id, 'rollout id') } });

  return {
    server: base,
    health: () => json(hc<AppType>(base, { fetch: call }).healthz.$get()),
    me: () => json(api.me.$get()),
    publicKey: () => json(anonymous.fleet['public-key'].$get(), true),

    listDevices: async (query: Parameters<typeof api.devices.$get>[0]['query'] = {}) =>
      (await json(api.devices.$get({ query }))).devices,
    getDevice: async (deviceId: string) =>
      (await json(api.devices[':id'].$get(device(deviceId)))).device,
    enroll: (body: Parameters<typeof api.devices.$post>[0]['json']) =>
      json(api.devices.$post({ json: body })),
    setTags: async (deviceId: string, tags: string[]) =>
      (await json(api.devices[':id'].tags.$put({ ...device(deviceId), json: { tags } }))).device,
    deleteDevice: (deviceId: string) => json(api.devices[':id'].$delete(device(deviceId))),
    listCertificates: async (deviceId: string) =>
      (await json(api.devices[':id'].certificates.$get(device(deviceId)))).certificates,
    addCertificate: async (deviceId: string, pem: string) =>
      (await json(api.devices[':id'].certificates.$post({ ...device(deviceId), json: { pem } })))
        .certificate,
    revokeCertificate: (deviceId: string, fingerprint: string) =>
      json(
        api.devices[':id'].certificates[':fingerprint'].$delete({
          param: {
            id: param(deviceId, 'device id'),
            fingerprint: param(fingerprint, 'certificate fingerprint'),
          },
        }),
      ),
    deviceCameras: (deviceId: string) => json(api.devices[':id'].cameras.$get(device(deviceId))),

    listEngines: async () => (await json(api.engines.$get())).engines,
    deleteEngine: (engineId: string) =>
      json(api.engines[':id'].$delete({ param: { id: param(engineId, 'engine id') } })),
    /** The engine file is streamed as the raw body (beside the typed query). */
    uploadEngine: async (
      query: Parameters<typeof api.engines.$post>[0]['query'],
      stream: ReadableStream<Uint8Array>,
      size: number,
    ) =>
      (
        await json(
          api.engines.$post(
            { query },
            {
              headers: {
                'content-type': 'application/octet-stream',
                'content-length': String(size),
              },
              init: { body: stream, duplex: 'half' } as RequestInit,
            },
          ),
        )
      ).engine,

    listRollouts: async () => (await json(api.rollouts.$get())).rollouts,
    getRollout: async (rolloutId: string) =>
      (await json(api.rollouts[':id'].$get(rollout(rolloutId)))).rollout,
    createRollout: async (body: Parameters<typeof api.rollouts.$post>[0]['json']) =>
      (await json(api.rollouts.$post({ json: body }))).rollout,
    rolloutAction: async (rolloutId: string, action: 'pause' | 'resume' | 'abort') =>
      (await json(api.rollouts[':id'][action].$post(rollout(rolloutId)))).rollout,

    fleetFps: (q: { window?: number; minRatio?: number }) =>
      json(
        api.fleet.fps.$get({
          query: {
            window: q.window === undefined ? undefined : String(q.window),
            minRatio: q.minRatio === undefined ? undefined : String(q.minRatio),
          },
        }),
      ),

    createSubscriber: (name: string) => json(api.subscribers.$post({ json: { name } })),
    deleteSubscriber: (name: string) =>
      json(api.subscribers[':name'].$delete({ param: { name: param(name, 'subscriber name') } })),
  };
}
export type ApiClient = ReturnType<typeof createApiClient>;

/** The answers' types, as the commands name them (derived from the routes, never restated). */
export type DeviceView = Awaited<ReturnType<ApiClient['listDevices']>>[number];
export type RolloutView = Awaited<ReturnType<ApiClient['getRollout']>>;
export type RolloutTarget = NonNullable<RolloutView['targets']>[number];
export type FleetFps = Awaited<ReturnType<ApiClient['fleetFps']>>;
export type FleetFpsDevice = FleetFps['classes'][number]['devices'][number];
export type DeviceCameras = Awaited<ReturnType<ApiClient['deviceCameras']>>;
