/** Base class of every error the agent throws on purpose. */
export class AgentError extends Error {
  override name = 'AgentError';
}

/** One wrong configuration field: where it came from and why it is wrong. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** The configuration (file, environment, flags) is invalid; `issues` names every wrong field. */
export class ConfigError extends AgentError {
  override name = 'ConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  }
}

/** A tool's output (tegrastats, nvpmodel, trtexec, /proc) could not be understood. */
export class ParseError extends AgentError {
  override name = 'ParseError';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`cannot parse ${source}: ${reason}`);
  }
}

/** The outbox database could not be opened or written. */
export class OutboxError extends AgentError {
  override name = 'OutboxError';
}

/** An engine update step failed; `retryable` says whether running the step again may succeed. */
export class UpdateError extends AgentError {
  override name = 'UpdateError';
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** A downloaded engine was rejected (wrong size, sha256 or signature). Never retried. */
export class VerifyError extends UpdateError {
  override name = 'VerifyError';
  constructor(message: string) {
    super(message, false);
  }
}

/** The runner could not be started or stopped. */
export class RunnerSupervisorError extends AgentError {
  override name = 'RunnerSupervisorError';
}

/** A wait that was cut short because the agent is shutting down; never recorded as a failure. */
export class AbortedError extends AgentError {
  override name = 'AbortedError';
}
