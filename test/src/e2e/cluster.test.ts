import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { examples, facesSchema, topics } from '@facefleet/protocol';
import { openStore, type Store } from '@facefleet/store';
import { query } from '@facefleet/store/testing';
import {
  type Agent,
  type ControlPlane,
  connectWire,
  createPostgresDatabase,
  hostDeviceClass,
  type Mosquitto,
  startAgent,
  startControlPlane,
  startMosquitto,
  type WireClient,
  waitFor,
} from '@facefleet/test-support';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { blazefaceVariant, rollout, rolloutUntil, uploadEngine } from './fleet.js';

/**
 * Issue #16's scale-out topology with real processes: three control-plane instances on one
 * PostgreSQL database behind Debian's Mosquitto (shared subscription), 500 simulated devices
 * publishing through raw MQTT clients that record exactly which QoS 1 publishes the broker
 * acknowledged, and two real agents (the real runner) taking a rollout. One instance is killed
 * with -9 during the ingest three times, the leader first, and restarted under its id as a
 * supervisor would: every publish the broker acknowledged is stored exactly once, the rollout
 * started before the first kill completes on the instance that took the leader's work, and a
 * dashboard stream on an instance that is never killed keeps receiving.
 */

const DEVICES = 500;
const WINDOW = 1; // publishes in flight per device
const INTERVAL_MS = 2000; // each device publishes a window this often (~250 msgs/s in all)
const ROUNDS = 3;

const T0 = Date.now() - 3_600_000;
function faces(deviceId: string, seq: number): string {
  const ts = T0 + seq;
  const { boxes: _boxes, ...base } = examples.faces;
  return JSON.stringify(
    facesSchema.parse({ ...base, deviceId, seq, ts, start: ts - 1000, end: ts }),
  );
}

