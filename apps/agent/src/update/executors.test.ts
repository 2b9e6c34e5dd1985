import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
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
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOutbox } from '../outbox/outbox.js';
import { signedManifest, startEngineServer } from '../test-support/engine-server.js';
import { jetsonFixtures } from '../test-support/fixtures.js';
import { openEngineStore } from './engine-store.js';
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

function rig(facts: DeviceFacts, trtexecExit = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'ff-exec-'));
  const outbox = openOutbox({ path: join(dir, 'agent.db'), maxMessages: 1000 });
  const bootstrapPath = join(dir, 'bootstrap.onnx');
  writeFileSync(bootstrapPath, 'bootstrap');
  const bootstrap: InstalledEngine = {
    ref: { id: 'bootstrap', sha256: 'a'.repeat(64), backend: 'tensorrt', model: 'detectnet_v2' },
    path: bootstrapPath,
    format: 'plan',
  };
  const store = openEngineStore({ outbox, deviceId: 'nx-1', bootstrap });
  const trt = trtexecStandIn(dir, trtexecExit);
  const restarts: string[] = [];
  let gateResult: Error | number = 30;
  // The runner's TensorRT backend cannot run here: the gate sees what a Jetson runner would report.
  const gate: GateProbe = {
    waitForHello: async () => {},
    hold: async () => {
      if (gateResult instanceof Error) throw gateResult;
      return gateResult;
    },
    currentFps: () => 32,
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
    facts,
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
      'applied',
    ]);
    expect(reports.at(-1)?.engineBench?.inferFps).toBe(41087.7);
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
      'health gate: 10.0 FPS is below 0.9 × 32.0 FPS of the previous engine',
    );
    expect(s.current.ref.id).toBe('bootstrap');
    expect(s.previous?.ref.id).toBe('p-slow');
    expect(existsSync(s.previous?.path ?? '')).toBe(true);
    expect(r.restarts).toEqual(['engine p-slow', 'rollback to bootstrap']);
    // the same rev is not tried again; a new rev is
    await r.apply(desiredFor(m, 1));
    expect(r.restarts).toHaveLength(2);
    r.setGate(31);
    await r.apply(desiredFor(m, 2));
    expect(r.store.get().update.state).toBe('applied');
    expect(r.store.get().current.ref.id).toBe('p-slow');
    r.close();
  });
});
