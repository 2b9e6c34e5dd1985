import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Alert, type Desired, topics } from '@facefleet/protocol';
import {
  createPostgresDatabase,
  type Mosquitto,
  startMosquitto,
  waitFor,
} from '@facefleet/test-support';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  connectClient,
  facesMessage,
  reportedMessage,
  startTestServer,
  type TestServer,
} from '../testing.js';

/**
 * Three control-plane instances sharing one PostgreSQL database and one Mosquitto (shared
 * subscription), in this process: every message stored once whichever instance took it; one
 * leader does the singleton work and the others take over when it goes; live events reach every
 * instance. (test/src/e2e has the same with real processes and kill -9.)
 */
describe('several instances on one PostgreSQL store behind Mosquitto', () => {
  let mosquitto: Mosquitto;
  let location: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-cluster-'));
  const instances: TestServer[] = [];
  const clients: MqttClient[] = [];

  const start = (id: string) =>
    startTestServer(
      [
        '--broker',
        mosquitto.url,
        '--instance-id',
        id,
        '--lease-ms',
        '1000',
        '--ingest-sessions',
        '4',
      ],
      // One data folder: the instances share the fleet key, the session key and the engines.
      { store: location, dataDir },
    );
  const leaderOf = () => instances.filter((i) => i.server.instance.leader);

  beforeAll(async () => {
    mosquitto = await startMosquitto({ persistence: true });
    location = createPostgresDatabase(inject('postgresUrl'));
    for (const id of ['cp-a', 'cp-b', 'cp-c']) instances.push(await start(id));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const i of instances) await i.close().catch(() => {});
    await mosquitto?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function device(id: string): Promise<MqttClient> {
    const c = await connectClient(mosquitto.url, { clientId: id, username: id, password: 'x' });
    clients.push(c);
    return c;
  }

  it('has exactly one leader, and every instance answers the API on the shared data', async () => {
    await waitFor(() => leaderOf().length === 1, 5000, 'one leader');
    const [a, b, c] = instances as [TestServer, TestServer, TestServer];
    await a.enroll('cl-1', 'jetson-nano', ['lobby']);
    for (const i of [b, c]) {
      const res = await i.api('GET', '/api/v1/devices/cl-1', { token: a.admin });
      expect(res.status).toBe(200);
    }
    expect(b.admin).toBe(''); // the first admin token was made once, by the first instance
  });

  it('stores every message once, whichever instance took it, and all of them take some', async () => {
    const dev = await device('cl-1');
    for (let seq = 1; seq <= 300; seq++) {
      await dev.publishAsync(topics.faces('cl-1'), JSON.stringify(facesMessage('cl-1', seq)), {
        qos: 1,
      });
    }
    await waitFor(
      async () =>
        (await instances[0]!.sql<{ n: number }>('SELECT count(*) AS n FROM face_windows'))[0]!.n ===
        300,
      20_000,
      'every window stored',
    );
    const taken = () => instances.map((i) => i.server.telemetry.ingested.get({ kind: 'faces' }));
    // (Counted once each instance's commit callback ran, a moment after the rows are visible.)
    await waitFor(() => taken().reduce((x, y) => x + y, 0) === 300, 5000, 'the counters');
    for (const n of taken()) expect(n).toBeGreaterThan(0);
  });

  it('fires an alert once, on the leader, for windows any instance took; live events reach every instance', async () => {
    const [a, , c] = instances as [TestServer, TestServer, TestServer];
    const res = await c.api('POST', '/api/v1/alert-rules', {
      token: a.admin,
      body: { id: 'cl-crowd', kind: 'faces_above', threshold: 3 },
    });
    expect(res.status).toBe(201);
    // A dashboard on every instance.
    const streams = instances.map((i) => openEvents(i, a.admin));
    await Promise.all(streams.map((s) => s.ready));
    const sub = await connectClient(mosquitto.url, { clientId: 'cl-watch' });
    clients.push(sub);
    const alerts: Alert[] = [];
    sub.on('message', (_t, p) => alerts.push(JSON.parse(p.toString()) as Alert));
    await sub.subscribeAsync(topics.alert('cl-crowd', 'cl-1'), { qos: 1 });
    const dev = clients[0]!;
    for (let seq = 400; seq < 412; seq++) {
      await dev.publishAsync(
        topics.faces('cl-1'),
        JSON.stringify(facesMessage('cl-1', seq, { max: 5, last: 5, mean: 4 })),
        { qos: 1 },
      );
    }
    await waitFor(() => alerts.some((x) => x.state === 'firing'), 10_000, 'the alert');
    // One window: one instance takes it, and every instance's dashboards hear of it.
    const one = facesMessage('cl-1', 500);
    await dev.publishAsync(topics.faces('cl-1'), JSON.stringify(one), { qos: 1 });
    for (const s of streams) {
      await waitFor(() => s.faces.has(one.ts), 10_000, 'the window on every instance');
      s.close();
    }
    const listed = (await (await a.api('GET', '/api/v1/alerts?ruleId=cl-crowd')).json()) as {
      alerts: { state: string }[];
    };
    expect(listed.alerts).toHaveLength(1);
    expect(alerts.filter((x) => x.state === 'firing')).toHaveLength(1);
  });

  it('moves the leader work to another instance when the leader stops: a rollout started before completes', async () => {
    const leader = leaderOf()[0]!;
    const other = instances.find((i) => i !== leader)!;
    const admin = instances[0]!.admin;
    for (const id of ['cl-r1', 'cl-r2', 'cl-r3']) {
      const res = await other.api('POST', '/api/v1/devices', {
        token: admin,
        body: { id, deviceClass: 'jetson-nano' },
      });
      expect(res.status).toBe(201);
    }
    const up = await other.api(
      'POST',
      '/api/v1/engines?id=cl-eng&name=facenet&model=detectnet_v2&backend=tensorrt&format=plan&deviceClass=jetson-nano&trtVersion=8.2.1&precision=int8&inputDims=3,416,736',
      { token: admin, body: new Uint8Array(Buffer.from('engine bytes')) },
    );
    expect(up.status).toBe(201);
    // Devices that apply whatever they are told to, a few seconds after.
    let seq = 1;
    for (const id of ['cl-r1', 'cl-r2', 'cl-r3']) {
      const c = await device(id);
      c.on('message', (_topic, payload) => {
        if (payload.length === 0) return;
        const d = JSON.parse(payload.toString()) as Desired;
        if (!d.engine || !d.rolloutId) return;
        const report = reportedMessage(id, seq++, {
          rev: d.rev,
          engine: {
            id: d.engine.id,
            sha256: d.engine.sha256,
            backend: d.engine.backend,
            model: d.engine.model,
          },
          previousEngine: null,
          update: {
            state: 'applied',
            engineId: d.engine.id,
            rolloutId: d.rolloutId,
            progress: 1,
            reason: null,
          },
        });
        setTimeout(() => c.publish(topics.reported(id), JSON.stringify(report), { qos: 1 }), 300);
      });
      await c.subscribeAsync(topics.desired(id), { qos: 1 });
    }
    const created = await other.api('POST', '/api/v1/rollouts', {
      token: admin,
      body: {
        id: 'cl-ro',
        engineId: 'cl-eng',
        selector: { deviceIds: ['cl-r1', 'cl-r2', 'cl-r3'] },
        canaryShare: 0.34,
        holdS: 2,
      },
    });
    expect(created.status).toBe(201);
    // The leader goes while the canary holds; another takes over its work. The broker keeps the
    // gone instance's share of the messages for it, as Mosquitto does, until it is back under
    // the same id (as systemd or Kubernetes restart it), now as a follower.
    await leader.close();
    const id = leader.server.instance.id;
    instances.splice(instances.indexOf(leader), 1);
    await waitFor(() => leaderOf().length === 1, 5000, 'a new leader');
    const newLeader = leaderOf()[0]!;
    instances.push(await start(id));
    const state = async () =>
      (
        (await (await other.api('GET', '/api/v1/rollouts/cl-ro', { token: admin })).json()) as {
          rollout: { state: string };
        }
      ).rollout.state;
    await waitFor(async () => (await state()) === 'completed', 20_000, 'the rollout to complete');
    expect(newLeader.server.instance.leader).toBe(true);
  }, 60_000);
});

/** A live-event stream (SSE) on an instance, collecting the seqs of the face windows it hears. */
function openEvents(t: TestServer, token: string) {
  const controller = new AbortController();
  const faces = new Set<number>();
  let opened!: () => void;
  const ready = new Promise<void>((r) => {
    opened = r;
  });
  void (async () => {
    const res = await fetch(`http://127.0.0.1:${t.server.ports.http}/api/v1/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        if (buffer.includes('event: hello')) opened();
        for (const m of buffer.matchAll(/data: (\{"type":"faces"[^\n]*)/g)) {
          faces.add((JSON.parse(m[1]!) as { ts: number }).ts);
        }
        buffer = buffer.slice(Math.max(0, buffer.lastIndexOf('\n\n')));
      }
    } catch {
      // aborted
    }
  })();
  return { ready, faces, close: () => controller.abort() };
}
