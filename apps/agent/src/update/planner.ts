import { type Desired, dlaCores, type EngineManifest } from '@facefleet/protocol';
import type { DeviceFacts, EngineState } from './state.js';

/** One step of an engine update. Executors (executors.ts) perform them; rollback is one of them. */
export type Step =
  /** The desired engine cannot run here: report `failed` with the reason. */
  | { kind: 'reject'; manifest: EngineManifest; reason: string }
  /** The desired engine already runs (or none is desired): answer the new rev. */
  | { kind: 'acknowledge' }
  /** Record the new target; state `downloading`. */
  | { kind: 'begin'; manifest: EngineManifest }
  /** Fetch the artifact (and calibration cache), resuming a partial download. */
  | { kind: 'download'; manifest: EngineManifest }
  /** sha256 and the Ed25519 signature; state `verifying`. */
  | { kind: 'verify'; manifest: EngineManifest }
  /** On-device build of an ONNX model into a TensorRT plan with trtexec. */
  | { kind: 'build'; manifest: EngineManifest }
  /** trtexec --loadEngine: inference-only FPS and latency of the new plan. */
  | { kind: 'bench'; manifest: EngineManifest }
  /**
   * `facefleet-runner eval` of the new engine and the current one on the golden set: fails with
   * `accuracy_regression` when AP drops by more than `toleranceAp` points.
   */
  | { kind: 'accuracyGate'; manifest: EngineManifest; toleranceAp: number }
  /** Move the engine into the engines directory; state `staged`. */
  | { kind: 'stage'; manifest: EngineManifest }
  /** Atomically make the staged engine current (the previous one stays); state `health_check`. */
  | { kind: 'switch' }
  | { kind: 'restartRunner' }
  | { kind: 'healthGate'; holdS: number; minFpsRatio: number }
  /** Report `applied`. */
  | { kind: 'commit' }
  /** Switch back to the previous engine, restart the runner, report `rolled_back`. */
  | { kind: 'rollback'; reason: string }
  /** The current plan was built by another TensorRT and no ONNX was kept: report it `unrunnable`. */
  | { kind: 'unrunnable'; fromTrt: string; toTrt: string }
  /**
   * Rebuild the current engine from its kept ONNX for this TensorRT (trtexec), bench it, pass the
   * accuracy gate against the AP recorded before the upgrade, then make the new plan current.
   */
  | { kind: 'rebuild'; fromTrt: string; toTrt: string; toleranceAp: number }
  /** The FPS gate of a rebuilt plan, against the runner figures recorded before the upgrade. */
  | { kind: 'rebuildGate'; holdS: number; minFpsRatio: number }
  /** Report `rebuilt`. */
  | { kind: 'rebuildCommit' };

export type StepKind = Step['kind'];

/** AP points a new engine may lose when the desired state names no tolerance (older control planes). */
export const DEFAULT_AP_TOLERANCE = 1;

const sameVersion = (a: string, b: string) =>
  a.split('.').slice(0, 3).join('.') === b.split('.').slice(0, 3).join('.');

/** Why an engine cannot run on this device; undefined when it can. */
export function incompatibility(m: EngineManifest, facts: DeviceFacts): string | undefined {
  if (m.deviceClass !== facts.deviceClass) {
    return `engine targets ${m.deviceClass}, this device is ${facts.deviceClass}`;
  }
  if (m.backend === 'opencv' && m.format !== 'onnx') {
    return 'the opencv backend loads ONNX models only, not TensorRT plans';
  }
  if (m.backend === 'tensorrt') {
    if (facts.trtVersion === null) return 'engine needs TensorRT, which this device does not have';
    if (m.format === 'plan') {
      if (m.trtVersion === null)
        return 'a TensorRT plan must name the TensorRT version it was built with';
      if (!sameVersion(m.trtVersion, facts.trtVersion)) {
        return `engine was built with TensorRT ${m.trtVersion}, this device has ${facts.trtVersion}`;
      }
    }
  }
  if (m.dlaCore != null) {
    if (m.backend !== 'tensorrt') return `a DLA core (${m.dlaCore}) needs the tensorrt backend`;
    const cores = dlaCores(facts.deviceClass);
    if (cores === 0) {
      return `engine asks for DLA core ${m.dlaCore}, but ${facts.deviceClass} has no DLA (deep-learning accelerator): build it for the GPU`;
    }
    if (m.dlaCore >= cores) {
      return `engine asks for DLA core ${m.dlaCore}, but ${facts.deviceClass} has ${cores} (0–${cores - 1})`;
    }
  }
  if (m.calibration && !(m.format === 'onnx' && m.backend === 'tensorrt')) {
    return 'a calibration cache only goes with an ONNX model built on the device (backend tensorrt)';
  }
  return undefined;
}

/**
 * Why the desired engine would take the device backwards (a lower version than the engine it runs)
 * without being asked to; undefined otherwise. The rollback signature itself is checked in the
 * verify step (crypto is not the planner's business): here, only whether one was sent at all.
 */
export function downgrade(state: EngineState, desired: Desired): string | undefined {
  const m = desired.engine;
  const running = state.current.version ?? 0;
  if (!m || m.version >= running || desired.rollback) return undefined;
  return `engine ${m.id} (version ${m.version}) is older than the running ${state.current.ref.id} (version ${running}), and no rollback was asked for`;
}

