import { topics } from '@facefleet/protocol';
import type { DeviceRow, Store } from '@facefleet/store';
import type { Logger } from 'pino';
import { newSecret, type Secrets } from '../auth/secrets.js';
import type { TokenHashCache } from '../auth/token-hashes.js';
import type { BrokerCredentials } from '../broker/credentials.js';
import type { Broker } from '../broker/types.js';
import { ServiceError } from '../errors.js';
import { revokeOrWarn, withWhat } from './broker-logins.js';
import type { ChangeFeed } from './changes.js';

export interface DeviceServiceDeps {
  store: Store;
  secrets: Secrets;
  credentials: BrokerCredentials;
  broker: Broker;
  changes: ChangeFeed;
  log: Logger;
  /**
   * The embedded broker's device token hashes in memory: told of each change of a token right
   * after it is written, before the broker drops the sessions of the old one.
   */
  tokenHashes?: Pick<TokenHashCache, 'forget'> | undefined;
}

/** A device's token, shown once, and how it logs in to MQTT. */
export interface IssuedDevice {
  device: DeviceRow;
  token: string;
}

/**
 * The use cases of a device's life: enroll, rotate its token, retag, delete. Each keeps the
 * database and the broker's logins in step, and announces the change.
 */
export function createDeviceService(deps: DeviceServiceDeps) {
  const { store, secrets, credentials } = deps;
  const forget = (id: string) => deps.tokenHashes?.forget(id);

  async function find(id: string): Promise<DeviceRow> {
    const row = await store.devices.get(id);
    if (!row) throw new ServiceError('not_found', `no device ${id}`);
    return row;
  }

  return {
    find,

    /** Enrolls a device; its token exists only in the answer (stored as a keyed hash, auth/secrets.ts). */
    async enroll(input: {
      id: string;
      deviceClass: string;
      tags: string[];
    }): Promise<IssuedDevice> {
      const token = newSecret();
      const device = await store.devices.insert({
        ...input,
        tokenHash: secrets.hash(token),
        createdAt: Date.now(),
      });
      if (!device)
        throw new ServiceError('conflict', `device ${input.id} exists`, 'id', 'already enrolled');
      forget(input.id);
      try {
        // The plaintext token exists only now: an external broker's login is made with it here.
        await credentials.issue({ kind: 'device', deviceId: input.id }, token);
      } catch (err) {
        await store.devices.delete(input.id);
        forget(input.id);
        throw withWhat(err, `device ${input.id} was not enrolled`);
      }
      await deps.changes.publish({ kind: 'device', id: input.id });
      return { device, token };
    },

    /** A new token; the old one stops working and its open MQTT sessions are closed. */
    async rotateToken(id: string): Promise<IssuedDevice> {
      const before = await find(id);
      const token = newSecret();
      const device = await store.devices.setTokenHash(id, secrets.hash(token));
      if (!device) throw new ServiceError('not_found', `no device ${id}`);
      forget(id);
      try {
        await credentials.issue({ kind: 'device', deviceId: id }, token);
      } catch (err) {
        await store.devices.setTokenHash(id, before.tokenHash);
        forget(id);
        throw withWhat(
          err,
          `the token of ${id} was not changed (the broker may hold the new one: rotate again)`,
        );
      }
      await deps.changes.publish({ kind: 'device', id });
      return { device, token };
    },

    async setTags(id: string, tags: string[]): Promise<DeviceRow> {
      const device = await store.devices.setTags(id, [...new Set(tags)]);
      if (!device) throw new ServiceError('not_found', `no device ${id}`);
      await deps.changes.publish({ kind: 'device', id });
      return device;
    },

    /**
     * Deletes a device: its token stops working at once, its open MQTT sessions are closed and its
     * retained desired state and alerts cleared. `warning` says what the broker could not be told yet.
     */
    async remove(id: string): Promise<{ warning?: string }> {
      if (!(await store.devices.delete(id))) throw new ServiceError('not_found', `no device ${id}`);
      forget(id);
      await store.certificates.deleteOfDevice(id);
      await deps.changes.publish({ kind: 'device', id });
      const warning = await revokeOrWarn(deps, { kind: 'device', deviceId: id });
      // An empty retained message clears the device's desired state on the broker.
      await deps.broker.publish(topics.desired(id), '', { retain: true, qos: 1 });
      // …and its alerts: a subscriber arriving later would get a firing alert of a device that no
      // longer exists. The alerts still firing in the database are resolved.
      // (Per-camera alerts have a topic each: those of the cameras it ever alerted on.)
      const t = Date.now();
      const cleared = new Set<string>();
      const clear = async (topic: string) => {
        if (cleared.has(topic)) return;
        cleared.add(topic);
        await deps.broker.publish(topic, '', { retain: true, qos: 1 });
      };
      for (const rule of await store.alerts.rules()) await clear(topics.alert(rule.id, id));
      for (const alert of await store.alerts.find({ deviceId: id, limit: 10_000 })) {
        await clear(topics.alert(alert.ruleId, id, alert.camera ?? undefined));
        if (alert.state === 'firing') await store.alerts.resolve(alert.id, t);
      }
      return warning ? { warning } : {};
    },
  };
}
export type DeviceService = ReturnType<typeof createDeviceService>;
