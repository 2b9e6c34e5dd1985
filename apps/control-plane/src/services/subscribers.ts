import { subscriberUsername } from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import { newSecret, type Secrets } from '../auth/secrets.js';
import type { BrokerCredentials } from '../broker/credentials.js';
import { ServiceError } from '../errors.js';
import { revokeOrWarn, withWhat } from './broker-logins.js';

export interface SubscriberServiceDeps {
  store: Store;
  secrets: Secrets;
  credentials: BrokerCredentials;
  log: Logger;
}

/** Read-only MQTT credentials for alerts, face counts, status and metrics (mosquitto_sub, Node-RED, Home Assistant). */
export function createSubscriberService(deps: SubscriberServiceDeps) {
  const { store, secrets, credentials } = deps;
  return {
    /**
     * Creates the credentials of `name`, or replaces them: sessions with the old password close.
     * The password exists only in the answer.
     */
    async create(name: string): Promise<{ username: string; password: string }> {
      const token = newSecret();
      const hash = secrets.hash(token);
      const before = await store.credentials.subscriber(name);
      await store.credentials.putSubscriber(name, hash, Date.now());
      try {
        await credentials.issue({ kind: 'subscriber', name }, token);
      } catch (err) {
        await store.credentials.restoreSubscriber(before, name);
        throw withWhat(err, `credentials for ${name} were not created`);
      }
      return { username: subscriberUsername(name), password: token };
    },

    /** Revokes them; their open MQTT sessions are closed. */
    async revoke(name: string): Promise<{ warning?: string }> {
      if (!(await store.credentials.deleteSubscriber(name))) {
        throw new ServiceError('not_found', `no subscriber ${name}`);
      }
      const warning = await revokeOrWarn(deps, { kind: 'subscriber', name });
      return warning ? { warning } : {};
    },
  };
}
export type SubscriberService = ReturnType<typeof createSubscriberService>;
