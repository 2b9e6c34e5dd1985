import type {
  ApFigures,
  DeviceClass,
  EngineManifest,
  EngineRef,
  Latency,
  Rebuild,
  UpdateGate,
  UpdateState,
} from '@facefleet/protocol';
import type { StatsWindow } from './fps-gate.js';

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
  /** The DLA core a TensorRT plan was built for (the runner gets `--dla-core`); absent: the GPU. */
  dlaCore?: number | null;
  /** The TensorRT version that built this plan (absent: unknown, e.g. the bootstrap engine). */
  trtVersion?: string | null;
  /** The ONNX model (and INT8 calibration cache) an on-device build made it from, kept to rebuild it. */
  builtFrom?: { onnx: string; calibration: string | null } | null;
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
  /**
   * The previous engine's latest runner stats windows when the switch happened: the FPS gate's
   * reference (the same estimator over the same length of windows as the new engine's).
   */
  baseline: StatsWindow[] | null;
  /** What the gates measured for this update (reported with it). */
  gate: UpdateGate | null;
  /** Set when the health gate failed; a rollback is due. */
  gateFailure: string | null;
}

/** What the device runs and how its updates went: one durable record (SQLite, with the outbox). */
export interface EngineState {
  current: InstalledEngine;
  previous: InstalledEngine | null;
  update: UpdateRecord;
  bench: EngineBench | null;
  /** The current engine's AP on the golden set, as its accuracy gate measured it (absent: none). */
  accuracy?: ApFigures | null;
  /** The last rebuild of the current engine after a TensorRT upgrade (absent: none). */
  rebuild?: RebuildRecord | null;
}

/** A rebuild for a new TensorRT version, as reported, and what undoing it needs. */
export interface RebuildRecord extends Rebuild {
  /** The plan the rebuilt one replaced while its gate runs (put back if the gate fails). */
  from: InstalledEngine | null;
  /** The runner stats windows recorded before the upgrade: the FPS gate's reference. */
  baseline: StatsWindow[] | null;
}

/** Facts about the device that decide whether an engine can run on it. */
export interface DeviceFacts {
  deviceClass: DeviceClass;
  /** TensorRT version on the device, null where there is none. */
  trtVersion: string | null;
  /** Whether the device has a golden set: new engines then pass the accuracy gate first. */
  goldenSet?: boolean;
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
  baseline: null,
  gate: null,
  gateFailure: null,
};