interface Sim {
  deviceId: string;
  client: WireClient;
  next: number;
  acked: Set<number>;
  unacked: Set<number>;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

describe('three instances on PostgreSQL behind Mosquitto, one killed with -9 three times', {
  timeout: 420_000,
}, () => {
  it('stores every acknowledged message once, completes the rollout and keeps streaming', async () => {
    const pg = createPostgresDatabase(inject('postgresUrl'));
    const mosquitto: Mosquitto = await startMosquitto({
      persistence: true,
      config: ['max_queued_messages 1000000', 'max_inflight_messages 64'],
    });
    cleanups.push(() => mosquitto.close());
    const shared = mkdtempSync(join(tmpdir(), 'ff-cluster-e2e-'));
    cleanups.push(() => rmSync(shared, { recursive: true, force: true }));
    const common = [
      '--store',
      pg,
      '--lease-ms',
      '2000',
      '--ingest-sessions',
      '16',
      '--engines-dir',
      join(shared, 'engines'),
      '--key-file',
      join(shared, 'fleet-key.pem'),
      '--session-key-file',
      join(shared, 'session-key'),
      '--token-key-file',
      join(shared, 'token-key'),
    ];
    const cps = new Map<string, ControlPlane>();
    let admin = '';
    for (const id of ['cp-a', 'cp-b', 'cp-c']) {
      const cp = await startControlPlane({
        broker: mosquitto.url,
        dataDir: mkdtempSync(join(shared, `${id}-`)),
        args: [...common, '--instance-id', id],
        // A restart drains what the broker queued for the instance while it was down.
        readyTimeoutMs: 120_000,
        ...(admin ? { adminToken: admin } : {}),
      });
      admin ||= cp.adminToken;
      cps.set(id, cp);
    }
    cleanups.push(async () => {
      for (const cp of cps.values()) if (cp.process.running) await cp.stop();
    });
    const leaderId = async () => {
      for (const [id, cp] of cps) {
        if (!cp.process.running) continue;
        const h = await cp.json<{ leader?: boolean }>('GET', '/healthz').catch(() => ({}));
        if ((h as { leader?: boolean }).leader) return id;
      }
      return undefined;
    };
    const firstLeader = await waitFor(leaderId, 10_000, 'a leader');
    // The API and the dashboard stream live on an instance that is never killed.
    const steady = cps.get(
      [...cps.keys()].find((id) => id !== firstLeader && id !== 'cp-a') ?? 'cp-c',
    )!;
    const victims = [
      firstLeader,
      ...[...cps.keys()].filter((id) => id !== firstLeader && cps.get(id) !== steady),
    ];

    const store: Store = await openStore(pg);
    cleanups.push(() => store.close());
    const stored = async () =>
      (
        await query<{ n: number }>(
          store,
          "SELECT count(*) AS n FROM face_windows WHERE device_id LIKE 'cl-sim-%'",
        )
      )[0]!.n;

    // Two real agents and a rollout that is under way when the leader is killed.
    const agents: Agent[] = [];
    for (const deviceId of ['cl-agent-1', 'cl-agent-2']) {
      const token = await steady.enroll(deviceId, { deviceClass: hostDeviceClass });
      const agent = await startAgent({
        controlPlane: steady,
        deviceId,
        token,
        brokerUrl: mosquitto.url,
      });
      agents.push(agent);
      cleanups.push(() => agent.stop());
    }
    await waitFor(
      async () =>
        (
          await Promise.all(
            agents.map((a) =>
              steady.json<{ device: { state: string | null } }>(
                'GET',
                `/api/v1/devices/${a.deviceId}`,
              ),
            ),
          )
        ).every((d) => d.device.state === 'online'),
      60_000,
      'the agents online',
    );
    await uploadEngine(steady, 'cl-engine', blazefaceVariant('cluster e2e'));

    // A dashboard's event stream on the steady instance.
    const stream = openEvents(steady.url, admin);
    cleanups.push(() => stream.close());
    await stream.ready;

    // 500 simulated devices.
    const sims: Sim[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const deviceId = `cl-sim-${String(i).padStart(3, '0')}`;
      await steady.enroll(deviceId);
      const client = await connectWire({
        port: mosquitto.port,
        clientId: deviceId,
        username: deviceId,
        password: 'x',
      });
      sims.push({ deviceId, client, next: 0, acked: new Set(), unacked: new Set() });
    }
    cleanups.push(() => Promise.all(sims.map((s) => s.client.end())));
    let pumping = true;
    const timer = setInterval(() => {
      if (!pumping) return;
      for (const s of sims) {
        while (s.client.inflight < WINDOW && !s.client.closed) {
          const seq = s.next++;
          s.unacked.add(seq);
          s.client.publishQos1(topics.faces(s.deviceId), faces(s.deviceId, seq), (err) => {
            if (err) return;
            s.unacked.delete(seq);
            s.acked.add(seq);
          });
        }
      }
    }, INTERVAL_MS);
    cleanups.push(() => clearInterval(timer));
    const acked = () => sims.reduce((n, s) => n + s.acked.size, 0);
    await waitFor(() => acked() >= 1000, 60_000, 'the ingest under way');

    const created = await steady.json<{ rollout: { id: string } }>(
      'POST',
      '/api/v1/rollouts',
      {
        id: 'cl-rollout',
        engineId: 'cl-engine',
        selector: { deviceIds: agents.map((a) => a.deviceId) },
        canaryShare: 0.5,
        holdS: 3,
        gateHoldS: 3,
        minFpsRatio: 0.3,
      },
      { expect: 201 },
    );
    expect(created.rollout.id).toBe('cl-rollout');

    for (let round = 1; round <= ROUNDS; round++) {
      const victim = victims[(round - 1) % victims.length]!;
      const cp = cps.get(victim)!;
      const before = acked();
      const heardBefore = stream.events;
      await waitFor(() => acked() >= before + 1000, 60_000, 'more acknowledged publishes');
      await cp.kill9();
      // The others go on: the broker keeps acknowledging devices, the leader's work moves.
      const afterKill = acked();
      await waitFor(() => acked() >= afterKill + 750, 60_000, 'ingest while an instance is down');
      const leader = await waitFor(leaderId, 15_000, 'a leader among the survivors');
      expect(leader).not.toBe(victim);
      cps.set(victim, await cp.restart());
      expect(stream.events).toBeGreaterThan(heardBefore);
      console.log(
        `round ${round}: killed ${victim}; leader now ${leader}; ${acked()} acknowledged, ${await stored()} stored`,
      );
    }

    // The rollout went on under the new leader.
    const done = await rolloutUntil(
      steady,
      'cl-rollout',
      'completed',
      ['halted', 'aborted'],
      180_000,
    );
    expect(done.targets.every((t) => t.state === 'applied')).toBe(true);
    expect((await rollout(steady, 'cl-rollout')).state).toBe('completed');

    // Stop publishing; every acknowledged publish is in the database, once.
    pumping = false;
    await waitFor(() => sims.every((s) => s.client.inflight === 0), 60_000, 'in-flight publishes');
    const total = acked();
    await waitFor(
      async () => (await stored()) >= total,
      120_000,
      'every acknowledged window stored',
    );
    const rows = await query<{ device_id: string; seq: number }>(
      store,
      "SELECT device_id, seq FROM face_windows WHERE device_id LIKE 'cl-sim-%'",
    );
    const byDevice = new Map<string, number[]>();
    for (const r of rows) {
      const list = byDevice.get(r.device_id) ?? [];
      list.push(r.seq);
      byDevice.set(r.device_id, list);
    }
    let extra = 0;
    for (const s of sims) {
      const have = byDevice.get(s.deviceId) ?? [];
      expect(new Set(have).size, `${s.deviceId}: a window stored twice`).toBe(have.length);
      const missing = [...s.acked].filter((seq) => !have.includes(seq));
      expect(missing, `${s.deviceId}: acknowledged but not stored`).toEqual([]);
      extra += have.length - s.acked.size;
    }
    console.log(
      `${total} acknowledged publishes from ${DEVICES} devices, all stored once; ${extra} more stored whose ack the device never saw`,
    );
    for (const cp of cps.values()) expect(await cp.stop()).toBe(0);
  });
});

/** A dashboard's live-event stream: counts the face windows it hears. */
function openEvents(base: string, token: string) {
  const controller = new AbortController();
  let events = 0;
  let opened!: () => void;
  const ready = new Promise<void>((r) => {
    opened = r;
  });
  void (async () => {
    try {
      const res = await fetch(`${base}/api/v1/events`, {
        headers: { authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        if (text.includes('event: hello')) opened();
        events += text.split('event: faces').length - 1;
      }
    } catch {
      // closed
    }
  })();
  return {
    ready,
    get events() {
      return events;
    },
    close: () => controller.abort(),
  };
}
