import { type Desired, type EngineManifest, examples } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { incompatibility, plan, type StepKind } from './planner.js';
import { type DeviceFacts, type EngineState, IDLE_UPDATE, type InstalledEngine } from './state.js';

const sha = (c: string) => c.repeat(64);
const cpu: DeviceFacts = { deviceClass: 'generic-x86_64', trtVersion: null };
const nx: DeviceFacts = { deviceClass: 'jetson-xavier-nx', trtVersion: '8.5.2.2' };

const onnx = (id: string, c = 'b'): EngineManifest => ({
  ...examples.desired.engine,
  id,
  sha256: sha(c),
  deviceClass: 'generic-x86_64',
  trtVersion: null,
  backend: 'opencv',
  model: 'blazeface',
  format: 'onnx',
  calibration: null,
});
const installed = (id: string, c = 'a'): InstalledEngine => ({
  ref: { id, sha256: sha(c), backend: 'opencv', model: 'blazeface' },
  path: `/data/engines/${id}/model.onnx`,
  format: 'onnx',
});
const state = (
  over: Partial<EngineState> = {},
  update: Partial<EngineState['update']> = {},
): EngineState => ({
  current: installed('e1'),
  previous: null,
  bench: null,
  ...over,
  update: { ...IDLE_UPDATE, ...update },
});
const desired = (engine: EngineManifest | null, rev = 1): Desired => ({
  v: 1,
  deviceId: 'cam-7',
  rev,
  ts: examples.desired.ts,
  engine,
  rolloutId: 'ro-1',
  healthGate: { holdS: 10, minFpsRatio: 0.8 },
});
const kinds = (steps: { kind: StepKind }[]) => steps.map((s) => s.kind);

