import type { CameraState, CameraStatus } from './cameras.js';
import type { Latency } from './common.js';
import type { Faces, Metrics, Status } from './messages.js';
import { modelCardFps } from './model-card.js';

/**
 * What the control plane and the dashboard derive from device messages, each computed here only:
 * the store's rows, the alert rules' facts, the live feed, the fleet overview and the dashboard
 * all call these. Pure functions, and no zod: the dashboard bundles this module
 * (`@facefleet/protocol/projections`) without the schemas.
 */

/** The hottest temperature sensor of a metrics sample (°C); null when it reports none. */
export function tempMaxC(tempsC: Record<string, number>): number | null {
  const temps = Object.values(tempsC);
  return temps.length > 0 ? Math.max(...temps) : null;
}

/** The model card's inference FPS for a device's class, beside the device's own; null if unlisted. */
export function referenceFps(deviceClass: string): number | null {
  return modelCardFps(deviceClass) ?? null;
}

/** Inference FPS as a share of the model card's (0.5 = half); null when either is unknown. */
export function fpsRatio(
  inferFps: number | null | undefined,
  reference: number | null | undefined,
): number | null {
  if (inferFps === null || inferFps === undefined || !reference) return null;
  return inferFps / reference;
}

/** "Last faces": a device's newest face window, as the fleet overview and the dashboard show it. */
export interface LastFaces {
  ts: number;
  /** Faces in the window's last frame. */
  last: number;
  max: number;
  mean: number;
  frames: number;
}

export function lastFaces(
  window: Pick<Faces, 'ts' | 'last' | 'max' | 'mean' | 'frames'>,
): LastFaces {
  return {
    ts: window.ts,
    last: window.last,
    max: window.max,
    mean: window.mean,
    frames: window.frames,
  };
}

/** One camera's figures in a metrics sample. */
export interface CameraSample {
  id: string;
  state: CameraState;
  fps: number;
  cameraFps: number;
}

/**
 * How old a camera's last window may be, behind the device's newest one, and still count in the
 * device's "faces now": a camera that stopped sending is not in view any more.
 */
export const FACES_NOW_HORIZON_MS = 30_000;

/**
 * A device's "faces now" from its cameras' last windows: the faces in view across its cameras
 * (last, max, mean and frames summed over the cameras whose window is at most
 * FACES_NOW_HORIZON_MS older than the newest); null without any. One camera: its window.
 */
export function facesNow(perCamera: Iterable<LastFaces>): LastFaces | null {
  const list = [...perCamera];
  if (list.length === 0) return null;
  const newest = Math.max(...list.map((w) => w.ts));
  const recent = list.filter((w) => w.ts >= newest - FACES_NOW_HORIZON_MS);
  if (recent.length === 1) return recent[0]!;
  const sum = (f: (w: LastFaces) => number) => recent.reduce((n, w) => n + f(w), 0);
  return {
    ts: newest,
    last: sum((w) => w.last),
    max: sum((w) => w.max),
    mean: Math.round(sum((w) => w.mean) * 1000) / 1000,
    frames: sum((w) => w.frames),
  };
}

/** A metrics message, flattened: what the live feed streams and the dashboard keeps per device. */
export interface MetricsSample {
  deviceId: string;
  ts: number;
  deviceClass: string;
  fps: number | null;
  inferFps: number | null;
  latencyMs: Latency | null;
  tempsC: Record<string, number>;
  powerMode: string | null;
  gpuPct: number | null;
  /** The model card's figure for the class (`referenceFps`). */
  referenceFps: number | null;
  /** Per camera; empty from agents older than cameras. */
  cameras: CameraSample[];
}

export function metricsSample(m: Metrics): MetricsSample {
  return {
    deviceId: m.deviceId,
    ts: m.ts,
    deviceClass: m.device.deviceClass,
    fps: m.runner?.fps ?? null,
    inferFps: m.runner?.inferFps ?? null,
    latencyMs: m.runner?.latencyMs ?? null,
    tempsC: m.device.tempsC,
    powerMode: m.device.powerMode,
    gpuPct: m.device.gpuPct,
    referenceFps: referenceFps(m.device.deviceClass),
    cameras: (m.runner?.cameras ?? []).map((c) => ({
      id: c.id,
      state: c.state,
      fps: c.fps,
      cameraFps: c.cameraFps,
    })),
  };
}

/** A device's newest metrics sample, summarised as the fleet overview shows it. */
export interface LastMetrics {
  ts: number;
  fps: number | null;
  inferFps: number | null;
  latencyP95: number | null;
  tempMaxC: number | null;
  powerMode: string | null;
}

export function lastMetrics(
  sample: Pick<MetricsSample, 'ts' | 'fps' | 'inferFps' | 'latencyMs' | 'tempsC' | 'powerMode'>,
): LastMetrics {
  return {
    ts: sample.ts,
    fps: sample.fps,
    inferFps: sample.inferFps,
    latencyP95: sample.latencyMs?.p95 ?? null,
    tempMaxC: tempMaxC(sample.tempsC),
    powerMode: sample.powerMode,
  };
}

/**
 * A device's cameras as the fleet knows them: its status's camera list; for an agent older than
 * cameras, its one camera "0", online while the device is. Empty when the device never sent a
 * status.
 */
export function deviceCameras(
  status: Pick<Status, 'state' | 'ts' | 'cameras'> | null | undefined,
): CameraStatus[] {
  if (!status) return [];
  if (status.cameras) return status.cameras;
  const offline = status.state === 'offline';
  return [
    {
      id: '0',
      state: offline ? 'offline' : 'online',
      reason: offline ? 'device offline' : null,
      since: status.ts,
    },
  ];
}

/** How many cameras a device has, and how many are in each state. */
export interface CameraCounts {
  total: number;
  online: number;
  reconnecting: number;
  offline: number;
}

export function cameraCounts(cameras: readonly Pick<CameraStatus, 'state'>[]): CameraCounts {
  const counts: CameraCounts = { total: cameras.length, online: 0, reconnecting: 0, offline: 0 };
  for (const c of cameras) counts[c.state] += 1;
  return counts;
}
