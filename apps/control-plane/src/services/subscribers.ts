import { subscriberUsername } from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import { hashSecret, newSecret, type VerifiedCache } from '../auth/secrets.js';
import type { BrokerCredentials, BrokerLogin } from '../broker/credentials.js';
import { ServiceError } from '../errors.js';
import { withWhat } from './devices.js';

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

export interface SubscriberServiceDeps {
  store: Store;
  cache: VerifiedCache;
  credentials: BrokerCredentials;
  log: Logger;
}

/** Read-only MQTT credentials for alerts and face counts (mosquitto_sub, Node-RED, Home Assistant). */
export function createSubscriberService(deps: SubscriberServiceDeps) {
  const { store, cache, credentials } = deps;
  const cacheKey = (name: string) => `subscriber@${name}`;
  return {
    /**
     * Creates the credentials of `name`, or replaces them: sessions with the old password close.
     * The password exists only in the answer.
     */
    async create(name: string): Promise<{ username: string; password: string }> {
      const token = newSecret();
      const hash = await hashSecret(token);
      const before = await store.credentials.subscriber(name);
      await store.credentials.putSubscriber(name, hash, Date.now());
      cache.forget(cacheKey(name));
      try {
        await credentials.issue({ kind: 'subscriber', name }, token);
      } catch (err) {
        await store.credentials.restoreSubscriber(before, name);
        cache.forget(cacheKey(name));
        throw withWhat(err, `credentials for ${name} were not created`);
      }
      return { username: subscriberUsername(name), password: token };
    },

    /** Revokes them; their open MQTT sessions are closed. */
    async revoke(name: string): Promise<{ warning?: string }> {
      if (!(await store.credentials.deleteSubscriber(name))) {
        throw new ServiceError('not_found', `no subscriber ${name}`);
      }
      cache.forget(cacheKey(name));
      const warning = await revokeOrWarn(deps, { kind: 'subscriber', name });
      return warning ? { warning } : {};
    },
  };
}
export type SubscriberService = ReturnType<typeof createSubscriberService>;
