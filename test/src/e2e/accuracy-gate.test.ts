import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics, type UpdateGate } from '@facefleet/protocol';
import {
  blazefaceModel,
  mosquittoSub,
  waitFor,
  writeDegradedBlazeface,
  writeGoldenSet,
} from '@facefleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blazefaceVariant,
  DEVICE_IDS,
  device,
  type Fleet,
  rolloutUntil,
  startFleet,
  TAG,
  updateHistory,
  uploadEngine,
} from './fleet.js';

/**
 * The accuracy gate through the whole system (issue 15): the control plane, three agents with the
 * real runner, each with a golden set on the device (Debian's messi5.jpg with its face labelled by
 * hand, and three sample images without faces, KITTI labels). An engine whose model was degraded on
 * purpose (BlazeFace with its score logits lowered: it loads, runs as fast, and finds no face) must
 * fail on the canary with `accuracy_regression` and both APs, halt its rollout and never reach the
 * other devices; a good engine passes with both APs shown.
 */
const CANARY = DEVICE_IDS[0];
const REST = DEVICE_IDS.slice(1);
const DEGRADED = 'e2e-blazeface-degraded';
const GOOD = 'e2e-blazeface-ap';
const work = mkdtempSync(join(tmpdir(), 'ff-e2e-accuracy-'));
const golden = writeGoldenSet(join(work, 'golden'));
let fleet: Fleet | undefined;
const get = () => {
  if (!fleet) throw new Error('the fleet did not start');
  return fleet;
};

interface Target {
  deviceId: string;
  stage: string;
  state: string;
  reason: string | null;
  rev: number | null;
  gate: UpdateGate | null;
}
interface AccuracyRow {
  engineId: string;
  deviceId: string;
  ap: number;
  previousEngineId: string | null;
  previousAp: number | null;
}

const createRollout = (id: string, engineId: string) =>
  get().cp.json(
    'POST',
    '/api/v1/rollouts',
    {
      id,
      engineId,
      selector: { tag: TAG },
      canaryShare: 0.1,
      holdS: 1,
      failureLimit: 0,
      gateHoldS: 2,
      minFpsRatio: 0.5,
    },
    { expect: 201 },
  );
const targetsOf = (r: { targets: unknown[] }) => r.targets as Target[];
const accuracyOf = async (engineId: string) =>
  (await get().cp.json<{ accuracy: AccuracyRow[] }>('GET', `/api/v1/engines/${engineId}`)).accuracy;

describe('the accuracy gate on a fleet with golden sets', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    fleet = await startFleet({
      agentEnv: () => ({
        FACEFLEET_ACCURACY_GATE_IMAGES: golden.images,
        FACEFLEET_ACCURACY_GATE_LABELS: golden.labels,
      }),
    });
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('a degraded engine fails on the canary with accuracy_regression and both APs; the rollout halts and no other device gets it', async () => {
    const f = get();
    const degraded = join(work, 'degraded.onnx');
    writeDegradedBlazeface(blazefaceModel, degraded);
    await uploadEngine(f.cp, DEGRADED, readFileSync(degraded));
    const watchers = await Promise.all(
      f.agents
        .filter((a) => a.deviceId !== CANARY)
        .map((a) =>
          mosquittoSub({
            url: f.cp.mqttUrl,
            username: a.deviceId,
            password: a.token,
            clientId: `${a.deviceId}-accuracy-watcher`,
            topics: [topics.desired(a.deviceId)],
          }),
        ),
    );
    try {
      await createRollout('e2e-degraded', DEGRADED);
      const halted = await rolloutUntil(f.cp, 'e2e-degraded', 'halted', ['completed', 'aborted']);
      expect(halted.reason).toMatch(/1 devices failed the update \(limit 0\)/);
      const byId = new Map(targetsOf(halted).map((t) => [t.deviceId, t]));
      const canary = byId.get(CANARY)!;
      expect(canary.stage).toBe('canary');
      expect(canary.reason).toMatch(
        new RegExp(
          `^accuracy_regression: AP 0\\.00 of ${DEGRADED} is more than 1 points below 100\\.00 of bootstrap \\(voc2010 at IoU > 0\\.5, 4 images, 1 faces\\)$`,
        ),
      );
      // both APs with the target, as `rollouts show` and the dashboard show them
      expect(canary.gate?.accuracy).toMatchObject({
        engine: { engineId: DEGRADED, ap: 0 },
        previous: { engineId: 'bootstrap', ap: 100 },
        toleranceAp: 1,
        images: 4,
        groundTruths: 1,
      });
      for (const id of REST) expect(byId.get(id)).toMatchObject({ state: 'pending', rev: null });

      // the device's own report: failed before the switch, the old engine never stopped
      const d = await device(f.cp, CANARY);
      expect(d.reported?.update).toMatchObject({ state: 'failed', engineId: DEGRADED });
      expect(d.reported?.engine?.id).toBe('bootstrap');
      const history = (await updateHistory(f.cp, CANARY)).filter((u) => u.engineId === DEGRADED);
      expect(history.map((u) => u.state)).not.toContain('health_check');
      // the engine's accuracy record
      expect(await accuracyOf(DEGRADED)).toEqual([
        expect.objectContaining({
          deviceId: CANARY,
          ap: 0,
          previousEngineId: 'bootstrap',
          previousAp: 100,
        }),
      ]);

      // nobody else was ever sent it
      for (const id of REST) {
        const h = await updateHistory(f.cp, id);
        expect(h.filter((u) => u.rolloutId === 'e2e-degraded' || u.engineId === DEGRADED)).toEqual(
          [],
        );
      }
      for (const w of watchers)
        expect(w.messages.filter((m) => m.payload.includes(DEGRADED))).toEqual([]);
    } finally {
      for (const w of watchers) expect(await w.stop()).toBe(0);
    }
  });

  it('a good engine passes the accuracy gate on every device with both APs shown', async () => {
    const f = get();
    await uploadEngine(f.cp, GOOD, blazefaceVariant('facefleet e2e: accuracy gate'));
    await createRollout('e2e-ap-good', GOOD);
    const done = await rolloutUntil(f.cp, 'e2e-ap-good', 'completed', ['halted', 'aborted']);
    for (const t of targetsOf(done)) {
      expect(t.state).toBe('applied');
      expect(t.gate?.accuracy).toMatchObject({
        engine: { engineId: GOOD, ap: 100 },
        previous: { engineId: 'bootstrap', ap: 100 },
      });
      // and the FPS gate's figures beside them
      expect(t.gate?.fps?.engine.inferFps).toBeGreaterThan(0);
    }
    await waitFor(async () => (await accuracyOf(GOOD)).length === DEVICE_IDS.length, {
      timeoutMs: 10_000,
      what: 'an accuracy record per device',
    });
    for (const row of await accuracyOf(GOOD)) {
      expect(row).toMatchObject({ ap: 100, previousEngineId: 'bootstrap', previousAp: 100 });
    }
  });
});