describe('plan', () => {
  it('no desired state: nothing to do', () => {
    expect(plan(state(), null, cpu)).toEqual([]);
  });

  it('a new ONNX engine on a CPU device: the whole path, with the gate from desired', () => {
    const steps = plan(state(), desired(onnx('e2')), cpu);
    expect(kinds(steps)).toEqual([
      'begin',
      'download',
      'verify',
      'stage',
      'switch',
      'restartRunner',
      'healthGate',
      'commit',
    ]);
    expect(steps[6]).toEqual({ kind: 'healthGate', holdS: 10, minFpsRatio: 0.8 });
  });

  it('a TensorRT plan on a Jetson adds the trtexec bench; an ONNX+calibration adds the build', () => {
    const planEngine: EngineManifest = {
      ...onnx('p1'),
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      format: 'plan',
      trtVersion: '8.5.2',
    };
    expect(kinds(plan(state(), desired(planEngine), nx))).toEqual([
      'begin',
      'download',
      'verify',
      'bench',
      'stage',
      'switch',
      'restartRunner',
      'healthGate',
      'commit',
    ]);
    const build: EngineManifest = {
      ...planEngine,
      id: 'o1',
      format: 'onnx',
      trtVersion: null,
      calibration: { url: '/api/v1/engines/o1/calibration', sha256: sha('c'), size: 100 },
    };
    expect(kinds(plan(state(), desired(build), nx))).toEqual([
      'begin',
      'download',
      'verify',
      'build',
      'bench',
      'stage',
      'switch',
      'restartRunner',
      'healthGate',
      'commit',
    ]);
  });

  it('rejects engines this device cannot run, with the reason', () => {
    const wrongClass = { ...onnx('e2'), deviceClass: 'jetson-nano' } as const;
    expect(plan(state(), desired(wrongClass), cpu)).toEqual([
      {
        kind: 'reject',
        manifest: wrongClass,
        reason: 'engine targets jetson-nano, this device is generic-x86_64',
      },
    ]);
    const trt = {
      ...onnx('p'),
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      format: 'plan',
      trtVersion: '8.4.1',
    } as const;
    expect(incompatibility(trt, nx)).toBe(
      'engine was built with TensorRT 8.4.1, this device has 8.5.2.2',
    );
    expect(incompatibility({ ...trt, trtVersion: '8.5.2' }, nx)).toBeUndefined();
    expect(incompatibility({ ...trt, deviceClass: 'generic-x86_64' }, cpu)).toMatch(
      /needs TensorRT/,
    );
    expect(incompatibility({ ...onnx('x'), format: 'plan' }, cpu)).toMatch(/ONNX models only/);
  });

  it('refuses an engine older than the running one unless a rollback is asked for (issue 17, finding 15)', () => {
    const running = state({ current: { ...installed('e5'), version: 5 } });
    const older = { ...onnx('e3'), version: 3 };
    expect(plan(running, desired(older), cpu)).toEqual([
      {
        kind: 'reject',
        manifest: older,
        reason:
          'engine e3 (version 3) is older than the running e5 (version 5), and no rollback was asked for',
      },
    ]);
    // newer, or the same version: no rollback needed
    expect(kinds(plan(running, desired({ ...onnx('e6'), version: 6 }), cpu))[0]).toBe('begin');
    // asked for: planned like any update (the verify step checks the rollback's signature)
    expect(kinds(plan(running, { ...desired(older), rollback: 'c2lnbmF0dXJl' }, cpu))[0]).toBe(
      'begin',
    );
    // the bootstrap model (no version) takes anything
    expect(kinds(plan(state(), desired(older), cpu))[0]).toBe('begin');
  });

  it('the desired engine already runs: acknowledge a new rev once, then nothing', () => {
    const same = { ...onnx('e1', 'a') };
    expect(kinds(plan(state(), desired(same, 4), cpu))).toEqual(['acknowledge']);
    expect(
      plan(state({}, { rev: 4, state: 'applied', engineId: 'e1' }), desired(same, 4), cpu),
    ).toEqual([]);
    // desired without an engine: acknowledge the rev, keep running what runs
    expect(kinds(plan(state(), desired(null, 2), cpu))).toEqual(['acknowledge']);
    expect(plan(state({}, { rev: 2 }), desired(null, 2), cpu)).toEqual([]);
  });

  it('a rev that already failed or rolled back is not retried until a new rev', () => {
    const e2 = onnx('e2');
    for (const s of ['failed', 'rolled_back'] as const) {
      const st = state({}, { rev: 3, state: s, engineId: 'e2', target: e2 });
      expect(plan(st, desired(e2, 3), cpu)).toEqual([]);
      expect(kinds(plan(st, desired(e2, 4), cpu))[0]).toBe('begin');
    }
  });

  it('resumes an interrupted update from its persisted state', () => {
    const e2 = onnx('e2');
    const at = (s: EngineState['update']['state']) =>
      kinds(plan(state({}, { rev: 1, state: s, engineId: 'e2', target: e2 }), desired(e2, 1), cpu));
    expect(at('downloading')).toEqual([
      'download',
      'verify',
      'stage',
      'switch',
      'restartRunner',
      'healthGate',
      'commit',
    ]);
    expect(at('verifying')).toEqual([
      'verify',
      'stage',
      'switch',
      'restartRunner',
      'healthGate',
      'commit',
    ]);
    expect(at('staged')).toEqual(['switch', 'restartRunner', 'healthGate', 'commit']);
    // a changed artifact under the same id starts over
    const changed = { ...e2, sha256: sha('f') };
    expect(
      kinds(
        plan(
          state({}, { rev: 1, state: 'downloading', engineId: 'e2', target: e2 }),
          desired(changed, 2),
          cpu,
        ),
      )[0],
    ).toBe('begin');
  });

  it('killed during the health gate: the gate runs again on the new engine', () => {
    const e2 = onnx('e2', 'b');
    const st = state(
      { current: installed('e2', 'b'), previous: installed('e1') },
      { rev: 1, state: 'health_check', engineId: 'e2', target: e2, baseline: [] },
    );
    expect(kinds(plan(st, desired(e2, 1), cpu))).toEqual(['restartRunner', 'healthGate', 'commit']);
  });

  it('a failed health gate plans a rollback, whatever is desired', () => {
    const e2 = onnx('e2', 'b');
    const st = state(
      { current: installed('e2', 'b'), previous: installed('e1') },
      {
        rev: 1,
        state: 'health_check',
        engineId: 'e2',
        target: e2,
        gateFailure: 'runner crashed (exit 3)',
      },
    );
    expect(plan(st, desired(e2, 1), cpu)).toEqual([
      { kind: 'rollback', reason: 'runner crashed (exit 3)' },
    ]);
    expect(plan(st, null, cpu)).toEqual([{ kind: 'rollback', reason: 'runner crashed (exit 3)' }]);
  });

  it('a new desired engine during a health gate rolls back first', () => {
    const e2 = onnx('e2', 'b');
    const st = state(
      { current: installed('e2', 'b'), previous: installed('e1') },
      { rev: 1, state: 'health_check', engineId: 'e2', target: e2 },
    );
    expect(plan(st, desired(onnx('e3', 'c'), 2), cpu)).toEqual([
      { kind: 'rollback', reason: 'superseded by desired rev 2' },
    ]);
  });
});

