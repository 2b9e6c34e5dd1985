import { readFileSync } from 'node:fs';
import {
  type HaDevice,
  haDiscoveryMessages,
  haDiscoveryTopics,
  haStatusTopic,
} from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { Broker } from '../broker/types.js';

export interface HaDiscoveryOptions {
  /** Home Assistant's discovery prefix (`homeassistant`). */
  prefix: string;
  broker: Broker;
  store: Pick<Store, 'devices'>;
  log: Logger;
  /** Whether this instance does the fleet-wide publishing (the leader; one process: always). */
  leading: () => boolean;
}

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Devices whose configs are published at once (each is a handful of retained messages). */
const CONCURRENCY = 64;

/**
 * Home Assistant MQTT discovery from the control plane (the payloads: protocol's
 * home-assistant.ts). Every enrolled device's configs are published retained when the leader
 * starts (the embedded broker keeps retained messages in memory only), when a device is enrolled
 * or changed, and again whenever Home Assistant announces itself on `<prefix>/status` (its birth
 * message after a restart, when it may have lost them); a deleted device's configs are cleared
 * with empty retained payloads, which makes Home Assistant remove its entities.
 */
export function createHaDiscovery(options: HaDiscoveryOptions) {
  const { prefix, broker, store, log } = options;
  const publishDevice = (device: HaDevice) =>
    Promise.all(
      haDiscoveryMessages(prefix, device, version).map((m) =>
        broker.publish(m.topic, JSON.stringify(m.payload), { retain: true, qos: 1 }),
      ),
    );
  const clearDevice = (id: string) =>
    Promise.all(
      haDiscoveryTopics(prefix, id).map((topic) =>
        broker.publish(topic, '', { retain: true, qos: 1 }),
      ),
    );

  let running: Promise<number> | undefined;
  let again = false;
  /** Every device's configs; a call while one runs makes it run once more afterwards. */
  function publishAll(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let published = 0;
      do {
        again = false;
        const devices = await store.devices.list();
        for (let i = 0; i < devices.length; i += CONCURRENCY) {
          await Promise.all(devices.slice(i, i + CONCURRENCY).map(publishDevice));
        }
        published = devices.length;
      } while (again);
      log.info({ devices: published, prefix }, 'home assistant: discovery published');
      return published;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }
  const logFailure = (what: string) => (err: unknown) =>
    log.warn({ err }, `home assistant: ${what} failed`);

  return {
    publishAll,

    /** A device was enrolled, changed or deleted (here or on another instance). */
    async deviceChanged(id: string): Promise<void> {
      if (!options.leading()) return;
      try {
        const device = await store.devices.get(id);
        if (device) await publishDevice(device);
        else await clearDevice(id);
      } catch (err) {
        logFailure(`discovery of ${id}`)(err);
      }
    },

    /** Listens for Home Assistant's birth message on the broker. */
    start(): void {
      broker.watch?.(haStatusTopic(prefix), (payload) => {
        if (payload.toString('utf8').trim() !== 'online' || !options.leading()) return;
        log.info('home assistant came online: discovery published again');
        publishAll().catch(logFailure('discovery'));
      });
    },
  };
}
export type HaDiscovery = ReturnType<typeof createHaDiscovery>;
