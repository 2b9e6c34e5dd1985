import type {
  DeviceClass,
  EngineManifest,
  EngineRef,
  Latency,
  UpdateState,
} from '@facefleet/protocol';

/** An engine on disk that the runner can load. */
export interface InstalledEngine {
  ref: EngineRef;
  /** Absolute path of the model file the runner loads (ONNX model or TensorRT plan). */
  path: string;
  format: 'onnx' | 'plan';
  /**
   * The engine's version (from its signed manifest); absent for the bootstrap model and engines
   * installed before versions existed (taken as 0). The device does not go to a lower one unless
   * a signed rollback asks for it.
   */
  version?: number;
}

export interface EngineBench {
  engineId: string;
  inferFps: number;
  latencyMs: Latency;
  trtVersion: string | null;
}

/** The update in progress or the last one finished; persisted after every step. */
export interface UpdateRecord {
  /** The desired rev this record answers; -1 before any desired state arrived. */
  rev: number;
  engineId: string | null;
  rolloutId: string | null;
  state: UpdateState;
  progress: number | null;
  reason: string | null;
  /** The manifest being applied. */
  target: EngineManifest | null;
  /** The verified (and, for an on-device build, built) engine, ready to switch to. */
  staged: InstalledEngine | null;
  /** inference figures trtexec measured for the staged engine */
  stagedBench: EngineBench | null;
  /** FPS the previous engine ran at when the switch happened: the health gate's reference. */
  baselineFps: number | null;
  /** Set when the health gate failed; a rollback is due. */
  gateFailure: string | null;
}

/** What the device runs and how its updates went: one durable record (SQLite, with the outbox). */
export interface EngineState {
  current: InstalledEngine;
  previous: InstalledEngine | null;
  update: UpdateRecord;
  bench: EngineBench | null;
}

/** Facts about the device that decide whether an engine can run on it. */
export interface DeviceFacts {
  deviceClass: DeviceClass;
  /** TensorRT version on the device, null where there is none. */
  trtVersion: string | null;
}

export const IDLE_UPDATE: UpdateRecord = {
  rev: -1,
  engineId: null,
  rolloutId: null,
  state: 'idle',
  progress: null,
  reason: null,
  target: null,
  staged: null,
  stagedBench: null,
  baselineFps: null,
  gateFailure: null,
};
