import type { Latency } from './common.js';
import type { Faces, Metrics } from './messages.js';
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
