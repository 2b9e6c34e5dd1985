import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type Desired,
  type EngineManifest,
  examples,
  parseJsonPayload,
  reportedSchema,
  rollbackSigningPayload,
} from '@facefleet/protocol';
import { writeDegradedBlazeface, writeGoldenSet } from '@facefleet/test-support';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../config.js';
import { openOutbox } from '../outbox/outbox.js';
import { runnerRunArgs } from '../runner/run-args.js';
import { signedManifest, startEngineServer } from '../test-support/engine-server.js';
import { jetsonFixtures } from '../test-support/fixtures.js';
import { blazefaceModel, runnerBin } from '../test-support/runner.js';
import { openEngineStore } from './engine-store.js';
import type { GoldenSet } from './eval-run.js';
import { createExecutors, enginePaths, type GateProbe } from './executors.js';
import { createReconciler } from './reconciler.js';
import type { DeviceFacts, InstalledEngine } from './state.js';

const log = pino({ level: 'silent' });
const fleet = generateKeyPairSync('ed25519');
let server: Awaited<ReturnType<typeof startEngineServer>>;
beforeAll(async () => {
  server = await startEngineServer('tok');
});
afterAll(() => server.close());

/**
 * A stand-in for trtexec (TensorRT cannot exist here): it records its arguments, writes the
 * --saveEngine file, and prints recorded real trtexec output (TensorRT 8.4 on an AGX Xavier).
 */
function trtexecStandIn(dir: string, exitCode = 0): { bin: string; argsFile: string } {
  const bin = join(dir, 'trtexec');
  const argsFile = join(dir, 'trtexec-args.txt');
  writeFileSync(
    bin,
    `#!/bin/sh
echo "$@" >> '${argsFile}'
for a in "$@"; do
  case "$a" in --saveEngine=*) printf 'PLAN' > "\${a#--saveEngine=}";; esac
done
cat '${join(jetsonFixtures, 'trtexec-trt84-agx-xavier.txt')}'
exit ${exitCode}
`,
  );
  chmodSync(bin, 0o755);
  return { bin, argsFile };
}

function rig(
  facts: DeviceFacts,
  trtexecExit = 0,
  options: { bootstrap?: InstalledEngine; goldenSet?: GoldenSet; dir?: string } = {},
) {
  // the same dir again: the agent starting over on what an earlier one left (a restart)
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ff-exec-'));
  const outbox = openOutbox({ path: join(dir, 'agent.db'), maxMessages: 1000 });
  const bootstrapPath = join(dir, 'bootstrap.onnx');
  writeFileSync(bootstrapPath, 'bootstrap');
  const bootstrap: InstalledEngine = options.bootstrap ?? {
    ref: { id: 'bootstrap', sha256: 'a'.repeat(64), backend: 'tensorrt', model: 'detectnet_v2' },
    path: bootstrapPath,
    format: 'plan',
  };
  const store = openEngineStore({ outbox, deviceId: 'nx-1', bootstrap });
  const trt = trtexecStandIn(dir, trtexecExit);
  const restarts: string[] = [];
  let gateResult: Error | number = 30;
  // The runner's TensorRT backend cannot run here: the gate sees what a Jetson runner would report,
  // one stats window a second (inference-bound: end-to-end FPS = inference FPS).
  const window = (fps: number) => ({ windowS: 1, frames: fps, inferS: 1, delivered: null });
  const gate: GateProbe = {
    waitForHello: async () => {},
    hold: async () => {
      if (gateResult instanceof Error) throw gateResult;
      return [window(gateResult)];
    },
    recentWindows: () => [window(31), window(32), window(33)],
  };
  let desired: Desired | null = null;
  const executors = createExecutors({
    store,
    dataDir: dir,
    controlPlaneUrl: server.url,
    deviceId: 'nx-1',
    token: 'tok',
    fleetPublicKey: fleet.publicKey,
    trtexecBin: trt.bin,
    trtexecBuildArgs: ['--shapes=input_1:1x3x416x736'],
    helloTimeoutS: 5,
    runnerBin: options.goldenSet ? runnerBin() : '/nonexistent/facefleet-runner',
    goldenSet: options.goldenSet ?? null,
    evalTimeoutS: 60,
    trtVersion: facts.trtVersion,
    restartRunner: async (reason) => {
      restarts.push(reason);
    },
    gate,
    log,
    desired: () => desired,
  });
  const reconciler = createReconciler({
    store,
    executors,
    facts: { ...facts, goldenSet: options.goldenSet !== undefined },
    log,
    retryInitialMs: 10,
    retryMaxMs: 50,
  });
  const reports = () => {
    const rows: string[] = [];
    for (const m of outbox.claim(1000)) if (m.kind === 'reported') rows.push(m.payload);
    return rows.map((p) => parseJsonPayload(reportedSchema, p, 'reported'));
  };
  return {
    dir,
    store,
    executors,
    trt,
    restarts,
    reports,
    setGate: (r: Error | number) => {
      gateResult = r;
    },
    /** Makes `d` the desired state the executors see, without reconciling. */
    desire: (d: Desired) => {
      desired = d;
    },
    /** The agent's start: reconcile with the persisted state, no desired state yet. */
    start: async () => {
      reconciler.kick();
      await reconciler.idle();
    },
    apply: async (d: Desired) => {
      desired = d;
      reconciler.setDesired(d);
      await reconciler.idle();
    },
    close: () => outbox.close(),
  };
}

