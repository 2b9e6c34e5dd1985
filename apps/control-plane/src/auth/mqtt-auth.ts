import { type Principal, parseMqttUsername } from '@facefleet/protocol';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/open.js';
import { devices, subscriberTokens } from '../db/schema.js';
import type { VerifiedCache } from './secrets.js';

export interface MqttAuthOptions {
  db: Db;
  cache: VerifiedCache;
}

/**
 * Who an MQTT login is: a device (its id + device token), a read-only subscriber
 * (`subscriber@NAME` + subscriber token) or nobody (undefined). Deny by default.
 */
export function createMqttAuthenticator(options: MqttAuthOptions) {
  const { db, cache } = options;
  // Prepared once: 10,000 devices reconnecting after a broker restart all pass through here.
  const deviceHash = db
    .select({ hash: devices.tokenHash })
    .from(devices)
    .where(eq(devices.id, sql.placeholder('id')))
    .prepare();
  const subscriberHash = db
    .select({ hash: subscriberTokens.hash })
    .from(subscriberTokens)
    .where(eq(subscriberTokens.name, sql.placeholder('name')))
    .prepare();
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
        const row = deviceHash.get({ id });
        if (!row) return undefined;
        return (await cache.verify(`device:${id}`, secret, row.hash)) ? user.principal : undefined;
      }
      case 'subscriber': {
        if (!('name' in user)) return undefined;
        const row = subscriberHash.get({ name: user.name });
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
