/**
 * Exit codes are part of the CLI's interface: scripts branch on them.
 * 0 success · 1 the server refused or failed · 2 usage (bad flags or arguments) · 3 not signed in or
 * not allowed · 4 not found · 5 the operation ended badly (a rollout halted or was aborted) ·
 * 6 the server cannot be reached.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  halted: 5,
  unreachable: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error meant for the operator: a message that says what was wrong and what to do, no stack. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Wrong flags or arguments. */
export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint);
  }
}
