import type { RunnerExit, SupervisorSnapshot } from '@facefleet/agent';
import type { EngineRef, RunnerCamera, RunnerFrame, RunnerStats } from '@facefleet/protocol';
import { runnerLineSchema } from '@facefleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { outageFlag } from '../commands/simulate.js';
import { allocate, parseClassMix, planFleet } from './fleet-plan.js';
import {
  createFrameClock,
  createSyntheticSource,
  type FrameClock,
  OUTAGE_REASON,
} from './synthetic-source.js';

describe('fleet plan', () => {
  it('splits devices by weight, always summing to N', () => {
    expect(allocate(1000, [40, 40, 20])).toEqual([400, 400, 200]);
    expect(allocate(7, [40, 40, 20])).toEqual([3, 3, 1]);
    expect(allocate(1, [1, 1])).toEqual([1, 0]);
    for (const n of [1, 2, 3, 10, 99, 101]) {
      expect(allocate(n, [3, 5, 7]).reduce((a, b) => a + b, 0)).toBe(n);
    }
  });

  it('reads class mixes by name or alias and refuses classes without a model-card figure', () => {
    expect(
      parseClassMix('nano:40,jetson-xavier-nx:40,agx-xavier:20').map((m) => m.deviceClass),
    ).toEqual(['jetson-nano', 'jetson-xavier-nx', 'jetson-agx-xavier']);
    expect(() => parseClassMix('orin-nano:1')).toThrow(/not a class the simulator plays/);
    expect(() => parseClassMix('nano:0')).toThrow(/weight of nano must be above 0/);
    expect(() => parseClassMix('nano:1,jetson-nano:2')).toThrow(/twice/);
    expect(() => parseClassMix('nano=3')).toThrow(/is not CLASS:WEIGHT/);
  });

  it('names devices by class and spreads the special roles over the classes, from the end', () => {
    const plan = planFleet({
      devices: 10,
      classes: 'nano:1,xavier-nx:1',
      prefix: 'sim',
      throttle: 1,
      crash: 1,
      failGate: 1,
    });
    expect(plan.map((d) => d.id)).toEqual([
      ...[1, 2, 3, 4, 5].map((i) => `sim-nano-000${i}`),
      ...[1, 2, 3, 4, 5].map((i) => `sim-xavier-nx-000${i}`),
    ]);
    const roles = Object.fromEntries(
      plan.filter((d) => d.role !== 'normal').map((d) => [d.id, d.role]),
    );
    expect(roles).toEqual({
      'sim-nano-0005': 'fail-gate',
      'sim-xavier-nx-0005': 'crash',
      'sim-nano-0004': 'throttle',
    });
    expect(plan.find((d) => d.id === 'sim-nano-0004')?.tags).toEqual(['simulated', 'throttle']);
    expect(() =>
      planFleet({ devices: 2, classes: 'nano', prefix: 's', throttle: 2, crash: 1, failGate: 0 }),
    ).toThrow(/ask for 3 devices, but --devices is 2/);
  });

  it('tags the devices with a flaky camera, and reads the outage schedule', () => {
    const plan = planFleet({
      devices: 4,
      classes: 'nano',
      prefix: 'sim',
      throttle: 0,
      crash: 0,
      failGate: 0,
      flakyCameras: 2,
    });
    expect(plan.filter((d) => d.tags.includes('flaky-camera')).map((d) => d.id)).toEqual([
      'sim-nano-0003',
      'sim-nano-0004',
    ]);
    expect(outageFlag('30:10')).toEqual({ everyMs: 30_000, forMs: 10_000 });
    expect(outageFlag(undefined)).toEqual({ everyMs: 60_000, forMs: 20_000 });
    for (const bad of ['10:10', '10', '0:0', 'a:b', '10:0']) {
      expect(() => outageFlag(bad)).toThrow(/--camera-outage must be EVERY:FOR/);
    }
  });
});

/** A clock the test advances by hand. */
function manualClock(): FrameClock & { advance(ms: number): void } {
  const ticks = new Set<(now: number) => void>();
  let now = Date.now();
  return {
    now: () => now,
    add: (t) => ticks.add(t),
    remove: (t) => ticks.delete(t),
    stop: () => ticks.clear(),
    advance(ms) {
      now += ms;
      for (const t of ticks) t(now);
    },
  };
}

