import { deviceCameras, type UpdateGate } from '@facefleet/protocol';
import type { DeviceRow, RolloutRow, RolloutTargetRow } from '@facefleet/store';
import type { LiveDevice, LiveRollout } from './live/types.js';

/**
 * Rows as the API shows them (JSON columns parsed, secrets left out). Shared by the routes and by
 * the live feed, so a device or rollout looks the same in `GET` answers and in server-sent events.
 */

export function deviceView(d: DeviceRow): LiveDevice {
  // Validated against the protocol's schemas before they were stored.
  const status = d.statusJson ? (JSON.parse(d.statusJson) as LiveDevice['status']) : null;
  return {
    id: d.id,
    deviceClass: d.deviceClass,
    tags: JSON.parse(d.tags) as string[],
    createdAt: d.createdAt,
    lastSeen: d.lastSeen,
    state: d.state as LiveDevice['state'],
    engineId: d.engineId,
    powerMode: d.powerMode,
    desiredRev: d.desiredRev,
    status,
    reported: d.reportedJson ? (JSON.parse(d.reportedJson) as LiveDevice['reported']) : null,
    desired: d.desiredJson ? (JSON.parse(d.desiredJson) as LiveDevice['desired']) : null,
    cameras: deviceCameras(status),
  };
}

type Target = NonNullable<LiveRollout['targets']>[number];

export function rolloutView(row: RolloutRow, targets?: RolloutTargetRow[]): LiveRollout {
  return {
    id: row.id,
    engineId: row.engineId,
    selector: JSON.parse(row.selector) as LiveRollout['selector'],
    canaryShare: row.canaryShare,
    holdS: row.holdS,
    failureLimit: row.failureLimit,
    minFpsRatio: row.minFpsRatio,
    gateHoldS: row.gateHoldS,
    apTolerance: row.apTolerance,
    state: row.state as LiveRollout['state'],
    reason: row.reason,
    canaryDoneAt: row.canaryDoneAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(targets
      ? {
          targets: targets.map((t) => ({
            deviceId: t.deviceId,
            stage: t.stage as 'canary' | 'rest',
            state: t.state as Target['state'],
            reason: t.reason,
            previousEngineId: t.previousEngineId,
            rev: t.rev,
            // validated with the report it came from before it was stored
            gate: t.gateJson ? (JSON.parse(t.gateJson) as UpdateGate) : null,
          })),
        }
      : {}),
  };
}
