import type { FieldIssue } from '@facefleet/protocol';

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
 * it). The API maps each kind to its status; other callers (executors, the CLI) read the kind.
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

/**
 * An HTTP API error: every one becomes `{ error: { code, message, details } }` in app.onError.
 * `details` names the fields that were wrong, when there are any.
 */
export class ApiError extends ControlPlaneError {
  override name = 'ApiError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 416 | 422 | 500 | 502 | 503,
    readonly code: string,
    message: string,
    readonly details: FieldIssue[] | Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}
