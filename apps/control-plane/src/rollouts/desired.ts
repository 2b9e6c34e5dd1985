import {
  type Desired,
  desiredSchema,
  type EngineManifest,
  parsePayload,
  topics,
} from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Broker } from '../broker/types.js';

export interface DesiredOptions {
  store: Store;
  broker: Broker;
  now?: () => number;
}

/**
 * Sets a device's desired state: bumps its revision, stores it, and publishes it retained with
 * QoS 1, so a device that is offline now receives it when it reconnects.
 */
export function createDesiredPublisher(options: DesiredOptions) {
  const { store, broker } = options;
  const now = options.now ?? Date.now;
  return async function setDesired(
    deviceId: string,
    engine: EngineManifest | null,
    rolloutId: string | null,
    healthGate: Desired['healthGate'],
  ): Promise<number> {
    const rev = await store.devices.nextDesiredRev(deviceId);
    if (rev === undefined) throw new Error(`no device ${deviceId}`);
    const desired = parsePayload(
      desiredSchema,
      { v: 1, deviceId, rev, ts: now(), engine, rolloutId, healthGate },
      'desired',
    );
    const json = JSON.stringify(desired);
    await store.devices.setDesiredJson(deviceId, json);
    await broker.publish(topics.desired(deviceId), json, { retain: true, qos: 1 });
    return rev;
  };
}
export type SetDesired = ReturnType<typeof createDesiredPublisher>;