const desiredFor = (engine: EngineManifest, rev = 1): Desired => ({
  v: 1,
  deviceId: 'nx-1',
  rev,
  ts: examples.desired.ts,
  engine,
  rolloutId: 'ro-1',
  healthGate: { holdS: 1, minFpsRatio: 0.9 },
});
const nx: DeviceFacts = { deviceClass: 'jetson-xavier-nx', trtVersion: '8.4.0' };

describe('engine update on a Jetson (trtexec replayed from recorded output)', () => {
  it('ONNX + INT8 calibration: downloads both, builds with trtexec, benches, switches, reports the bench', async () => {
    const r = rig(nx);
    const onnx = randomBytes(5000);
    const calib = Buffer.from('TRT-8400-EntropyCalibration2\ninput_1: 3c010a14\n');
    const calibration = { url: '/api/v1/engines/o1/calibration', sha256: '', size: calib.length };
    calibration.sha256 = (await import('node:crypto'))
      .createHash('sha256')
      .update(calib)
      .digest('hex');
    const m = signedManifest(onnx, fleet.privateKey, {
      id: 'o1',
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'onnx',
      calibration,
    });
    server.put(m.url, onnx);
    server.put(calibration.url, calib);
    await r.apply(desiredFor(m));
    const s = r.store.get();
    expect(s.update.state).toBe('applied');
    expect(s.current.ref.id).toBe('o1');
    expect(s.current.format).toBe('plan');
    expect(s.current.path).toBe(enginePaths(r.dir, m).final);
    expect(readFileSync(s.current.path, 'utf8')).toBe('PLAN');
    expect(s.previous?.ref.id).toBe('bootstrap');
    expect(s.bench).toEqual({
      engineId: 'o1',
      inferFps: 41087.7,
      latencyMs: { p50: 0.401947, p95: 0.420288, p99: 0.420288 },
      trtVersion: '8.4.0',
    });
    const [build, bench] = readFileSync(r.trt.argsFile, 'utf8').trim().split('\n');
    const paths = enginePaths(r.dir, m);
    expect(build).toBe(
      `--onnx=${paths.partial} --int8 --calib=${paths.calibration} --saveEngine=${paths.built} --shapes=input_1:1x3x416x736`,
    );
    expect(bench).toBe(`--loadEngine=${paths.built}`);
    expect(r.restarts).toEqual(['engine o1']);
    const reports = r.reports();
    expect(reports.map((x) => x.update.state)).toEqual([
      'downloading',
      'verifying',
      'verifying',
      'staged',
      'health_check',
      'health_check', // the FPS gate's figures
      'applied',
    ]);
    expect(reports.at(-1)?.engineBench?.inferFps).toBe(41087.7);
    expect(reports.at(-1)?.update.gate?.fps?.engine).toEqual({
      inferFps: 30,
      fps: 30,
      cameraFps: null,
      windowS: 1,
    });
    r.close();
  });

  it('killed after stage moved the engine into place but before that was recorded: resumes and applies it', async () => {
    const r = rig(nx);
    const plan = randomBytes(700);
    const m = signedManifest(plan, fleet.privateKey, {
      id: 'p-moved',
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'plan',
      trtVersion: '8.4.0',
    });
    server.put(m.url, plan);
    const d = desiredFor(m);
    r.desire(d);
    // What the agent had done when it was killed: everything up to stage's rename, which happened;
    // its record ('staged') did not, so the persisted state still says 'verifying'.
    await r.executors.begin({ kind: 'begin', manifest: m });
    await r.executors.download({ kind: 'download', manifest: m });
    const paths = enginePaths(r.dir, m);
    mkdirSync(dirname(paths.final), { recursive: true });
    renameSync(paths.partial, paths.final);
    expect(r.store.get().update.state).toBe('verifying');

    await r.apply(d);
    const s = r.store.get();
    expect(r.reports().map((x) => x.update.state)).not.toContain('failed');
    expect(s.update).toMatchObject({ state: 'applied', engineId: 'p-moved', reason: null });
    expect(s.current.ref.id).toBe('p-moved');
    expect(readFileSync(s.current.path)).toEqual(plan);
    expect(r.restarts).toEqual(['engine p-moved']);
    r.close();
  });

  it('a TensorRT plan for another TensorRT version is rejected before any download', async () => {
    const r = rig(nx);
    const plan = randomBytes(100);
    const m = signedManifest(plan, fleet.privateKey, {
      id: 'p-old',
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'plan',
      trtVersion: '8.5.2',
    });
    const before = server.requests.length;
    await r.apply(desiredFor(m));
    expect(server.requests.length).toBe(before);
    expect(r.store.get().update).toMatchObject({
      state: 'failed',
      reason: 'engine was built with TensorRT 8.5.2, this device has 8.4.0',
    });
    r.close();
  });

  it('goes back to an older engine only with a rollback the fleet key signed for this device and rev (issue 17, finding 15)', async () => {
    const r = rig(nx);
    const trt = {
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'plan',
      trtVersion: '8.4.0',
    } as const;
    const newer = randomBytes(300);
    const m5 = signedManifest(newer, fleet.privateKey, { id: 'v5', version: 5, ...trt });
    server.put(m5.url, newer);
    await r.apply(desiredFor(m5, 1));
    expect(r.store.get().current).toMatchObject({ ref: { id: 'v5' }, version: 5 });
    const older = randomBytes(300);
    const m3 = signedManifest(older, fleet.privateKey, { id: 'v3', version: 3, ...trt });
    server.put(m3.url, older);
    const rollbackFor = (rev: number, key = fleet.privateKey) =>
      sign(
        null,
        rollbackSigningPayload({ deviceId: 'nx-1', rev, engineId: 'v3', version: 3 }),
        key,
      ).toString('base64');
    // a rollback signed by another key, or for another rev, is refused after the download
    const stranger = generateKeyPairSync('ed25519');
    await r.apply({ ...desiredFor(m3, 2), rollback: rollbackFor(2, stranger.privateKey) });
    expect(r.store.get().update).toMatchObject({ state: 'failed', rev: 2 });
    expect(r.store.get().update.reason).toMatch(/needs a rollback signed by the fleet key/);
    await r.apply({ ...desiredFor(m3, 3), rollback: rollbackFor(2) });
    expect(r.store.get().update).toMatchObject({ state: 'failed', rev: 3 });
    expect(r.store.get().current.ref.id).toBe('v5');
    // the one the control plane signed for rev 4: applied
    await r.apply({ ...desiredFor(m3, 4), rollback: rollbackFor(4) });
    expect(r.store.get().update).toMatchObject({ state: 'applied', rev: 4 });
    expect(r.store.get().current).toMatchObject({ ref: { id: 'v3' }, version: 3 });
    r.close();
  });

  it('sends the device token to the control plane only, whatever a manifest says (issue 17, finding 15)', async () => {
    const r = rig(nx);
    const elsewhere = await startEngineServer('tok');
    try {
      const data = randomBytes(100);
      const m = signedManifest(data, fleet.privateKey, {
        id: 'abs',
        deviceClass: 'jetson-xavier-nx',
        backend: 'tensorrt',
        model: 'detectnet_v2',
        format: 'plan',
        trtVersion: '8.4.0',
      });
      // the protocol takes only paths, so this can only come from a bug: still refused
      const absolute = { ...m, url: `${elsewhere.url}/api/v1/engines/abs/blob` };
      elsewhere.put('/api/v1/engines/abs/blob', data);
      r.desire(desiredFor(absolute));
      await expect(r.executors.download({ kind: 'download', manifest: absolute })).rejects.toThrow(
        /not on the control plane/,
      );
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
      r.close();
    }
  });

  it('a failed trtexec build marks the update failed and keeps the running engine', async () => {
    const r = rig(nx, 1);
    const onnx = randomBytes(300);
    const m = signedManifest(onnx, fleet.privateKey, {
      id: 'o2',
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
    });
    server.put(m.url, onnx);
    await r.apply(desiredFor(m));
    expect(r.store.get().update.state).toBe('failed');
    expect(r.store.get().update.reason).toMatch(/trtexec --onnx=.* failed \(exit 1\)/);
    expect(r.store.get().current.ref.id).toBe('bootstrap');
    expect(r.restarts).toEqual([]);
    r.close();
  });

  it('too slow for the gate (FPS below ratio × previous): rolled back, the failed engine kept on disk', async () => {
    const r = rig(nx);
    r.setGate(10); // previous ran at 32 FPS, the gate wants ≥ 0.9 × 32
    const plan = randomBytes(400);
    const m = signedManifest(plan, fleet.privateKey, {
      id: 'p-slow',
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'plan',
      trtVersion: '8.4.0',
    });
    server.put(m.url, plan, { cutAfter: 100 }); // and a cut download on the way: retried, resumed
    await r.apply(desiredFor(m));
    const s = r.store.get();
    expect(s.update.state).toBe('rolled_back');
    expect(s.update.reason).toBe(
      'health gate: inference 10.0 FPS over 1.0 s is below 0.9 × 33.0 FPS of the previous engine over 1.0 s',
    );
    expect(s.current.ref.id).toBe('bootstrap');
    expect(s.previous?.ref.id).toBe('p-slow');
    expect(existsSync(s.previous?.path ?? '')).toBe(true);
    expect(r.restarts).toEqual(['engine p-slow', 'rollback to bootstrap']);
    // the same rev is not tried again; a new rev is
    await r.apply(desiredFor(m, 1));
    expect(r.restarts).toHaveLength(2);
    expect(s.update.gate?.fps).toEqual({
      engine: { inferFps: 10, fps: 10, cameraFps: null, windowS: 1 },
      previous: { inferFps: 33, fps: 33, cameraFps: null, windowS: 1 },
      minRatio: 0.9,
    });
    r.setGate(31);
    await r.apply(desiredFor(m, 2));
    expect(r.store.get().update.state).toBe('applied');
    expect(r.store.get().current.ref.id).toBe('p-slow');
    r.close();
  });
});

