import type { ApiErrorBody, AppType } from '@facefleet/control-plane/api-type';
import { hc } from 'hono/client';

/**
 * The dashboard's HTTP client: Hono's typed client over the control plane's route types (types
 * only: nothing of the server is bundled), so paths, inputs and answers are checked against the
 * routes. Requests go to the same origin with the session cookie; every one carries the header
 * that proves it came from this script (the server refuses cookie writes without it). Errors
 * become ApiRequestError with the server's message, which names the field.
 */
export const CSRF_HEADER = 'x-facefleet-request';

export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Same-origin fetch that throws ApiRequestError on any answer other than 2xx. */
async function call(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, { ...init, credentials: 'same-origin' });
  if (res.ok) return res;
  let error: Partial<ApiErrorBody['error']> | undefined;
  try {
    error = ((await res.json()) as Partial<ApiErrorBody> | null)?.error;
  } catch {
    // not JSON: reported below
  }
  const path = String(input instanceof Request ? input.url : input).replace(
    /^https?:\/\/[^/]+/,
    '',
  );
  throw new ApiRequestError(
    res.status,
    error?.code ?? `http_${res.status}`,
    error?.message ?? `${init?.method ?? 'GET'} ${path}: HTTP ${res.status}`,
  );
}

/** The API (`/api/v1/…`), e.g. `await json(api.devices[':id'].$get({ param: { id } }))`. */
export const api = hc<AppType>('/', {
  fetch: call,
  headers: { [CSRF_HEADER]: '1', accept: 'application/json' },
}).api.v1;

/** The answer's JSON, typed by its route. */
export async function json<T>(response: Promise<{ json(): Promise<T> }>): Promise<T> {
  return (await response).json();
}
