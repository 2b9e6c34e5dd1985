import type { LiveDevice, LiveEvent, LiveRollout } from '@facefleet/control-plane/live';
import type { Alert } from '@facefleet/protocol';

/** The API's answers as the dashboard reads them (types only: nothing of the server is bundled). */
export type { Alert, LiveDevice, LiveEvent, LiveRollout };

export type Role = 'viewer' | 'operator' | 'admin';

export interface Principal {
  name: string;
  role: Role;
}

export interface Meta {
  deviceClasses: string[];
  modelCardFps: Record<string, number>;
  alertKinds: string[];
  severities: string[];
  roles: Role[];
  engine: { models: string[]; backends: string[]; formats: string[]; precisions: string[] };
}

export interface LastFaces {
  ts: number;
  last: number;
  max: number;
  mean: number;
  frames: number;
}

export interface LastMetrics {
  ts: number;
  fps: number | null;
  inferFps: number | null;
  latencyP95: number | null;
  tempMaxC: number | null;
  powerMode: string | null;
}

/** A row of `GET /api/v1/fleet/overview`, kept current by live events. */
export interface FleetDevice extends LiveDevice {
  lastFaces: LastFaces | null;
  lastMetrics: LastMetrics | null;
  referenceFps: number | null;
}

export interface Engine {
  id: string;
  name: string;
  sha256: string;
  size: number;
  deviceClass: string;
  trtVersion: string | null;
  backend: string;
  model: string;
  format: string;
  precision: string;
  createdAt: number;
}

export interface AlertRule {
  id: string;
  kind: string;
  threshold: number;
  forS: number;
  severity: string;
  selector: { tag?: string; deviceClass?: string; deviceIds?: string[] };
  webhookUrl: string | null;
  enabled: boolean;
  createdAt: number;
}

/** A stored alert (`GET /api/v1/alerts`). */
export interface StoredAlert {
  id: string;
  ruleId: string;
  deviceId: string;
  kind: string;
  state: 'firing' | 'resolved';
  severity: string;
  message: string;
  value: number | null;
  threshold: number | null;
  firedAt: number;
  resolvedAt: number | null;
}

export interface FaceBucket {
  t: number;
  windows: number;
  frames: number;
  maxFaces: number;
  meanFaces: number;
}

export interface MetricBucket {
  t: number;
  samples: number;
  fps: number;
  fpsMin: number | null;
  inferFps: number;
  latencyP95Max: number | null;
  tempMaxC: number | null;
}

export interface DeviceHistory {
  updates: {
    ts: number;
    rev: number;
    state: string;
    engineId: string | null;
    rolloutId: string | null;
    reason: string | null;
  }[];
  statuses: { ts: number; state: string; reason: string | null }[];
  latestMetrics: {
    ts: number;
    fps: number | null;
    inferFps: number | null;
    latencyMs: { p50: number; p95: number; p99: number } | null;
    gpuPct: number | null;
    ramUsedMb: number | null;
    tempsC: Record<string, number>;
    powerMode: string | null;
  } | null;
}