describe('DLA builds (trtexec replayed from recorded output)', () => {
  const runnerConfig = {
    bin: 'facefleet-runner',
    backend: 'tensorrt',
    model: 'detectnet_v2',
    bootstrapModel: 'boot.plan',
    source: 'cam.mp4',
    loop: false,
    pace: false,
    statsIntervalS: 5,
    extraArgs: [],
  } as const satisfies AgentConfig['runner'];
  const dlaOnnx = (id: string, deviceClass: EngineManifest['deviceClass'], dlaCore: number) => {
    const onnx = randomBytes(400);
    const m = signedManifest(onnx, fleet.privateKey, {
      id,
      deviceClass,
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'onnx',
      dlaCore,
    });
    server.put(m.url, onnx);
    return m;
  };

  it('builds for the DLA core the engine asks for, on every class with DLA, and the engine keeps it', async () => {
    for (const [deviceClass, core] of [
      ['jetson-xavier-nx', 0],
      ['jetson-agx-xavier', 1],
      ['jetson-orin-nx', 0],
      ['jetson-agx-orin', 1],
    ] as const) {
      const r = rig({ deviceClass, trtVersion: '8.4.0' });
      const m = dlaOnnx(`dla-${deviceClass}`, deviceClass, core);
      await r.apply(desiredFor(m));
      const [build] = readFileSync(r.trt.argsFile, 'utf8').trim().split('\n');
      const paths = enginePaths(r.dir, m);
      // FP16 without a calibration cache (DLA runs FP16 and INT8 only); layers DLA lacks go to the GPU
      expect(build).toBe(
        `--onnx=${paths.partial} --fp16 --useDLACore=${core} --allowGPUFallback --saveEngine=${paths.built} --shapes=input_1:1x3x416x736`,
      );
      expect(r.store.get().update.state).toBe('applied');
      const current = r.store.get().current;
      expect(current.dlaCore).toBe(core);
      // the runner is started on that core (run-args.test.ts has the whole argument list)
      const args = runnerRunArgs(current, runnerConfig);
      expect(args.slice(args.indexOf('--model'), args.indexOf('--model') + 4)).toEqual([
        '--model',
        current.path,
        '--dla-core',
        String(core),
      ]);
      r.close();
    }
  });

  it('a DLA engine is refused on a Nano before anything is downloaded or built', async () => {
    const r = rig({ deviceClass: 'jetson-nano', trtVersion: '8.4.0' });
    const m = dlaOnnx('dla-nano', 'jetson-nano', 0);
    const before = server.requests.length;
    await r.apply(desiredFor(m));
    expect(server.requests.length).toBe(before);
    expect(existsSync(r.trt.argsFile)).toBe(false);
    expect(r.store.get().update).toMatchObject({
      state: 'failed',
      reason:
        'engine asks for DLA core 0, but jetson-nano has no DLA (deep-learning accelerator): build it for the GPU',
    });
    expect(r.reports().at(-1)?.update.state).toBe('failed');
    r.close();
  });
});

