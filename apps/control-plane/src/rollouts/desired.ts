import {
  type Desired,
  desiredSchema,
  type EngineManifest,
  parsePayload,
  topics,
} from '@facefleet/protocol';
import { eq, sql } from 'drizzle-orm';
import type { Broker } from '../broker/types.js';
import type { Db } from '../db/open.js';
import { devices } from '../db/schema.js';

export interface DesiredOptions {
  db: Db;
  broker: Broker;
  now?: () => number;
}

/**
 * Sets a device's desired state: bumps its revision, stores it, and publishes it retained with
 * QoS 1, so a device that is offline now receives it when it reconnects.
 */
export function createDesiredPublisher(options: DesiredOptions) {
  const { db, broker } = options;
  const now = options.now ?? Date.now;
  return async function setDesired(
    deviceId: string,
    engine: EngineManifest | null,
    rolloutId: string | null,
    healthGate: Desired['healthGate'],
  ): Promise<number> {
    const row = db
      .update(devices)
      .set({ desiredRev: sql`${devices.desiredRev} + 1` })
      .where(eq(devices.id, deviceId))
      .returning({ rev: devices.desiredRev })
      .get();
    if (!row) throw new Error(`no device ${deviceId}`);
    const desired = parsePayload(
      desiredSchema,
      { v: 1, deviceId, rev: row.rev, ts: now(), engine, rolloutId, healthGate },
      'desired',
    );
    const json = JSON.stringify(desired);
    db.update(devices).set({ desiredJson: json }).where(eq(devices.id, deviceId)).run();
    await broker.publish(topics.desired(deviceId), json, { retain: true, qos: 1 });
    return row.rev;
  };
}
export type SetDesired = ReturnType<typeof createDesiredPublisher>;
