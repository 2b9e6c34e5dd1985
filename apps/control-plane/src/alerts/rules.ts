import { type AlertKind, fpsRatio, type LastFaces } from '@facefleet/protocol';

/**
 * Alert rules as pure functions. A rule turns what is known about a device into a condition
 * (true, false, or unknown); a tracker per (rule, device) remembers since when the condition holds
 * and whether the alert fires. The executor (executor.ts) stores alerts and publishes them.
 *
 *  kind                threshold            condition
 *  faces_above         N faces              the last window's max ≥ N            (held forS)
 *  no_faces            —                    the last window's max = 0            (held forS)
 *  device_offline      T seconds            nothing heard from the device for T s
 *  fps_below           ratio (0.5 = 50 %)   runner inferFps / model-card FPS < ratio (held forS)
 *  temp_above          °C                   hottest sensor > threshold           (held forS)
 *  engine_rolled_back  —                    the last report says rolled_back
 */

export interface RuleSpec {
  id: string;
  kind: AlertKind;
  threshold: number;
  forS: number;
}

/** What the control plane last knew of a device when a rule is evaluated. */
export interface DeviceFacts {
  /** Server time of the last message from the device; null if never heard from. */
  lastSeen: number | null;
  /** The last face window ("last faces"); the face rules read its max. */
  lastFaces: LastFaces | null;
  /** Runner inference FPS from the last metrics, and the device class's model-card FPS. */
  inferFps: number | null;
  referenceFps: number | null;
  /** Hottest temperature sensor in the last metrics. */
  tempMaxC: number | null;
  /** The update state of the last report. */
  updateState: string | null;
}

export interface Tracker {
  /** When the condition became true (server time); null while false or unknown. */
  since: number | null;
  firing: boolean;
}

export const idleTracker: Tracker = { since: null, firing: false };

export interface Reading {
  /** true / false, or null when the facts say nothing (no metrics yet, no reference FPS). */
  holds: boolean | null;
  value: number | null;
}

export function readCondition(rule: RuleSpec, facts: DeviceFacts, now: number): Reading {
  switch (rule.kind) {
    case 'faces_above':
      return facts.lastFaces === null
        ? { holds: null, value: null }
        : { holds: facts.lastFaces.max >= rule.threshold, value: facts.lastFaces.max };
    case 'no_faces':
      return facts.lastFaces === null
        ? { holds: null, value: null }
        : { holds: facts.lastFaces.max === 0, value: facts.lastFaces.max };
    case 'device_offline': {
      if (facts.lastSeen === null) return { holds: null, value: null };
      const silentS = (now - facts.lastSeen) / 1000;
      return { holds: silentS > rule.threshold, value: Math.round(silentS) };
    }
    case 'fps_below': {
      const ratio = fpsRatio(facts.inferFps, facts.referenceFps);
      if (ratio === null) return { holds: null, value: null };
      return { holds: ratio < rule.threshold, value: Math.round(ratio * 1000) / 1000 };
    }
    case 'temp_above':
      return facts.tempMaxC === null
        ? { holds: null, value: null }
        : { holds: facts.tempMaxC > rule.threshold, value: facts.tempMaxC };
    case 'engine_rolled_back':
      return facts.updateState === null
        ? { holds: null, value: null }
        : { holds: facts.updateState === 'rolled_back', value: null };
  }
}

/** device_offline counts its own time in the condition; the others must hold for `forS`. */
function holdMs(rule: RuleSpec): number {
  return rule.kind === 'device_offline' || rule.kind === 'engine_rolled_back'
    ? 0
    : rule.forS * 1000;
}

/**
 * One evaluation step. An unknown reading leaves a firing alert firing (no news is not a
 * resolution) and a quiet one quiet.
 */
export function evaluate(
  rule: RuleSpec,
  tracker: Tracker,
  reading: Reading,
  now: number,
): { tracker: Tracker; transition: 'firing' | 'resolved' | null } {
  if (reading.holds === null) return { tracker, transition: null };
  if (!reading.holds) {
    return tracker.firing
      ? { tracker: idleTracker, transition: 'resolved' }
      : { tracker: idleTracker, transition: null };
  }
  const since = tracker.since ?? now;
  if (!tracker.firing && now - since >= holdMs(rule)) {
    return { tracker: { since, firing: true }, transition: 'firing' };
  }
  return { tracker: { since, firing: tracker.firing }, transition: null };
}

/** The human sentence of an alert. */
export function describe(
  rule: RuleSpec,
  deviceId: string,
  state: 'firing' | 'resolved',
  value: number | null,
): string {
  const v = value === null ? '' : ` (${value})`;
  const what: Record<AlertKind, string> = {
    faces_above: `saw at least ${rule.threshold} faces for ${rule.forS} s`,
    no_faces: `saw no faces for ${rule.forS} s`,
    device_offline: `was silent for more than ${rule.threshold} s`,
    fps_below: `ran below ${rule.threshold} of the model card's FPS for ${rule.forS} s`,
    temp_above: `ran hotter than ${rule.threshold} °C for ${rule.forS} s`,
    engine_rolled_back: 'rolled an engine update back',
  };
  return state === 'firing'
    ? `${deviceId} ${what[rule.kind]}${v} [rule ${rule.id}]`
    : `${deviceId} is back to normal${v} [rule ${rule.id}]`;
}