describe('accuracy gate (the real runner evaluating on a golden set)', () => {
  const cpu: DeviceFacts = { deviceClass: 'generic-x86_64', trtVersion: null };

  function cpuRig() {
    const dir = mkdtempSync(join(tmpdir(), 'ff-golden-'));
    const goldenSet = { ...writeGoldenSet(dir), apMode: 'voc2010' as const, iou: 0.5 };
    const model = blazefaceModel();
    const bootstrap: InstalledEngine = {
      ref: { id: 'bootstrap', sha256: 'b'.repeat(64), backend: 'opencv', model: 'blazeface' },
      path: model,
      format: 'onnx',
    };
    return { dir, r: rig(cpu, 0, { bootstrap, goldenSet }) };
  }
  const onnxManifest = (id: string, bytes: Buffer) => {
    const m = signedManifest(bytes, fleet.privateKey, {
      id,
      deviceClass: 'generic-x86_64',
      backend: 'opencv',
      model: 'blazeface',
      format: 'onnx',
    });
    server.put(m.url, bytes);
    return m;
  };

  it('a degraded model fails with accuracy_regression, both APs reported, and never runs', async () => {
    const { dir, r } = cpuRig();
    const degraded = join(dir, 'degraded.onnx');
    writeDegradedBlazeface(blazefaceModel(), degraded);
    const m = onnxManifest('blaze-degraded', readFileSync(degraded));
    await r.apply(desiredFor(m));
    const s = r.store.get();
    expect(s.update.state).toBe('failed');
    expect(s.update.reason).toMatch(
      /^accuracy_regression: AP 0\.00 of blaze-degraded is more than 1 points below 100\.00 of bootstrap \(voc2010 at IoU > 0\.5, 4 images, 1 faces\)$/,
    );
    expect(s.current.ref.id).toBe('bootstrap');
    expect(r.restarts).toEqual([]); // never switched to
    const last = r.reports().at(-1);
    expect(last?.update).toMatchObject({ state: 'failed', engineId: 'blaze-degraded' });
    expect(last?.update.gate?.accuracy).toMatchObject({
      engine: { engineId: 'blaze-degraded', ap: 0 },
      previous: { engineId: 'bootstrap', ap: 100 },
      toleranceAp: 1,
      apMode: 'voc2010',
      iou: 0.5,
      images: 4,
      groundTruths: 1,
    });
    expect(last?.update.gate?.accuracy?.engine.evalS).toBeGreaterThan(0);
    r.close();
  });

  it("a good model passes with both APs, and its AP is kept as the running engine's", async () => {
    const { r } = cpuRig();
    const m = onnxManifest('blaze-good', readFileSync(blazefaceModel()));
    await r.apply(desiredFor(m));
    const s = r.store.get();
    expect(s.update.state).toBe('applied');
    expect(s.current.ref.id).toBe('blaze-good');
    expect(s.update.gate?.accuracy).toMatchObject({
      engine: { engineId: 'blaze-good', ap: 100 },
      previous: { engineId: 'bootstrap', ap: 100 },
    });
    expect(s.update.gate?.fps?.engine.inferFps).toBe(30);
    expect(s.accuracy).toMatchObject({ engineId: 'blaze-good', ap: 100 });
    r.close();
  });
});

