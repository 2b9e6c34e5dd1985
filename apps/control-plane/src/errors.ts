import type { FieldIssue } from '@facefleet/protocol';
import { HTTPException } from 'hono/http-exception';

/** Base class of every error the control plane throws on purpose. */
export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
}

/** The configuration (file, environment, flags) is wrong; `issues` names every wrong field. */
export class ConfigError extends ControlPlaneError {
  override name = 'ConfigError';
  constructor(readonly issues: FieldIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  }
}

/** An engine upload or blob that the store refuses (too large, bad name, missing). */
export class EngineStoreError extends ControlPlaneError {
  override name = 'EngineStoreError';
  constructor(
    readonly code: 'too_large' | 'not_found' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** An MQTT message the ingest refuses; `reason` is the label it is counted under. */
export class IngestError extends ControlPlaneError {
  override name = 'IngestError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The ingest is closed (shutdown in progress) and takes no more messages. */
export class IngestClosedError extends ControlPlaneError {
  override name = 'IngestClosedError';
  constructor() {
    super('ingest is closed');
  }
}

/**
 * A use case (services/) refused what it was asked: `not_found` (no such thing), `conflict` (it
 * exists already, or its state does not allow it now), `invalid` (an input is wrong; `field` names
 * it, and the API's message puts it in front: `field: message`). The API maps each kind to its
 * status (ApiError.from); other callers (executors, the CLI) read the kind.
 */
export class ServiceError extends ControlPlaneError {
  override name = 'ServiceError';
  constructor(
    readonly kind: 'not_found' | 'conflict' | 'invalid',
    message: string,
    readonly field: string | null = null,
    /** What is wrong with `field`, said of the field alone (default: the message). */
    readonly detail: string = message,
  ) {
    super(message);
  }
}

/**
 * The external broker's admin API (Mosquitto dynamic security) did not do what was asked:
 * `unavailable` (no answer, not connected), `conflict` (a login of that name exists that the
 * control plane did not create), `refused` (the broker answered with an error).
 */
export class BrokerAdminError extends ControlPlaneError {
  override name = 'BrokerAdminError';
  constructor(
    readonly code: 'unavailable' | 'conflict' | 'refused',
    message: string,
  ) {
    super(message);
  }
}

/** What an API error is, as its JSON `code` says; each kind has one HTTP status. */
export const API_ERROR_STATUS = {
  invalid_request: 400,
  /** An engine file the blob store refuses as malformed. */
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  range_not_satisfiable: 416,
  /** Too many failed logins from the address, or too many streams of one login: later. */
  too_many_requests: 429,
  /** The store could not take it now: send it again. */
  unavailable: 503,
  broker_refused: 502,
  broker_unavailable: 503,
  broker_conflict: 409,
  internal: 500,
} as const;
/** `http` is an HTTPException thrown by Hono itself; its code is `http_<status>`. */
export type ApiErrorKind = keyof typeof API_ERROR_STATUS | 'http';
export type ApiErrorDetails = FieldIssue[] | Record<string, unknown> | null;

/**
 * An HTTP API error, on Hono's HTTPException: its response is always the JSON
 * `{ error: { code, message, details } }` with the status of its `kind`; `details` names the
 * fields that were wrong, when there are any. Code anywhere matches it by `kind`, never by its
 * message. `ApiError.from` turns the other errors a route can meet into one, in one place.
 */
export class ApiError extends HTTPException {
  override name = 'ApiError';
  readonly details: ApiErrorDetails;
  /** Headers of the response beside the JSON's. */
  readonly headers: Record<string, string>;
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    options: {
      details?: ApiErrorDetails;
      /** Only for kind `http`: the status Hono gave. */
      status?: HTTPException['status'];
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(kind === 'http' ? (options.status ?? 500) : API_ERROR_STATUS[kind], {
      message,
      cause: options.cause,
    });
    this.details = options.details ?? null;
    this.headers = {
      // On a 413 the rest of the body is left unread, and the server gives up draining it soon
      // after (@hono/node-server: 500 ms): say so, or a client reusing the connection would lose
      // its next request on it.
      ...(this.status === 413 ? { connection: 'close' } : {}),
      ...options.headers,
    };
  }

  /** The JSON `code`. */
  get code(): string {
    return this.kind === 'http' ? `http_${this.status}` : this.kind;
  }

  /** The response body: the API's one error shape. */
  get body(): { error: { code: string; message: string; details: ApiErrorDetails } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }

  override getResponse(): Response {
    return Response.json(this.body, { status: this.status, headers: this.headers });
  }

  /**
   * The API error for `err`: itself, a use case's refusal (ServiceError), the broker admin's
   * (BrokerAdminError), the engine store's (EngineStoreError), or Hono's own HTTPException;
   * undefined for anything else (a bug: the API answers 500 and logs it).
   */
  static from(err: unknown): ApiError | undefined {
    if (err instanceof ApiError) return err;
    if (err instanceof ServiceError) {
      if (err.kind !== 'invalid') {
        return new ApiError(err.kind, err.message, {
          details: err.field ? [{ path: err.field, message: err.detail }] : null,
          cause: err,
        });
      }
      return new ApiError(
        'invalid_request',
        err.field ? `${err.field}: ${err.message}` : err.message,
        { details: err.field ? [{ path: err.field, message: err.detail }] : null, cause: err },
      );
    }
    // 409 a login of that name exists on the broker, 503 no answer, 502 the broker refused.
    if (err instanceof BrokerAdminError) {
      return new ApiError(`broker_${err.code}`, err.message, { cause: err });
    }
    if (err instanceof EngineStoreError) return new ApiError(err.code, err.message, { cause: err });
    if (err instanceof HTTPException) {
      return new ApiError('http', err.message || 'error', { status: err.status, cause: err });
    }
    return undefined;
  }
}