/** The health gate of a rebuild when no desired state says otherwise. */
const DEFAULT_GATE = { holdS: 30, minFpsRatio: 0.9 };

/**
 * A TensorRT upgrade under the current plan: rebuild it from its kept ONNX (or report it unrunnable
 * when there is none). Null when nothing is due: no TensorRT, a plan of this version, a version not
 * known (the bootstrap engine), or a rebuild for this version that already failed.
 */
function rebuildSteps(
  state: EngineState,
  desired: Desired | null,
  facts: DeviceFacts,
): Step[] | null {
  const r = state.rebuild;
  const { holdS, minFpsRatio } = desired?.healthGate ?? DEFAULT_GATE;
  const gate = { kind: 'rebuildGate', holdS, minFpsRatio } as const;
  // interrupted while the rebuilt plan ran its gate (agent restarted): run the gate again
  if (r?.state === 'rebuilding')
    return [{ kind: 'restartRunner' }, gate, { kind: 'rebuildCommit' }];
  const cur = state.current;
  const toTrt = facts.trtVersion;
  const fromTrt = cur.trtVersion;
  if (toTrt === null || !fromTrt || cur.ref.backend !== 'tensorrt') return null;
  if (sameVersion(fromTrt, toTrt)) return null;
  if (r && r.engineId === cur.ref.id && r.toTrt === toTrt && r.state !== 'rebuilt') return null;
  if (!cur.builtFrom) return [{ kind: 'unrunnable', fromTrt, toTrt }];
  const toleranceAp = desired?.healthGate.apTolerance ?? DEFAULT_AP_TOLERANCE;
  return [
    { kind: 'rebuild', fromTrt, toTrt, toleranceAp },
    { kind: 'restartRunner' },
    gate,
    { kind: 'rebuildCommit' },
  ];
}

/** Whether an engine is built on the device (ONNX → TensorRT plan with trtexec). */
export const buildsOnDevice = (m: EngineManifest) =>
  m.format === 'onnx' && m.backend === 'tensorrt';

/**
 * The steps that take the device from what it runs (`state`, as persisted) to what `desired` asks.
 * Pure: no I/O, so every path is unit-tested. Run again after each step or failure, and after a
 * restart, it picks up where the persisted state left off (balena-supervisor's nextSteps style).
 */
export function plan(state: EngineState, desired: Desired | null, facts: DeviceFacts): Step[] {
  const u = state.update;
  // A failed health gate is undone before anything else, whatever is desired now.
  if (u.state === 'health_check' && u.gateFailure !== null) {
    return [{ kind: 'rollback', reason: u.gateFailure }];
  }
  // a TensorRT upgrade is dealt with first, unless an update is mid-gate on a new engine
  if (u.state !== 'health_check') {
    const rebuild = rebuildSteps(state, desired, facts);
    if (rebuild) return rebuild;
  }
  if (desired === null) return [];
  const m = desired.engine;
  const { holdS, minFpsRatio } = desired.healthGate;
  const gate = { kind: 'healthGate', holdS, minFpsRatio } as const;

  if (u.state === 'health_check') {
    // Interrupted during the health gate (agent restarted): run the gate again from the start.
    if (m && u.engineId === m.id && state.current.ref.id === m.id) {
      return [{ kind: 'restartRunner' }, gate, { kind: 'commit' }];
    }
    return [{ kind: 'rollback', reason: `superseded by desired rev ${desired.rev}` }];
  }
  if (m === null || (state.current.ref.id === m.id && state.current.ref.sha256 === m.sha256)) {
    const settled =
      u.rev === desired.rev && (m === null || u.state === 'applied' || u.state === 'idle');
    return settled ? [] : [{ kind: 'acknowledge' }];
  }
  // This very rev already ended in failure or rollback: wait for a new rev, don't retry in a loop.
  if (
    u.rev === desired.rev &&
    u.engineId === m.id &&
    (u.state === 'failed' || u.state === 'rolled_back')
  ) {
    return [];
  }
  const reason = incompatibility(m, facts) ?? downgrade(state, desired);
  if (reason) return [{ kind: 'reject', manifest: m, reason }];

  const sameTarget = u.target !== null && u.target.id === m.id && u.target.sha256 === m.sha256;
  const resumeFrom = sameTarget ? u.state : 'new';
  const steps: Step[] = [];
  const prepare: Step[] = [
    { kind: 'verify', manifest: m },
    ...(buildsOnDevice(m) ? [{ kind: 'build', manifest: m } as const] : []),
    ...(m.backend === 'tensorrt' ? [{ kind: 'bench', manifest: m } as const] : []),
    ...(facts.goldenSet
      ? [
          {
            kind: 'accuracyGate',
            manifest: m,
            toleranceAp: desired.healthGate.apTolerance ?? DEFAULT_AP_TOLERANCE,
          } as const,
        ]
      : []),
    { kind: 'stage', manifest: m },
  ];
  switch (resumeFrom) {
    case 'downloading':
      steps.push({ kind: 'download', manifest: m }, ...prepare);
      break;
    case 'verifying':
      steps.push(...prepare);
      break;
    case 'staged':
      break;
    default:
      steps.push({ kind: 'begin', manifest: m }, { kind: 'download', manifest: m }, ...prepare);
  }
  steps.push({ kind: 'switch' }, { kind: 'restartRunner' }, gate, { kind: 'commit' });
  return steps;
}
