import { examples, type Reported } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import {
  assignStages,
  command,
  initialState,
  planRollout,
  type RolloutStep,
  type RolloutView,
  type TargetView,
  targetAfterReport,
} from './planner.js';

/** Applies steps the way the executor does, so a test can walk the machine. */
function apply(
  r: RolloutView,
  targets: TargetView[],
  steps: RolloutStep[],
): [RolloutView, TargetView[]] {
  let next = { ...r };
  const ts = targets.map((t) => ({ ...t }));
  for (const s of steps) {
    if (s.kind === 'set-state') next = { ...next, state: s.state };
    if (s.kind === 'canary-done') next = { ...next, canaryDoneAt: s.at };
    if (s.kind === 'set-desired')
      Object.assign(ts.find((t) => t.deviceId === s.deviceId)!, { state: 'desired', rev: 1 });
    if (s.kind === 'revert')
      Object.assign(ts.find((t) => t.deviceId === s.deviceId)!, { state: 'reverted' });
  }
  return [next, ts];
}

const setTarget = (ts: TargetView[], id: string, state: TargetView['state']) =>
  ts.map((t) => (t.deviceId === id ? { ...t, state } : t));

function start(
  ids: string[],
  share: number,
  over: Partial<RolloutView> = {},
): [RolloutView, TargetView[]] {
  const targets = assignStages(ids, share);
  return [
    {
      id: 'ro-1',
      engineId: 'eng-2',
      state: initialState(targets),
      pausedFrom: null,
      canaryDoneAt: null,
      holdS: 60,
      failureLimit: 0,
      ...over,
    },
    targets,
  ];
}

const ids = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'd9'];

describe('stages', () => {
  it('puts ceil(share·n) devices, at least one, in the canary', () => {
    expect(assignStages(ids, 0.1).filter((t) => t.stage === 'canary')).toHaveLength(1);
    expect(assignStages(ids, 0.25).filter((t) => t.stage === 'canary')).toHaveLength(3);
    expect(assignStages(['a'], 0.01).filter((t) => t.stage === 'canary')).toHaveLength(1);
    expect(assignStages(ids, 0).every((t) => t.stage === 'rest')).toBe(true);
    expect(initialState(assignStages(ids, 0))).toBe('rolling');
  });
});

describe('promotion', () => {
  it('sends the canaries first, holds, then promotes to the rest and completes', () => {
    let [r, ts] = start(ids, 0.2);
    const first = planRollout(r, ts, 0);
    expect(first).toEqual([
      { kind: 'set-desired', deviceId: 'd0' },
      { kind: 'set-desired', deviceId: 'd1' },
    ]);
    [r, ts] = apply(r, ts, first);
    expect(planRollout(r, ts, 1000)).toEqual([]); // waiting for the canaries' reports
    ts = setTarget(ts, 'd0', 'applied');
    expect(planRollout(r, ts, 2000)).toEqual([]);
    ts = setTarget(ts, 'd1', 'applied');
    const done = planRollout(r, ts, 3000);
    expect(done).toEqual([{ kind: 'canary-done', at: 3000 }]);
    [r, ts] = apply(r, ts, done);
    expect(planRollout(r, ts, 3000 + 59_999)).toEqual([]); // the hold is not over
    const promote = planRollout(r, ts, 3000 + 60_000);
    expect(promote[0]).toEqual({ kind: 'set-state', state: 'rolling', reason: null });
    expect(promote.slice(1).map((s) => (s as { deviceId: string }).deviceId)).toEqual(ids.slice(2));
    [r, ts] = apply(r, ts, promote);
    for (const id of ids) ts = setTarget(ts, id, 'applied');
    expect(planRollout(r, ts, 70_000)).toEqual([
      { kind: 'set-state', state: 'completed', reason: null },
    ]);
    [r, ts] = apply(r, ts, planRollout(r, ts, 70_000));
    expect(planRollout(r, ts, 80_000)).toEqual([]);
  });

  it('does not promote while a canary device is offline (its desired state waits, retained)', () => {
    let [r, ts] = start(ids, 0.2, { holdS: 0 });
    [r, ts] = apply(r, ts, planRollout(r, ts, 0));
    ts = setTarget(ts, 'd0', 'applied'); // d1 is offline: still `desired`
    expect(planRollout(r, ts, 1_000_000)).toEqual([]);
    ts = setTarget(ts, 'd1', 'applied'); // back online, picked it up, applied
    expect(planRollout(r, ts, 1_000_001)[0]).toEqual({
      kind: 'set-state',
      state: 'rolling',
      reason: null,
    });
  });

  it('completes with offline stragglers only once they report', () => {
    let [r, ts] = start(['a', 'b'], 0);
    [r, ts] = apply(r, ts, planRollout(r, ts, 0));
    ts = setTarget(ts, 'a', 'applied');
    expect(planRollout(r, ts, 1)).toEqual([]);
    ts = setTarget(ts, 'b', 'applied');
    expect(planRollout(r, ts, 2)).toEqual([
      { kind: 'set-state', state: 'completed', reason: null },
    ]);
  });
});

