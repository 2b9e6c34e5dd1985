import type {
  Alert,
  CameraStatus,
  DEVICE_STATES,
  Desired,
  MetricsSample,
  Reported,
  Status,
  UpdateGate,
} from '@facefleet/protocol';
import type { RolloutState, Selector, TargetState } from '../rollouts/planner.js';

/**
 * What the control plane streams to browsers on `GET /api/v1/events` (server-sent events). Each
 * event's SSE `event:` field is its `type`, its `data:` the JSON of the whole object. These are HTTP
 * API shapes, built from what the control plane stored; the MQTT payloads stay in the protocol
 * package. The dashboard imports these types (types only: nothing of the server reaches its bundle).
 */

/** A device as the API lists it (`GET /api/v1/devices`), sent when it is enrolled or changes state. */
export interface LiveDevice {
  id: string;
  deviceClass: string;
  tags: string[];
  createdAt: number;
  lastSeen: number | null;
  /** null: never heard from. */
  state: (typeof DEVICE_STATES)[number] | null;
  engineId: string | null;
  powerMode: string | null;
  desiredRev: number;
  /** The last status, report and desired state (protocol payloads), as stored. */
  status: Status | null;
  reported: Reported | null;
  desired: Desired | null;
  /**
   * Its cameras and their states, from the status (`deviceCameras`: an agent older than cameras has
   * one, "0"); empty before the first status.
   */
  cameras: CameraStatus[];
}

/** A rollout with its targets, as `GET /api/v1/rollouts/:id` shows it. */
export interface LiveRollout {
  id: string;
  engineId: string;
  selector: Selector;
  canaryShare: number;
  holdS: number;
  failureLimit: number;
  minFpsRatio: number;
  gateHoldS: number;
  /** AP points a new engine may lose on a device's golden set. */
  apTolerance: number;
  state: RolloutState;
  reason: string | null;
  canaryDoneAt: number | null;
  createdAt: number;
  updatedAt: number;
  targets?: {
    deviceId: string;
    stage: 'canary' | 'rest';
    state: TargetState;
    reason: string | null;
    previousEngineId: string | null;
    rev: number | null;
    /** What the device's gates measured: both APs, both FPS figures (null before its report). */
    gate: UpdateGate | null;
  }[];
}

export type LiveEvent =
  /** Sent first on every connection: who is connected; the client (re)loads its snapshot then. */
  | { type: 'hello'; serverTime: number; principal: { name: string; role: string } }
  | { type: 'device'; device: LiveDevice }
  | { type: 'device-removed'; deviceId: string }
  /** A committed face-count window of one camera. */
  | {
      type: 'faces';
      deviceId: string;
      camera: string;
      ts: number;
      start: number;
      end: number;
      frames: number;
      last: number;
      max: number;
      mean: number;
      receivedAt: number;
    }
  /** A committed metrics sample, summarised; `referenceFps` is the class's model-card figure. */
  | ({ type: 'metrics'; receivedAt: number } & MetricsSample)
  /** A device's update report (engine update progress, applied, rolled back). */
  | {
      type: 'reported';
      deviceId: string;
      ts: number;
      rev: number;
      engineId: string | null;
      update: Reported['update'];
    }
  | { type: 'rollout'; rollout: LiveRollout }
  | { type: 'alert'; alert: Alert };

export type LiveEventType = LiveEvent['type'];
