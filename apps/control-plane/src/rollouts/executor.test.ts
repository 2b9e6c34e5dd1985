import { createPublicKey, verify } from 'node:crypto';
import { type Desired, rollbackSigningPayload, topics } from '@facefleet/protocol';
import { STORE_KINDS } from '@facefleet/store/testing';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  reportedMessage,
  startTestServer,
  type TestServer,
  waitFor,
} from '../testing.js';

/**
 * Rollouts end to end through the embedded broker: devices are real MQTT clients that read their
 * retained `desired` and answer with `reported`, as the agent does.
 */
describe.each(STORE_KINDS)('rollout executor (%s)', (kind) => {
  let t: TestServer;
  const tokens: Record<string, string> = {};
  const clients: MqttClient[] = [];
  let seq = 1;

  beforeAll(async () => {
    t = await startTestServer([], { store: kind });
    for (const id of ['ro-a', 'ro-b', 'ro-c', 'ro-d', 'ro-off'])
      tokens[id] = await t.enroll(id, 'jetson-nano', ['shop']);
    const up = (id: string) =>
      t.api(
        'POST',
        `/api/v1/engines?id=${id}&name=facenet&model=detectnet_v2&backend=tensorrt&format=plan&deviceClass=jetson-nano&trtVersion=8.2.1&precision=int8&inputDims=3,416,736`,
        {
          body: new Uint8Array(Buffer.from(`engine ${id}`)),
        },
      );
    expect((await up('eng-new')).status).toBe(201);
    expect((await up('eng-old')).status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await t?.close();
  });

  /** A device that answers every desired engine with `outcome` (applied or rolled_back). */
  async function agent(
    id: string,
    outcome: (d: Desired) => 'applied' | 'rolled_back',
  ): Promise<Desired[]> {
    const seen: Desired[] = [];
    const c = await connectClient(t.mqttUrl, { username: id, password: tokens[id], clientId: id });
    clients.push(c);
    c.on('message', (_topic, payload) => {
      if (payload.length === 0) return;
      const d = JSON.parse(payload.toString()) as Desired;
      seen.push(d);
      if (!d.engine || !d.rolloutId) return;
      const state = outcome(d);
      const engineRef = {
        id: state === 'applied' ? d.engine.id : 'eng-old',
        sha256: d.engine.sha256,
        backend: d.engine.backend,
        model: d.engine.model,
      };
      c.publish(
        topics.reported(id),
        JSON.stringify(
          reportedMessage(id, seq++, {
            rev: d.rev,
            engine: engineRef,
            previousEngine: null,
            update: {
              state,
              engineId: d.engine.id,
              rolloutId: d.rolloutId,
              progress: 1,
              reason: state === 'applied' ? null : 'health gate: fps too low',
            },
          }),
        ),
        { qos: 1 },
      );
    });
    await c.subscribeAsync(topics.desired(id), { qos: 1 });
    return seen;
  }

  const rollout = async (id: string) =>
    (
      (await (await t.api('GET', `/api/v1/rollouts/${id}`)).json()) as {
        rollout: { state: string; targets: { deviceId: string; state: string }[] };
      }
    ).rollout;

  describe('rollouts over MQTT', () => {
    it('promotes after the canary holds, and an offline device picks the engine up when it returns', async () => {
      await agent('ro-a', () => 'applied');
      await agent('ro-b', () => 'applied');
      const res = await t.api('POST', '/api/v1/rollouts', {
        body: {
          id: 'ro-1',
          engineId: 'eng-new',
          selector: { deviceIds: ['ro-a', 'ro-b', 'ro-off'] },
          canaryShare: 0.3,
          holdS: 0.3,
        },
      });
      expect(res.status).toBe(201);
      await waitFor(async () => (await rollout('ro-1')).state === 'rolling', 5000, 'promotion');
      // ro-off is offline: the rollout waits for it; its desired state is retained on the broker.
      await waitFor(
        async () =>
          (await rollout('ro-1')).targets.find((x) => x.deviceId === 'ro-off')?.state === 'desired',
        5000,
        'desired sent',
      );
      expect((await rollout('ro-1')).state).toBe('rolling');
      const seen = await agent('ro-off', () => 'applied');
      await waitFor(async () => (await rollout('ro-1')).state === 'completed', 5000, 'completion');
      expect(seen[0]).toMatchObject({ rolloutId: 'ro-1', engine: { id: 'eng-new' } });
      const device = (await (await t.api('GET', '/api/v1/devices/ro-off')).json()) as {
        device: { engineId: string };
      };
      expect(device.device.engineId).toBe('eng-new');
    });

    it('halts by itself when failures pass the limit and reverts the devices', async () => {
      const seenC = await agent('ro-c', () => 'rolled_back');
      const seenD = await agent('ro-d', () => 'rolled_back');
      const res = await t.api('POST', '/api/v1/rollouts', {
        body: {
          id: 'ro-2',
          engineId: 'eng-new',
          selector: { deviceIds: ['ro-c', 'ro-d'] },
          canaryShare: 1,
          holdS: 0,
          failureLimit: 1,
        },
      });
      expect(res.status).toBe(201);
      await waitFor(async () => (await rollout('ro-2')).state === 'halted', 5000, 'halt');
      await waitFor(() => seenC.length >= 2 && seenD.length >= 2, 5000, 'revert desired');
      expect(seenC[seenC.length - 1]).toMatchObject({ rolloutId: null });
      expect(seenC[seenC.length - 1]!.rev).toBeGreaterThan(seenC[0]!.rev);
      expect((await rollout('ro-2')).targets.every((x) => x.state === 'reverted')).toBe(true);
      const metrics = await (await t.api('GET', '/metrics')).text();
      expect(metrics).toContain('facefleet_rollouts{state="halted"} 1');
    });

    it('rolls an older engine out only when a rollback is asked for, and signs that rollback (issue 17, finding 15)', async () => {
      // ro-a runs eng-new since the first rollout; a later upload is a higher version
      const up = await t.api(
        'POST',
        '/api/v1/engines?id=eng-later&name=facenet&model=detectnet_v2&backend=tensorrt&format=plan&deviceClass=jetson-nano&trtVersion=8.2.1&precision=int8&inputDims=3,416,736',
        { body: new Uint8Array(Buffer.from('engine later')) },
      );
      expect(up.status).toBe(201);
      const forward = await t.api('POST', '/api/v1/rollouts', {
        body: {
          id: 'ro-fwd',
          engineId: 'eng-later',
          selector: { deviceIds: ['ro-a'] },
          canaryShare: 0,
        },
      });
      expect(forward.status).toBe(201);
      await waitFor(async () => (await rollout('ro-fwd')).state === 'completed', 5000, 'forward');
      const back = { engineId: 'eng-new', selector: { deviceIds: ['ro-a'] }, canaryShare: 0 };
      const refused = await t.api('POST', '/api/v1/rollouts', { body: { id: 'ro-back', ...back } });
      expect(refused.status).toBe(400);
      expect(
        ((await refused.json()) as { error: { details: { path: string }[] } }).error.details[0]
          ?.path,
      ).toBe('rollback');
      const ok = await t.api('POST', '/api/v1/rollouts', {
        body: { id: 'ro-back', ...back, rollback: true },
      });
      expect(ok.status).toBe(201);
      const [row] = await t.sql<{ desired_json: string }>(
        'SELECT desired_json FROM devices WHERE id = ?',
        ['ro-a'],
      );
      const desired = JSON.parse(row!.desired_json) as Desired;
      expect(desired).toMatchObject({ rolloutId: 'ro-back', engine: { id: 'eng-new' } });
      const { publicKeyPem } = (await (
        await t.api('GET', '/api/v1/fleet/public-key', { token: null })
      ).json()) as { publicKeyPem: string };
      const payload = rollbackSigningPayload({
        deviceId: 'ro-a',
        rev: desired.rev,
        engineId: 'eng-new',
        version: desired.engine!.version,
      });
      expect(
        verify(
          null,
          payload,
          createPublicKey(publicKeyPem),
          Buffer.from(desired.rollback!, 'base64'),
        ),
      ).toBe(true);
    });

    it('refuses a rollout naming devices of another class, and commands on a finished rollout', async () => {
      await t.enroll('ro-nx', 'jetson-xavier-nx');
      const res = await t.api('POST', '/api/v1/rollouts', {
        body: { engineId: 'eng-new', selector: { deviceIds: ['ro-nx'] } },
      });
      expect(res.status).toBe(400);
      expect(
        ((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path,
      ).toBe('selector.deviceIds');
      expect((await t.api('POST', '/api/v1/rollouts/ro-1/pause')).status).toBe(409);
      expect((await t.api('POST', '/api/v1/rollouts/nope/pause')).status).toBe(404);
    });
  });
});
