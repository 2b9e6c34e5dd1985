import { readFileSync } from 'node:fs';
import { topics } from '@facefleet/protocol';
import { blazefaceModel, mosquittoSub, waitFor } from '@facefleet/test-support';
import { expect, it } from 'vitest';
import {
  blazefaceVariant,
  DEVICE_IDS,
  device,
  type Fleet,
  type Rollout,
  rolloutUntil,
  runnerModel,
  sha256,
  TAG,
  updateHistory,
  uploadEngine,
} from './fleet.js';

/**
 * Engine rollouts through the whole system: upload (the control plane hashes and signs), staged
 * desired state over MQTT, the agents' download, signature check, switch, runner restart and
 * health gate, their reports, and the rollout's own state machine. Run in this order on one fleet:
 * the bad engine follows the good one.
 */

const GOOD = 'e2e-blazeface-2';
const BAD = 'e2e-broken';
const CANARY = DEVICE_IDS[0]; // the first of the sorted targets, with a 10 % canary share of 3
const REST = DEVICE_IDS.slice(1);

/** A second valid BlazeFace engine with its own sha256. */
const secondBlazeface = () => blazefaceVariant('facefleet e2e: a second engine');

/** The sha256 of the model file the runner behind the device's reported status has open. */
async function runnerModelSha(fleet: Fleet, id: string): Promise<string | null> {
  return (await runnerModel(fleet.cp, id))?.sha256 ?? null;
}

export function rolloutTests(fleet: () => Fleet): void {
  it('rolls a good engine out canary first: every agent applies it and its runner runs that engine', async () => {
    const f = fleet();
    const bytes = secondBlazeface();
    const engine = await uploadEngine(f.cp, GOOD, bytes);
    expect(engine.sha256).toBe(sha256(bytes));
    await f.cp.json(
      'POST',
      '/api/v1/rollouts',
      {
        id: 'e2e-good',
        engineId: GOOD,
        selector: { tag: TAG },
        canaryShare: 0.1,
        holdS: 1,
        failureLimit: 0,
        gateHoldS: 2,
        minFpsRatio: 0.5,
      },
      { expect: 201 },
    );
    const done: Rollout = await rolloutUntil(f.cp, 'e2e-good', 'completed', ['halted', 'aborted']);
    expect(done.targets.filter((t) => t.stage === 'canary').map((t) => t.deviceId)).toEqual([
      CANARY,
    ]);
    expect(done.targets.map((t) => t.state)).toEqual(['applied', 'applied', 'applied']);

    for (const id of DEVICE_IDS) {
      const d = await device(f.cp, id);
      expect(d.reported?.engine).toMatchObject({ id: GOOD, sha256: engine.sha256 });
      expect(d.reported?.update).toMatchObject({
        state: 'applied',
        engineId: GOOD,
        rolloutId: 'e2e-good',
      });
      // Not only what the agent says: the runner process it supervises has that file open.
      await waitFor(async () => (await runnerModelSha(f, id)) === engine.sha256, {
        timeoutMs: 30_000,
        what: `${id}'s runner to run ${GOOD}`,
      });
    }

    // Canary first: it had applied the engine before any other device heard of the rollout.
    const canaryApplied = (await updateHistory(f.cp, CANARY)).find(
      (u) => u.rolloutId === 'e2e-good' && u.state === 'applied',
    );
    expect(canaryApplied).toBeDefined();
    for (const id of REST) {
      const first = (await updateHistory(f.cp, id))
        .filter((u) => u.rolloutId === 'e2e-good')
        .map((u) => u.ts);
      expect(first.length).toBeGreaterThan(0);
      expect(Math.min(...first)).toBeGreaterThanOrEqual(canaryApplied!.ts);
    }
  });

  it('a bad engine: the canary rolls back, the rollout halts, and no other agent ever gets it', async () => {
    const f = fleet();
    // A truncated model: it downloads and verifies (the control plane signed these bytes) but
    // OpenCV cannot parse it, so the runner exits with model_load before its hello.
    const full = readFileSync(blazefaceModel);
    const bytes = full.subarray(0, Math.floor(full.length / 2));
    await uploadEngine(f.cp, BAD, bytes);

    // The other devices' desired-state topics, read with their own credentials from now on.
    const watchers = await Promise.all(
      f.agents
        .filter((a) => a.deviceId !== CANARY)
        .map((a) =>
          mosquittoSub({
            url: f.cp.mqttUrl,
            username: a.deviceId,
            password: a.token,
            clientId: `${a.deviceId}-watcher`,
            topics: [topics.desired(a.deviceId)],
          }),
        ),
    );
    try {
      await f.cp.json(
        'POST',
        '/api/v1/rollouts',
        {
          id: 'e2e-bad',
          engineId: BAD,
          selector: { tag: TAG },
          canaryShare: 0.1,
          holdS: 1,
          failureLimit: 0,
          gateHoldS: 2,
          minFpsRatio: 0.5,
        },
        { expect: 201 },
      );
      const halted = await rolloutUntil(f.cp, 'e2e-bad', 'halted', ['completed', 'aborted']);
      expect(halted.reason).toMatch(/1 devices failed the update \(limit 0\)/);
      const byId = new Map(halted.targets.map((t) => [t.deviceId, t]));
      expect(byId.get(CANARY)?.stage).toBe('canary');
      for (const id of REST) expect(byId.get(id)).toMatchObject({ state: 'pending', rev: null });

      // The canary tried it, failed the health gate, and went back to the good engine by itself.
      const canary = f.agents.find((a) => a.deviceId === CANARY)!;
      await canary.waitForLog('rolling back engine', { where: (l) => l.from === BAD });
      const update = (await updateHistory(f.cp, CANARY)).find(
        (u) => u.rolloutId === 'e2e-bad' && u.state === 'rolled_back',
      );
      expect(update?.engineId).toBe(BAD);
      expect(update?.reason).toMatch(/runner exited before hello/);
      const goodSha = sha256(secondBlazeface());
      await waitFor(
        async () => {
          const d = await device(f.cp, CANARY);
          return d.reported?.engine?.id === GOOD && (await runnerModelSha(f, CANARY)) === goodSha;
        },
        { timeoutMs: 60_000, what: `${CANARY} to run ${GOOD} again` },
      );

      // Nobody else was ever sent the engine: not in their reports, not on their desired topics.
      for (const id of REST) {
        const history = await updateHistory(f.cp, id);
        expect(history.filter((u) => u.rolloutId === 'e2e-bad' || u.engineId === BAD)).toEqual([]);
        const d = await device(f.cp, id);
        expect(d.reported?.engine?.id).toBe(GOOD);
      }
      for (const w of watchers) {
        // the retained desired state they had all along: the good engine's
        const retained = await w.waitForMessage(/\/desired$/);
        expect(JSON.parse(retained.payload)).toMatchObject({ engine: { id: GOOD } });
        expect(w.messages.filter((m) => m.payload.includes(BAD))).toEqual([]);
      }
    } finally {
      for (const w of watchers) expect(await w.stop()).toBe(0);
    }
  });
}