describe('halt and revert', () => {
  it('halts when failures pass the limit and reverts every device that got the engine', () => {
    let [r, ts] = start(ids, 0.3, { failureLimit: 1 });
    [r, ts] = apply(r, ts, planRollout(r, ts, 0));
    ts = setTarget(ts, 'd0', 'failed');
    expect(planRollout(r, ts, 1)).toEqual([]); // one failure is within the limit
    ts = setTarget(ts, 'd1', 'failed');
    const steps = planRollout(r, ts, 2);
    expect(steps[0]).toMatchObject({ kind: 'set-state', state: 'halted' });
    expect(steps.slice(1)).toEqual([
      { kind: 'revert', deviceId: 'd0' },
      { kind: 'revert', deviceId: 'd1' },
      { kind: 'revert', deviceId: 'd2' },
    ]);
    [r, ts] = apply(r, ts, steps);
    expect(r.state).toBe('halted');
    expect(planRollout(r, ts, 3)).toEqual([]); // reverted devices are not reverted again
    expect(ts.filter((t) => t.stage === 'rest').every((t) => t.state === 'pending')).toBe(true);
  });

  it('halts even while paused', () => {
    let [r, ts] = start(ids, 0.1);
    [r, ts] = apply(r, ts, planRollout(r, ts, 0));
    const paused = command(r, 'pause');
    if ('error' in paused) throw new Error(paused.error);
    r = { ...r, ...paused };
    ts = setTarget(ts, 'd0', 'failed');
    expect(planRollout(r, ts, 1)[0]).toMatchObject({ kind: 'set-state', state: 'halted' });
  });

  it('aborting reverts what was sent and leaves the rest alone', () => {
    let [r, ts] = start(ids, 0.2);
    [r, ts] = apply(r, ts, planRollout(r, ts, 0));
    const aborted = command(r, 'abort');
    if ('error' in aborted) throw new Error(aborted.error);
    r = { ...r, ...aborted };
    expect(planRollout(r, ts, 1)).toEqual([
      { kind: 'revert', deviceId: 'd0' },
      { kind: 'revert', deviceId: 'd1' },
    ]);
  });
});

describe('pause and resume', () => {
  it('sends nothing while paused and resumes where it was', () => {
    const [r0, ts] = start(ids, 0.1);
    const paused = command(r0, 'pause');
    if ('error' in paused) throw new Error(paused.error);
    const r = { ...r0, ...paused };
    expect(planRollout(r, ts, 0)).toEqual([]);
    const resumed = command(r, 'resume');
    expect(resumed).toEqual({ state: 'canary', pausedFrom: null });
    expect(command(r0, 'resume')).toHaveProperty('error');
    expect(command({ state: 'completed', pausedFrom: null }, 'abort')).toHaveProperty('error');
  });
});

describe('reports', () => {
  const target: TargetView = { deviceId: 'cam-7', stage: 'canary', state: 'desired', rev: 12 };
  const r = { id: 'ro-1', engineId: 'eng-2', state: 'canary' as const };
  const report = (state: Reported['update']['state'], over: Partial<Reported> = {}): Reported => ({
    ...examples.reported,
    rev: 12,
    engine: { ...examples.reported.engine, id: state === 'applied' ? 'eng-2' : 'eng-1' },
    update: {
      ...examples.reported.update,
      state,
      engineId: 'eng-2',
      rolloutId: 'ro-1',
      reason: state === 'rolled_back' ? 'fps 40% of previous' : null,
    },
    ...over,
  });

  it('marks a target applied or failed from its report', () => {
    expect(targetAfterReport(r, target, report('applied'))).toEqual({
      state: 'applied',
      reason: null,
      gateJson: null, // the example's gate figures are another engine's
    });
    expect(targetAfterReport(r, target, report('rolled_back'))).toEqual({
      state: 'failed',
      reason: 'fps 40% of previous',
      gateJson: null,
    });
    expect(targetAfterReport(r, target, report('downloading'))).toBeNull();
  });

  it('an accuracy regression fails the target like a health failure, with both APs kept', () => {
    const gate = {
      ...examples.reported.update.gate,
      engineId: 'eng-2',
      fps: null,
      accuracy: {
        ...examples.reported.update.gate.accuracy,
        engine: { engineId: 'eng-2', ap: 12.5, evalS: 3 },
      },
    };
    const failed = report('failed');
    const next = targetAfterReport(r, target, {
      ...failed,
      update: { ...failed.update, reason: 'accuracy_regression: AP 12.50 of eng-2 …', gate },
    });
    expect(next).toEqual({
      state: 'failed',
      reason: 'accuracy_regression: AP 12.50 of eng-2 …',
      gateJson: JSON.stringify(gate),
    });
  });

  it('ignores reports about other rollouts and older revisions', () => {
    expect(targetAfterReport(r, target, report('applied', { rev: 11 }))).toBeNull();
    const other = report('applied');
    expect(
      targetAfterReport(r, target, { ...other, update: { ...other.update, rolloutId: 'ro-0' } }),
    ).toBeNull();
    expect(
      targetAfterReport(r, { ...target, state: 'reverted' }, report('rolled_back')),
    ).toBeNull();
  });
});
