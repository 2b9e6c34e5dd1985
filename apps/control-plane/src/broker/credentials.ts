import { subscriberUsername } from '@facefleet/protocol';
import type { Logger } from 'pino';

/** A broker login the control plane issues: a device, or a read-only subscriber. */
export type BrokerLogin =
  | { kind: 'device'; deviceId: string }
  | { kind: 'subscriber'; name: string };

/** The MQTT username of a login (protocol: device id, or `subscriber@NAME`). */
export function loginUsername(login: BrokerLogin): string {
  return login.kind === 'device' ? login.deviceId : subscriberUsername(login.name);
}

/**
 * Keeps the broker's idea of who may log in in step with the database. The API calls these after
 * the database has changed (a device enrolled, its token rotated or the device deleted; subscriber
 * credentials created or revoked); each resolves once the broker has applied the change and
 * rejects with a BrokerAdminError when it could not.
 */
export interface BrokerCredentials {
  /**
   * `secret` is now the login's only valid password: the broker accepts it from now on, and
   * sessions opened with an earlier secret are dropped.
   */
  issue(login: BrokerLogin, secret: string): Promise<void>;
  /** The login is gone: the broker refuses it from now on and drops its open sessions. */
  revoke(login: BrokerLogin): Promise<void>;
  /**
   * Drops the login's open sessions, its credentials unchanged (a device certificate was revoked:
   * those with other valid credentials log in again). Only a broker that checks logins against
   * the database has it; an external broker checks certificates itself.
   */
  dropSessions?(login: BrokerLogin): Promise<void>;
  close(): Promise<void>;
}

/**
 * The embedded broker checks every login against the database itself, so only open sessions need
 * handling: `disconnect` drops those of a username (and, when revoking, discards their wills: a
 * deleted device's "offline" would only be an orphan row).
 */
export function embeddedCredentials(
  disconnect: (username: string, options: { discardWill: boolean }) => number,
  log: Logger,
): BrokerCredentials {
  const drop = (login: BrokerLogin, discardWill: boolean) => {
    const username = loginUsername(login);
    const sessions = disconnect(username, { discardWill });
    if (sessions > 0)
      log.info({ username, sessions }, 'dropped MQTT sessions of changed credentials');
  };
  return {
    async issue(login) {
      drop(login, false);
    },
    async revoke(login) {
      drop(login, true);
    },
    async dropSessions(login) {
      drop(login, false);
    },
    async close() {},
  };
}

/**
 * An external broker whose logins an operator keeps by hand (Mosquitto's password file): the
 * control plane can only say what to change.
 */
export function manualCredentials(log: Logger): BrokerCredentials {
  return {
    async issue(login) {
      log.warn(
        { username: loginUsername(login) },
        'external broker without --broker-admin: add this login to its password file',
      );
    },
    async revoke(login) {
      log.warn(
        { username: loginUsername(login) },
        'external broker without --broker-admin: remove this login from its password file and reload the broker',
      );
    },
    async close() {},
  };
}
