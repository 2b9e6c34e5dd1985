import {
  type AlertKind,
  CAMERA_ALERT_KINDS,
  type CameraState,
  DEFAULT_CAMERA_ID,
  fpsRatio,
  type LastFaces,
} from '@facefleet/protocol';

/**
 * Alert rules as pure functions. A rule turns what is known about a device (or one of its cameras)
 * into a condition (true, false, or unknown); a tracker per (rule, device, camera) remembers since
 * when the condition holds and whether the alert fires. The executor (executor.ts) stores alerts
 * and publishes them.
 *
 *  kind                per      threshold            condition
 *  faces_above         camera   N faces              the camera's last window's max ≥ N   (held forS)
 *  no_faces            camera   —                    the camera's last window's max = 0   (held forS)
 *  camera_offline      camera   T seconds            the camera reconnecting or offline for T s
 *                                                    (unknown while the whole device is offline:
 *                                                    device_offline covers that)
 *  device_offline      device   T seconds            nothing heard from the device for T s
 *  fps_below           device   ratio (0.5 = 50 %)   runner inferFps / model-card FPS < ratio (held forS)
 *  temp_above          device   °C                   hottest sensor > threshold           (held forS)
 *  engine_rolled_back  device   —                    the last report says rolled_back
 */

export interface RuleSpec {
  id: string;
  kind: AlertKind;
  threshold: number;
  forS: number;
}

/** Whether a kind is evaluated per camera (faces_above, no_faces, camera_offline). */
export function perCamera(kind: AlertKind): boolean {
  return CAMERA_ALERT_KINDS.includes(kind);
}

/** What the control plane last knew of one camera of a device. */
export interface CameraFacts {
  /** The camera's last face window ("last faces"); the face rules read its max. */
  lastFaces: LastFaces | null;
  /** From the device's last status; null before one listed the camera. */
  state: CameraState | null;
  reason: string | null;
}

export const unknownCamera = (): CameraFacts => ({ lastFaces: null, state: null, reason: null });

/** What the control plane last knew of a device when a rule is evaluated. */
export interface DeviceFacts {
  /** Server time of the last message from the device; null if never heard from. */
  lastSeen: number | null;
  /** online, offline or degraded, from the device's last status; null before one. */
  deviceState: string | null;
  /** Per camera id. */
  cameras: Map<string, CameraFacts>;
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

/**
 * The condition of `rule` now. Per-camera kinds read `camera` (a camera the facts no longer list
 * is not offline, and says nothing about faces).
 */
export function readCondition(
  rule: RuleSpec,
  facts: DeviceFacts,
  now: number,
  camera?: string,
): Reading {
  const cam = camera === undefined ? undefined : facts.cameras.get(camera);
  switch (rule.kind) {
    case 'faces_above': {
      const last = cam?.lastFaces ?? null;
      return last === null
        ? { holds: null, value: null }
        : { holds: last.max >= rule.threshold, value: last.max };
    }
    case 'no_faces': {
      const last = cam?.lastFaces ?? null;
      return last === null
        ? { holds: null, value: null }
        : { holds: last.max === 0, value: last.max };
    }
    case 'camera_offline':
      if (facts.deviceState === 'offline') return { holds: null, value: null };
      if (!cam) return { holds: false, value: null };
      return cam.state === null
        ? { holds: null, value: null }
        : { holds: cam.state !== 'online', value: null };
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

/**
 * device_offline counts its own time in the condition; camera_offline must hold for its threshold
 * (seconds); the others for `forS`.
 */
function holdMs(rule: RuleSpec): number {
  if (rule.kind === 'camera_offline') return rule.threshold * 1000;
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

/**
 * The human sentence of an alert. `camera`: of a per-camera alert (camera "0" is named as the
 * device alone, as before cameras); `reason`: why a camera is offline.
 */
export function describe(
  rule: RuleSpec,
  deviceId: string,
  state: 'firing' | 'resolved',
  value: number | null,
  camera?: string,
  reason?: string | null,
): string {
  const v = value === null ? '' : ` (${value})`;
  const who =
    camera === undefined || camera === DEFAULT_CAMERA_ID
      ? deviceId
      : `${deviceId} camera ${camera}`;
  const why = reason && state === 'firing' ? `: ${reason}` : '';
  const what: Record<AlertKind, string> = {
    faces_above: `saw at least ${rule.threshold} faces for ${rule.forS} s`,
    no_faces: `saw no faces for ${rule.forS} s`,
    device_offline: `was silent for more than ${rule.threshold} s`,
    fps_below: `ran below ${rule.threshold} of the model card's FPS for ${rule.forS} s`,
    temp_above: `ran hotter than ${rule.threshold} °C for ${rule.forS} s`,
    engine_rolled_back: 'rolled an engine update back',
    camera_offline: `was reconnecting or offline for more than ${rule.threshold} s`,
  };
  const text =
    state === 'firing'
      ? `${who} ${what[rule.kind]}${v} [rule ${rule.id}]${why}`
      : `${who} is back to normal${v} [rule ${rule.id}]`;
  return text.slice(0, 1024);
}