const bootstrap: EngineRef = {
  id: 'bootstrap',
  sha256: 'a'.repeat(64),
  backend: 'tensorrt',
  model: 'detectnet_v2',
};
const profile = {
  inferFps: 329,
  cameraFps: 15,
  facesRate: 2,
  crash: false,
  failGate: false,
  throttle: null,
  width: 1280,
  height: 720,
};
const supervisor = {
  statsIntervalS: 5,
  backoffInitialMs: 20,
  backoffMaxMs: 40,
  crashLoopExits: 3,
  crashLoopWindowS: 30,
};
const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('synthetic detection source', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
  });

  it('says hello, then delivers frames at the camera rate with inference times around its figure', async () => {
    const clock = manualClock();
    let pid = 100;
    const src = createSyntheticSource({
      profile,
      clock,
      engine: () => bootstrap,
      nextPid: () => ++pid,
      ...supervisor,
    });
    stop = () => src.stop();
    const frames: RunnerFrame[] = [];
    let hello = false;
    src.on('hello', (h) => {
      hello = h.pid === 101 && h.modelSha256 === bootstrap.sha256;
    });
    src.on('frame', (f) => frames.push(f));
    src.start();
    expect(src.snapshot()).toMatchObject({ state: 'starting', pid: 101 });
    await until(() => hello, 'hello');
    for (let i = 0; i < 100; i++) clock.advance(100); // 10 s
    expect(frames.length).toBeGreaterThanOrEqual(149);
    expect(frames.length).toBeLessThanOrEqual(150);
    expect(src.snapshot().state).toBe('running');
    const inferFps = frames.length / frames.reduce((s, f) => s + f.ms.infer / 1000, 0);
    expect(inferFps).toBeGreaterThan(329 * 0.97);
    expect(inferFps).toBeLessThan(329 * 1.03);
    const meanFaces = frames.reduce((s, f) => s + f.faces, 0) / frames.length;
    expect(meanFaces).toBeGreaterThan(1.5);
    expect(meanFaces).toBeLessThan(2.5);
  });

  it('serves several cameras from one inference, and takes a flaky camera offline on its schedule and back', async () => {
    const clock = manualClock();
    let pid = 0;
    const src = createSyntheticSource({
      profile: {
        ...profile,
        inferFps: 30, // less than three cameras at 15 FPS ask for: they share it
        cameras: ['0', '1', '2'],
        outage: { camera: '2', everyMs: 10_000, forMs: 4000 },
      },
      clock,
      engine: () => bootstrap,
      nextPid: () => ++pid,
      ...supervisor,
    });
    stop = () => src.stop();
    const frames: RunnerFrame[] = [];
    const changes: RunnerCamera[] = [];
    const stats: RunnerStats[] = [];
    let hello = false;
    src.on('hello', (h) => {
      hello = h.cameras?.map((c) => c.id).join() === '0,1,2' && h.batch?.size === 3;
    });
    src.on('frame', (f) => frames.push(f));
    src.on('camera', (c) => changes.push(c));
    src.on('stats', (s) => stats.push(s));
    src.start();
    await until(() => hello, 'hello with three cameras');
    expect(changes.map((c) => `${c.id}:${c.state}`)).toEqual(['0:online', '1:online', '2:online']);
    for (let i = 0; i < 120; i++) clock.advance(100); // 12 s: one outage, 6 s to 10 s
    const byCamera = (id: string) => frames.filter((f) => f.camera === id);
    // 30 inferences a second for three cameras: 10 FPS each while all three are online
    expect(byCamera('0').length).toBeGreaterThan(100);
    expect(byCamera('1').length).toBe(byCamera('0').length);
    const down = changes.find((c) => c.id === '2' && c.state === 'reconnecting');
    const up = changes.find((c) => c.id === '2' && c.state === 'online' && c.ts > (down?.ts ?? 0));
    expect(down?.error).toBe(OUTAGE_REASON);
    expect((up?.ts ?? 0) - (down?.ts ?? 0)).toBe(4000);
    // no frame of camera 2 while it was down, and the others got its share of inference
    expect(byCamera('2').filter((f) => f.ts > down!.ts && f.ts < up!.ts)).toEqual([]);
    // stats lines as the runner prints them, per camera
    expect(stats.length).toBeGreaterThanOrEqual(2);
    for (const line of stats) runnerLineSchema.parse(line);
    // the window from 5 s to 10 s: camera 2 was down 4 s of it, and came back once
    const second = new Map(stats[1]?.cameras?.map((c) => [c.id, c]));
    expect(second.get('2')).toMatchObject({ state: 'online', reconnects: 1 });
    expect(second.get('2')!.frames).toBeLessThan(second.get('0')!.frames / 2);
  });

  it('a crashing runner exits with the runtime error code and ends in a crash loop', async () => {
    const clock = createFrameClock(10);
    const src = createSyntheticSource({
      profile: { ...profile, crash: true },
      clock,
      engine: () => bootstrap,
      nextPid: (() => {
        let p = 0;
        return () => ++p;
      })(),
      ...supervisor,
    });
    stop = async () => {
      await src.stop();
      clock.stop();
    };
    const exits: RunnerExit[] = [];
    const states: SupervisorSnapshot[] = [];
    src.on('exit', (e) => exits.push(e));
    src.on('state', (s) => states.push(s));
    src.start();
    await until(() => src.snapshot().crashLoop, 'the crash loop');
    expect(exits.length).toBeGreaterThanOrEqual(3);
    expect(exits[0]).toMatchObject({ code: 5, requested: false, error: { code: 'runtime' } });
    expect(states.some((s) => s.state === 'crashloop')).toBe(true);
    expect(src.snapshot().restarts).toBeGreaterThanOrEqual(3);
  });

  it('a fail-gate device runs a new engine at a third of the speed, and the old one at full speed again', async () => {
    const clock = manualClock();
    let engine = bootstrap;
    const src = createSyntheticSource({
      profile: { ...profile, failGate: true },
      clock,
      engine: () => engine,
      nextPid: (() => {
        let p = 0;
        return () => ++p;
      })(),
      ...supervisor,
    });
    stop = () => src.stop();
    let hellos = 0;
    src.on('hello', () => {
      hellos += 1;
    });
    const count = async (label: string) => {
      const before = hellos;
      await until(() => hellos > before, `hello (${label})`);
      let n = 0;
      const on = () => {
        n += 1;
      };
      src.on('frame', on);
      for (let i = 0; i < 30; i++) clock.advance(100);
      src.off('frame', on);
      return n;
    };
    src.start();
    const base = await count('bootstrap');
    engine = { ...bootstrap, id: 'new-engine' };
    await src.restart('engine new-engine');
    const slow = await count('new engine');
    engine = bootstrap;
    await src.restart('rollback to bootstrap');
    const back = await count('rollback');
    expect(base).toBe(45);
    expect(slow).toBe(15);
    expect(back).toBe(45);
  });

  it('prints stats lines as the runner does; a device throttled on update infers at 30 % under a new engine only', async () => {
    const clock = manualClock();
    let engine = bootstrap;
    const src = createSyntheticSource({
      profile: { ...profile, throttle: { factor: 0.3, from: 'update' } },
      clock,
      engine: () => engine,
      nextPid: (() => {
        let p = 0;
        return () => ++p;
      })(),
      ...supervisor,
    });
    stop = () => src.stop();
    const lines: RunnerStats[] = [];
    let hellos = 0;
    src.on('hello', () => {
      hellos += 1;
    });
    src.on('stats', (s) => lines.push(s));
    const run = async (label: string) => {
      const before = hellos;
      await until(() => hellos > before, `hello (${label})`);
      const from = lines.length;
      for (let i = 0; i < 150; i++) clock.advance(100); // 15 s: three windows
      return lines.slice(from);
    };
    src.start();
    const base = await run('bootstrap');
    engine = { ...bootstrap, id: 'new-engine' };
    await src.restart('engine new-engine');
    const after = await run('new engine');
    for (const w of [...base, ...after]) {
      expect(w.windowS).toBeCloseTo(5, 5);
      expect(w.fps).toBeCloseTo(15, 0); // camera-bound under both engines
      expect(w.cameras?.[0]?.cameraFps).toBeCloseTo(15, 5);
    }
    expect(base).toHaveLength(3);
    for (const w of base) expect(w.inferFps / 329).toBeGreaterThan(0.97);
    for (const w of after) expect(w.inferFps / (329 * 0.3)).toBeGreaterThan(0.97);
    for (const w of after) expect(w.inferFps / (329 * 0.3)).toBeLessThan(1.03);
  });
});