describe('rebuild after a TensorRT upgrade (trtexec replayed from recorded output)', () => {
  /** An ONNX + INT8 calibration engine, built on a device with TensorRT 8.4.0. */
  async function builtOn84(id: string) {
    const r = rig(nx);
    const onnx = randomBytes(3000);
    const calib = Buffer.from('TRT-8400-EntropyCalibration2\ninput_1: 3c010a14\n');
    const calibration = {
      url: `/api/v1/engines/${id}/calibration`,
      sha256: createHash('sha256').update(calib).digest('hex'),
      size: calib.length,
    };
    const m = signedManifest(onnx, fleet.privateKey, {
      id,
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'onnx',
      calibration,
    });
    server.put(m.url, onnx);
    server.put(calibration.url, calib);
    await r.apply(desiredFor(m));
    expect(r.store.get().update.state).toBe('applied');
    const paths = enginePaths(r.dir, m);
    expect(r.store.get().current).toMatchObject({
      trtVersion: '8.4.0',
      builtFrom: { onnx: paths.source, calibration: paths.sourceCalibration },
    });
    expect(readFileSync(paths.source)).toEqual(onnx); // the ONNX model is kept
    r.close();
    return { dir: r.dir, paths, m };
  }
  const upgraded: DeviceFacts = { deviceClass: 'jetson-xavier-nx', trtVersion: '8.6.1' };

  it('at start on another TensorRT: rebuilds from the kept ONNX, benches, passes the gates against the figures of before, reports rebuilt', async () => {
    const { dir, paths } = await builtOn84('up-1');
    const before = readFileSync(join(dir, 'trtexec-args.txt'), 'utf8');
    const r = rig(upgraded, 0, { dir });
    await r.start();
    const s = r.store.get();
    const plan = join(dirname(paths.final), 'model-trt8.6.1.plan');
    expect(s.rebuild).toMatchObject({
      state: 'rebuilt',
      engineId: 'up-1',
      fromTrt: '8.4.0',
      toTrt: '8.6.1',
      reason: null,
    });
    expect(s.current).toMatchObject({ path: plan, trtVersion: '8.6.1', ref: { id: 'up-1' } });
    expect(readFileSync(plan, 'utf8')).toBe('PLAN');
    const [build, bench] = readFileSync(join(dir, 'trtexec-args.txt'), 'utf8')
      .slice(before.length)
      .trim()
      .split('\n');
    expect(build).toBe(
      `--onnx=${paths.source} --int8 --calib=${paths.sourceCalibration} --saveEngine=${plan} --shapes=input_1:1x3x416x736`,
    );
    expect(bench).toBe(`--loadEngine=${plan}`);
    expect(r.restarts).toEqual(['engine up-1']);
    // the FPS gate compared the rebuilt plan with the windows recorded before the upgrade
    expect(s.rebuild?.gate?.fps).toEqual({
      engine: { inferFps: 30, fps: 30, cameraFps: null, windowS: 1 },
      previous: { inferFps: 33, fps: 33, cameraFps: null, windowS: 1 },
      minRatio: 0.9,
    });
    const last = r.reports().at(-1);
    expect(last?.rebuild).toMatchObject({ state: 'rebuilt', fromTrt: '8.4.0', toTrt: '8.6.1' });
    expect(last?.update.state).toBe('applied'); // the update record is untouched
    // a second start on the same version has nothing to do
    await r.start();
    expect(r.restarts).toHaveLength(1);
    r.close();
  });

  it('a failing rebuild (trtexec exits 1) keeps the old state reported, nothing switched', async () => {
    const { dir, paths } = await builtOn84('up-2');
    const r = rig(upgraded, 1, { dir });
    const before = r.store.get();
    await r.start();
    const s = r.store.get();
    expect(s.rebuild).toMatchObject({ state: 'failed', fromTrt: '8.4.0', toTrt: '8.6.1' });
    expect(s.rebuild?.reason).toMatch(
      /^rebuild for TensorRT 8\.6\.1: trtexec --onnx=.* failed \(exit 1\)/,
    );
    expect(s.current).toEqual(before.current);
    expect(s.current.path).toBe(paths.final);
    expect(s.update).toEqual(before.update);
    expect(r.restarts).toEqual([]);
    const last = r.reports().at(-1);
    expect(last?.update.state).toBe('applied');
    expect(last?.engine?.id).toBe('up-2');
    expect(last?.rebuild?.state).toBe('failed');
    // not tried again in a loop: the next start reports the same and does nothing
    await r.start();
    expect(r.store.get().rebuild?.state).toBe('failed');
    r.close();
  });

  it('a rebuilt plan that fails the FPS gate is switched back: the plan of before is current again', async () => {
    const { dir, paths } = await builtOn84('up-3');
    const r = rig(upgraded, 0, { dir });
    r.setGate(10);
    await r.start();
    const s = r.store.get();
    expect(s.rebuild?.state).toBe('failed');
    expect(s.rebuild?.reason).toMatch(
      /^rebuild for TensorRT 8\.6\.1: health gate: inference 10\.0 FPS/,
    );
    expect(s.current).toMatchObject({ path: paths.final, trtVersion: '8.4.0' });
    expect(r.restarts).toEqual([
      'engine up-3',
      'rebuild failed: back to the plan of TensorRT 8.4.0',
    ]);
    r.close();
  });

  it('a prebuilt plan with no ONNX behind it is reported unrunnable, naming both versions', async () => {
    const r1 = rig(nx);
    const planBytes = randomBytes(500);
    const m = signedManifest(planBytes, fleet.privateKey, {
      id: 'prebuilt-1',
      deviceClass: 'jetson-xavier-nx',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'plan',
      trtVersion: '8.4.0',
    });
    server.put(m.url, planBytes);
    await r1.apply(desiredFor(m));
    expect(r1.store.get().current).toMatchObject({ trtVersion: '8.4.0', builtFrom: null });
    r1.close();
    const r = rig(upgraded, 0, { dir: r1.dir });
    await r.start();
    expect(r.store.get().rebuild).toMatchObject({
      state: 'unrunnable',
      engineId: 'prebuilt-1',
      fromTrt: '8.4.0',
      toTrt: '8.6.1',
      reason:
        'engine prebuilt-1 is a plan built with TensorRT 8.4.0, this device has 8.6.1: it cannot run, and no ONNX model was kept to rebuild it from',
    });
    expect(r.restarts).toEqual([]);
    expect(r.reports().at(-1)?.rebuild?.state).toBe('unrunnable');
    r.close();
  });
});