describe('DLA engines and the accuracy gate', () => {
  const trtOnnx = (
    id: string,
    dlaCore: number | null,
    deviceClass: EngineManifest['deviceClass'],
  ) => ({
    ...onnx(id),
    deviceClass,
    backend: 'tensorrt' as const,
    model: 'detectnet_v2' as const,
    format: 'onnx' as const,
    dlaCore,
  });
  const nano: DeviceFacts = { deviceClass: 'jetson-nano', trtVersion: '8.2.1' };
  const orinNano: DeviceFacts = { deviceClass: 'jetson-orin-nano', trtVersion: '8.5.2' };

  it('a DLA engine is refused on a device without DLA, with the reason, before any download', () => {
    const m = trtOnnx('dla-nano', 0, 'jetson-nano');
    expect(plan(state(), desired(m), nano)).toEqual([
      {
        kind: 'reject',
        manifest: m,
        reason:
          'engine asks for DLA core 0, but jetson-nano has no DLA (deep-learning accelerator): build it for the GPU',
      },
    ]);
    expect(incompatibility(trtOnnx('x', 1, 'jetson-orin-nano'), orinNano)).toMatch(
      /jetson-orin-nano has no DLA/,
    );
    expect(incompatibility(trtOnnx('x', 2, 'jetson-xavier-nx'), nx)).toBe(
      'engine asks for DLA core 2, but jetson-xavier-nx has 2 (0–1)',
    );
    expect(incompatibility({ ...onnx('x'), dlaCore: 0 }, cpu)).toBe(
      'a DLA core (0) needs the tensorrt backend',
    );
  });

  it('a DLA engine on a class with DLA is built like any other', () => {
    for (const [deviceClass, trtVersion] of [
      ['jetson-xavier-nx', '8.5.2'],
      ['jetson-agx-xavier', '8.5.2'],
      ['jetson-orin-nx', '8.6.2'],
      ['jetson-agx-orin', '8.6.2'],
    ] as const) {
      const m = trtOnnx('dla', 1, deviceClass);
      expect(incompatibility(m, { deviceClass, trtVersion })).toBeUndefined();
      expect(kinds(plan(state(), desired(m), { deviceClass, trtVersion }))).toContain('build');
    }
  });

  it('with a golden set, the accuracy gate runs after the bench and before the engine is staged', () => {
    const m = trtOnnx('acc', null, 'jetson-xavier-nx');
    const steps = plan(state(), desired(m), { ...nx, goldenSet: true });
    expect(kinds(steps).slice(2, 7)).toEqual(['verify', 'build', 'bench', 'accuracyGate', 'stage']);
    expect(steps[5]).toEqual({ kind: 'accuracyGate', manifest: m, toleranceAp: 1 });
    const strict = { ...desired(m), healthGate: { holdS: 5, minFpsRatio: 0.9, apTolerance: 0.25 } };
    expect(plan(state(), strict, { ...nx, goldenSet: true })[5]).toMatchObject({
      toleranceAp: 0.25,
    });
    expect(kinds(plan(state(), desired(m), nx))).not.toContain('accuracyGate');
  });
});
