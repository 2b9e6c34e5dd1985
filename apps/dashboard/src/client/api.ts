/**
 * The dashboard's HTTP client. Requests go to the same origin with the session cookie; every one
 * carries the header that proves it came from this script (the server refuses cookie writes
 * without it). Errors become ApiRequestError with the server's message, which names the field.
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

async function request<T>(method: string, path: string, body?: BodyInit, json = true): Promise<T> {
  const headers: Record<string, string> = { [CSRF_HEADER]: '1', accept: 'application/json' };
  if (body !== undefined && json) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body, credentials: 'same-origin' });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiRequestError(
      res.status,
      error?.code ?? `http_${res.status}`,
      error?.message ?? `${method} ${path}: HTTP ${res.status}`,
    );
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) =>
    request<T>('POST', path, body === undefined ? undefined : JSON.stringify(body)),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, JSON.stringify(body)),
  delete: <T>(path: string) => request<T>('DELETE', path),
  /** Uploads raw bytes (an engine file). */
  upload: <T>(path: string, file: Blob) => request<T>('POST', path, file, false),
};
