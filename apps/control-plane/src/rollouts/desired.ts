import {
  type Desired,
  desiredSchema,
  type EngineManifest,
  parsePayload,
  topics,
} from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Broker } from '../broker/types.js';
import type { FleetKey } from '../engines/fleet-key.js';

export interface DesiredOptions {
  store: Store;
  broker: Broker;
  /** Signs the rollbacks asked for (a device refuses an older engine without one). */
  fleetKey: Pick<FleetKey, 'signRollback'>;
  now?: () => number;
}

/**
 * Sets a device's desired state: bumps its revision, stores it, and publishes it retained with
 * QoS 1, so a device that is offline now receives it when it reconnects. `rollback`: the caller
 * asks the device to go to an engine older than the one it runs (a rollout's revert, or a rollout
 * of an older engine the operator asked for): the desired state then carries the fleet key's
 * signature of that rollback, bound to this device, revision and engine version.
 */
export function createDesiredPublisher(options: DesiredOptions) {
  const { store, broker } = options;
  const now = options.now ?? Date.now;
  return async function setDesired(
    deviceId: string,
    engine: EngineManifest | null,
    rolloutId: string | null,
    healthGate: Desired['healthGate'],
    { rollback = false }: { rollback?: boolean } = {},
  ): Promise<number> {
    const rev = await store.devices.nextDesiredRev(deviceId);
    if (rev === undefined) throw new Error(`no device ${deviceId}`);
    const signed =
      rollback && engine
        ? {
            rollback: options.fleetKey.signRollback({
              deviceId,
              rev,
              engineId: engine.id,
              version: engine.version,
            }),
          }
        : {};
    const desired = parsePayload(
      desiredSchema,
      { v: 1, deviceId, rev, ts: now(), engine, ...signed, rolloutId, healthGate },
      'desired',
    );
    const json = JSON.stringify(desired);
    await store.devices.setDesiredJson(deviceId, json);
    await broker.publish(topics.desired(deviceId), json, { retain: true, qos: 1 });
    return rev;
  };
}
export type SetDesired = ReturnType<typeof createDesiredPublisher>;
