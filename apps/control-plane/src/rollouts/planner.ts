import type { Reported } from '@facefleet/protocol';

/**
 * The rollout state machine, as pure functions: no I/O, no clock of its own. The executor
 * (executor.ts) feeds it the stored rollout, its targets and the time, and performs the steps.
 *
 *   canary ──all canaries applied, held holdS──▶ rolling ──all targets done──▶ completed
 *     │  ▲                                         │  ▲
 *     ▼  │ resume                          pause  ▼  │ resume
 *     paused ◀──────────────────────────────────────┘
 *   any non-final state ──failures > failureLimit──▶ halted (targets reverted)
 *   any non-final state ──abort──▶ aborted (targets reverted)
 */

export const ROLLOUT_STATES = [
  'canary',
  'rolling',
  'paused',
  'completed',
  'halted',
  'aborted',
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];
export const TARGET_STATES = ['pending', 'desired', 'applied', 'failed', 'reverted'] as const;
export type TargetState = (typeof TARGET_STATES)[number];

/** Which devices a rollout (or an alert rule) names: by ids, tag and/or class. */
export interface Selector {
  deviceIds?: string[] | undefined;
  tag?: string | undefined;
  deviceClass?: string | undefined;
}

export interface RolloutView {
  id: string;
  engineId: string;
  state: RolloutState;
  pausedFrom: RolloutState | null;
  canaryDoneAt: number | null;
  holdS: number;
  failureLimit: number;
}

export interface TargetView {
  deviceId: string;
  stage: 'canary' | 'rest';
  state: TargetState;
  /** Revision of the desired state that carried the rollout's engine; null before it was sent. */
  rev: number | null;
}

export type RolloutStep =
  /** Send the device the rollout's engine. */
  | { kind: 'set-desired'; deviceId: string }
  /** Send the device back the engine it ran before the rollout. */
  | { kind: 'revert'; deviceId: string }
  | { kind: 'set-state'; state: RolloutState; reason: string | null }
  /** Every canary applied at `at`: the hold starts. */
  | { kind: 'canary-done'; at: number };

const FINAL: readonly RolloutState[] = ['completed', 'halted', 'aborted'];
export const isFinal = (s: RolloutState) => FINAL.includes(s);

/** Splits targets into canary and rest: the first ceil(share·n) of the sorted ids, at least one. */
export function assignStages(deviceIds: string[], canaryShare: number): TargetView[] {
  const sorted = [...new Set(deviceIds)].sort();
  const canaries = canaryShare <= 0 ? 0 : Math.max(1, Math.ceil(canaryShare * sorted.length));
  return sorted.map((deviceId, i) => ({
    deviceId,
    stage: i < canaries ? 'canary' : 'rest',
    state: 'pending',
    rev: null,
  }));
}

/** The state a new rollout starts in. */
export function initialState(targets: TargetView[]): RolloutState {
  return targets.some((t) => t.stage === 'canary') ? 'canary' : 'rolling';
}

function reverts(targets: TargetView[]): RolloutStep[] {
  return targets
    .filter((t) => t.state === 'desired' || t.state === 'applied' || t.state === 'failed')
    .map((t) => ({ kind: 'revert', deviceId: t.deviceId }));
}

/** What to do next. Applying the steps and planning again yields no further steps (a fixpoint). */
export function planRollout(r: RolloutView, targets: TargetView[], now: number): RolloutStep[] {
  if (r.state === 'completed') return [];
  if (r.state === 'halted' || r.state === 'aborted') return reverts(targets);

  const failures = targets.filter((t) => t.state === 'failed').length;
  if (failures > r.failureLimit) {
    return [
      {
        kind: 'set-state',
        state: 'halted',
        reason: `${failures} devices failed the update (limit ${r.failureLimit})`,
      },
      ...reverts(targets),
    ];
  }
  if (r.state === 'paused') return [];

  const send = (stage: 'canary' | 'rest' | 'all'): RolloutStep[] =>
    targets
      .filter((t) => t.state === 'pending' && (stage === 'all' || t.stage === stage))
      .map((t) => ({ kind: 'set-desired', deviceId: t.deviceId }));

  if (r.state === 'canary') {
    const canaries = targets.filter((t) => t.stage === 'canary');
    const steps = send('canary');
    if (steps.length > 0) return steps;
    if (!canaries.every((t) => t.state === 'applied')) return [];
    if (r.canaryDoneAt === null) {
      return r.holdS <= 0
        ? [{ kind: 'set-state', state: 'rolling', reason: null }, ...send('rest')]
        : [{ kind: 'canary-done', at: now }];
    }
    if (now - r.canaryDoneAt < r.holdS * 1000) return [];
    return [{ kind: 'set-state', state: 'rolling', reason: null }, ...send('rest')];
  }

  // rolling
  const steps = send('all');
  if (steps.length > 0) return steps;
  if (targets.every((t) => t.state === 'applied' || t.state === 'failed')) {
    return [
      {
        kind: 'set-state',
        state: 'completed',
        reason: failures > 0 ? `${failures} devices failed the update` : null,
      },
    ];
  }
  return [];
}

/** When the next time-driven step may become due (the end of the canary hold), or null. */
export function nextDeadline(r: RolloutView): number | null {
  return r.state === 'canary' && r.canaryDoneAt !== null ? r.canaryDoneAt + r.holdS * 1000 : null;
}

/** How a device's `reported` message moves its target; null when it is not about this rollout. */
export function targetAfterReport(
  r: Pick<RolloutView, 'id' | 'engineId' | 'state'>,
  target: TargetView,
  report: Reported,
): { state: TargetState; reason: string | null; gateJson: string | null } | null {
  if (target.state !== 'desired' && target.state !== 'applied') return null;
  if (target.rev !== null && report.rev < target.rev) return null;
  const u = report.update;
  if (u.rolloutId !== r.id || u.engineId !== r.engineId) return null;
  // what the device's gates measured goes with the target (its AP and FPS beside the previous engine's)
  const gateJson = u.gate && u.gate.engineId === r.engineId ? JSON.stringify(u.gate) : null;
  if (u.state === 'applied' && report.engine?.id === r.engineId) {
    return target.state === 'applied' ? null : { state: 'applied', reason: null, gateJson };
  }
  // an accuracy regression counts as any other failure: toward the limit, halting, reverting
  if (u.state === 'rolled_back' || u.state === 'failed') {
    return { state: 'failed', reason: u.reason ?? u.state, gateJson };
  }
  return null;
}

/** Operator commands: the state after pause/resume/abort, or an error message. */
export function command(
  r: Pick<RolloutView, 'state' | 'pausedFrom'>,
  action: 'pause' | 'resume' | 'abort',
): { state: RolloutState; pausedFrom: RolloutState | null } | { error: string } {
  if (isFinal(r.state)) return { error: `rollout is ${r.state}` };
  switch (action) {
    case 'pause':
      return r.state === 'paused'
        ? { error: 'rollout is already paused' }
        : { state: 'paused', pausedFrom: r.state };
    case 'resume':
      return r.state !== 'paused'
        ? { error: `rollout is ${r.state}, not paused` }
        : { state: r.pausedFrom ?? 'rolling', pausedFrom: null };
    case 'abort':
      return { state: 'aborted', pausedFrom: null };
  }
}
