import type { Logger } from 'pino';
import type { BrokerCredentials, BrokerLogin } from '../broker/credentials.js';
import { BrokerAdminError } from '../errors.js';

/** What the services that issue and revoke broker logins (devices, subscribers) share. */

/**
 * Revokes a login whose database row is already gone. When the broker cannot be told now the
 * deletion still stands (the control plane refuses the login's messages and the broker is
 * reconciled later); the returned warning says so for the answer.
 */
export async function revokeOrWarn(
  deps: { credentials: BrokerCredentials; log: Logger },
  login: BrokerLogin,
): Promise<string | undefined> {
  try {
    await deps.credentials.revoke(login);
    return undefined;
  } catch (err) {
    deps.log.error({ err, login }, 'could not revoke the broker login');
    return `the broker login was not removed yet (${(err as Error).message}); it is removed when the control plane next reaches the broker`;
  }
}

/** A broker refusal, saying what the request did not do; other errors as they are. */
export function withWhat(err: unknown, what: string): unknown {
  return err instanceof BrokerAdminError
    ? new BrokerAdminError(err.code, `${what}: ${err.message}`)
    : err;
}
