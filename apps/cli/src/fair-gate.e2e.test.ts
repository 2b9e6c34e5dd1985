import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ControlPlane, startControlPlane } from '@facefleet/test-support';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT } from './errors.js';
import { type RunningCli, runCliProcess, startCli } from './test-support/processes.js';

/**
 * Issue 15's scenario at CI size: simulated Xavier NX devices (the agent's own code, a synthetic
 * runner printing the runner's stats lines) behind 15-FPS cameras, whose inference is far faster
 * than the camera; `rollouts create --canary 0.05 --hold 5 --gate-hold 5` with the default gates
 * (min FPS ratio 0.9, failure limit 0). Before the FPS gate compared the same figures, such a
 * rollout halted on healthy devices now and then (`15.3 FPS is below 0.9 × 17.8 FPS`): three in a
 * row must now complete with no failed device. Beside the first, a device that an update makes
 * slow on purpose (`--throttle 1 --throttle-on update`: inference at 30 %, still keeping up with
 * its camera) must still fail its gate, and its rollout halt and revert. The 1,000-device run, too
 * long for CI, was measured by hand (apps/cli/README.md gives the figures and the commands).
 */
vi.setConfig({ testTimeout: 120_000 });

let cp: ControlPlane;
let sim: RunningCli;
const home = mkdtempSync(join(tmpdir(), 'ff-fair-gate-'));
const env = { HOME: home };
const cli = (...args: string[]) => runCliProcess(args, env, 110_000);
const id = (n: number) => `fg-xavier-nx-${String(n).padStart(4, '0')}`;
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => id(from + i));
/** Devices 1–20: the clean rollouts; 21–24 (24 throttled on update): the one that must halt. */
const CLEAN = range(1, 20);
const THROTTLE_GROUP = range(21, 24);

beforeAll(async () => {
  cp = await startControlPlane();
  expect((await cli('login', '--server', cp.url, '--token', cp.adminToken)).code).toBe(EXIT.ok);
  sim = startCli(
    [
      'simulate',
      '--devices',
      '24',
      '--classes',
      'xavier-nx:1',
      '--camera-fps',
      '15',
      '--throttle',
      '1',
      '--throttle-on',
      'update',
      '--prefix',
      'fg',
      '--data-dir',
      join(home, 'sim'),
      '--report-every',
      '5',
    ],
    env,
  );
  await sim.waitForLine(/^ready: 24\/24 devices connected/, 90_000);
  // every device has counted runner stats windows of its engine: the throttled device's gate has the
  // previous engine's inference FPS to fall below (without it, keeping up with the camera passes)
  await sim.waitForLine(/devices connected, 24 with runner stats/, 60_000);
}, 180_000);
afterAll(async () => {
  await sim?.stop();
  await cp?.stop();
  rmSync(home, { recursive: true, force: true });
});

async function pushEngine(name: string): Promise<string> {
  const file = join(home, `${name}.plan`);
  writeFileSync(file, randomBytes(50_000));
  const r = await cli(
    'engines',
    'push',
    file,
    '--model',
    'detectnet_v2',
    '--target-class',
    'xavier-nx',
    '--trt',
    '8.5.2',
    '--json',
  );
  expect(r.code, r.stderr).toBe(EXIT.ok);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

interface Shown {
  state: string;
  reason: string | null;
  targets: { deviceId: string; state: string; reason: string | null }[];
}

const rollout = (engine: string, devices: string[], rolloutId: string) =>
  cli(
    'rollouts',
    'create',
    '--engine',
    engine,
    '--devices',
    devices.join(','),
    '--canary',
    '0.05',
    '--hold',
    '5',
    '--gate-hold',
    '5',
    '--id',
    rolloutId,
    '--watch',
  );
const show = async (rolloutId: string) =>
  JSON.parse((await cli('rollouts', 'show', rolloutId, '--json')).stdout) as Shown;

describe('the fair FPS gate on camera-bound devices (issue 15)', () => {
  it('three rollouts in a row complete with no failed device; a device slowed by its update is caught and the rollout reverted', async () => {
    const engines = [await pushEngine('e1'), await pushEngine('e2'), await pushEngine('e3')];
    const slow = await pushEngine('slow');
    const [first, throttled] = await Promise.all([
      rollout(engines[0]!, CLEAN, 'fg-1'),
      rollout(slow, THROTTLE_GROUP, 'fg-throttle'),
    ]);
    const second = await rollout(engines[1]!, CLEAN, 'fg-2');
    const third = await rollout(engines[2]!, CLEAN, 'fg-3');
    for (const [r, name] of [
      [first, 'fg-1'],
      [second, 'fg-2'],
      [third, 'fg-3'],
    ] as const) {
      const shown = await show(name);
      expect(
        shown.targets.filter((t) => t.state !== 'applied'),
        `${name}: ${r.stdout}`,
      ).toEqual([]);
      expect(r.code).toBe(EXIT.ok);
      expect(shown.state).toBe('completed');
      expect(shown.reason).toBeNull();
    }

    expect(throttled.code).toBe(EXIT.halted);
    const t = await show('fg-throttle');
    expect(t.state).toBe('halted');
    const caught = t.targets.find((x) => x.deviceId === id(24));
    // inference fell to ~30 % while the device still kept up with its camera: caught by inference FPS
    expect(caught?.reason).toMatch(
      /^health gate: inference [\d.]+ FPS over [\d.]+ s is below 0\.9 × [\d.]+ FPS of the previous engine over [\d.]+ s$/,
    );
    // the halt reverted every device that had it; the others of the group are back on their engine
    expect(t.targets.every((x) => x.state === 'reverted' || x.state === 'pending')).toBe(true);
    const d = JSON.parse((await cli('devices', 'show', id(24), '--json')).stdout) as {
      reported: { engine: { id: string }; update: { state: string } };
    };
    expect(d.reported.engine.id).not.toBe(slow);
  });
});
