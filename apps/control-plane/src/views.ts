import type { DeviceRow, RolloutRow, RolloutTargetRow } from '@facefleet/store';
import type { LiveDevice, LiveRollout } from './live/types.js';

/**
 * Rows as the API shows them (JSON columns parsed, secrets left out). Shared by the routes and by
 * the live feed, so a device or rollout looks the same in `GET` answers and in server-sent events.
 */

export function deviceView(d: DeviceRow): LiveDevice {
  return {
    id: d.id,
    deviceClass: d.deviceClass,
    tags: JSON.parse(d.tags) as string[],
    createdAt: d.createdAt,
    lastSeen: d.lastSeen,
    state: d.state,
    engineId: d.engineId,
    powerMode: d.powerMode,
    desiredRev: d.desiredRev,
    status: d.statusJson ? (JSON.parse(d.statusJson) as unknown) : null,
    reported: d.reportedJson ? (JSON.parse(d.reportedJson) as unknown) : null,
    desired: d.desiredJson ? (JSON.parse(d.desiredJson) as unknown) : null,
  };
}

export function rolloutView(row: RolloutRow, targets?: RolloutTargetRow[]): LiveRollout {
  return {
    id: row.id,
    engineId: row.engineId,
    selector: JSON.parse(row.selector) as unknown,
    canaryShare: row.canaryShare,
    holdS: row.holdS,
    failureLimit: row.failureLimit,
    minFpsRatio: row.minFpsRatio,
    gateHoldS: row.gateHoldS,
    state: row.state,
    reason: row.reason,
    canaryDoneAt: row.canaryDoneAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(targets
      ? {
          targets: targets.map((t) => ({
            deviceId: t.deviceId,
            stage: t.stage,
            state: t.state,
            reason: t.reason,
            previousEngineId: t.previousEngineId,
            rev: t.rev,
          })),
        }
      : {}),
  };
}
