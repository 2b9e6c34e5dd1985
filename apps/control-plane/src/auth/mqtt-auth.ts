import { type Principal, parseMqttUsername } from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { VerifiedCache } from './secrets.js';

export interface MqttAuthOptions {
  store: Store;
  cache: VerifiedCache;
}

/**
 * Who an MQTT login is: a device (its id + device token), a read-only subscriber
 * (`subscriber@NAME` + subscriber token) or nobody (undefined). Deny by default.
 */
export function createMqttAuthenticator(options: MqttAuthOptions) {
  const { store, cache } = options;
  return async function authenticate(
    username: string | undefined,
    password: Uint8Array | undefined,
  ): Promise<Principal | undefined> {
    const user = parseMqttUsername(username);
    if (!user || !password || password.byteLength === 0 || password.byteLength > 1024) {
      return undefined;
    }
    const secret = Buffer.from(password).toString('utf8');
    switch (user.principal.kind) {
      case 'device': {
        const id = user.principal.deviceId;
        const hash = await store.devices.tokenHash(id);
        if (hash === undefined) return undefined;
        return (await cache.verify(`device:${id}`, secret, hash)) ? user.principal : undefined;
      }
      case 'subscriber': {
        if (!('name' in user)) return undefined;
        const row = await store.credentials.subscriber(user.name);
        if (!row) return undefined;
        return (await cache.verify(`subscriber@${user.name}`, secret, row.hash))
          ? user.principal
          : undefined;
      }
      case 'control-plane':
        // Inside the embedded broker the control plane publishes directly; no login is needed.
        return undefined;
    }
  };
}
export type MqttAuthenticator = ReturnType<typeof createMqttAuthenticator>;
