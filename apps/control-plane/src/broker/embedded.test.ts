import { connect } from 'node:net';
import { agentClientId, MAX_PAYLOAD_BYTES, topics } from '@facefleet/protocol';
import { STORE_KINDS } from '@facefleet/store/testing';
import { connectWire, encodeLength, encodePublish } from '@facefleet/test-support';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  facesMessage,
  grant,
  startTestServer,
  statusMessage,
  type TestServer,
  waitFor,
} from '../testing.js';

describe.each(STORE_KINDS)('embedded broker (%s)', (kind) => {
  let t: TestServer;
  const clients: MqttClient[] = [];
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestServer(['--rate-per-sec', '200', '--rate-burst', '200'], { store: kind });
    for (const id of ['cam-a', 'cam-b', 'cam-flood']) tokens[id] = await t.enroll(id);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  afterAll(async () => {
    await t?.close();
  });

  async function device(
    id: string,
    extra: Parameters<typeof connectClient>[1] = {},
  ): Promise<MqttClient> {
    const c = await connectClient(t.mqttUrl, {
      clientId: `${id}-${clients.length}`,
      username: id,
      password: tokens[id],
      ...extra,
    });
    clients.push(c);
    return c;
  }

  const count = async (table: string, deviceId: string): Promise<number> =>
    (
      await t.sql<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE device_id = ?`, [
        deviceId,
      ])
    )[0]!.n;

  describe('login', () => {
    it('lets an enrolled device in with its token', async () => {
      const c = await device('cam-a');
      expect(c.connected).toBe(true);
    });

    it('refuses a wrong password, an unknown device and an anonymous client', async () => {
      await expect(
        connectClient(t.mqttUrl, { username: 'cam-a', password: 'nope' }),
      ).rejects.toThrow(/Bad username or password|Not authorized/i);
      await expect(
        connectClient(t.mqttUrl, { username: 'cam-zzz', password: tokens['cam-a'] }),
      ).rejects.toThrow();
      await expect(connectClient(t.mqttUrl, {})).rejects.toThrow();
      await expect(
        connectClient(t.mqttUrl, { username: 'control-plane', password: 'x' }),
      ).rejects.toThrow();
      expect(t.server.telemetry.authFailures.sum()).toBeGreaterThanOrEqual(4);
    });

    it('stops accepting a device token once the device is deleted', async () => {
      const token = await t.enroll('cam-gone');
      const c = await connectClient(t.mqttUrl, { username: 'cam-gone', password: token });
      await c.endAsync();
      await t.api('DELETE', '/api/v1/devices/cam-gone');
      await expect(
        connectClient(t.mqttUrl, { username: 'cam-gone', password: token }),
      ).rejects.toThrow();
    });
  });

  describe('ACL', () => {
    it("disconnects a device publishing to another device's topic and stores nothing", async () => {
      const c = await device('cam-a');
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-b', 1)), { qos: 1 });
      await closed;
      expect(await count('face_windows', 'cam-b')).toBe(0);
      expect(t.server.telemetry.rejected.get({ reason: 'acl' })).toBeGreaterThanOrEqual(1);
    });

    it("keeps a device from taking over another login's session by its client id", async () => {
      const b = await device('cam-b', { clientId: 'shared-id' });
      const failures = t.server.telemetry.authFailures.sum();
      const port = Number(new URL(t.mqttUrl).port);
      const login = (clientId: string, username: string) =>
        connectWire({ port, clientId, username, password: tokens[username]! });
      // a session held by cam-b
      const takeover = await login('shared-id', 'cam-a');
      expect(takeover.returnCode).toBe(2); // identifier rejected
      // another device's agent id, even while that agent is away
      const squat = await login(agentClientId('cam-b'), 'cam-a');
      expect(squat.returnCode).toBe(2);
      expect(t.server.telemetry.authFailures.sum()).toBe(failures + 2);
      expect(b.connected).toBe(true);
      // its own login takes its own session over, as MQTT says
      const again = await login('shared-id', 'cam-b');
      expect(again.returnCode).toBe(0);
      await waitFor(() => !b.connected, 5000, 'the older cam-b session to be closed');
      const own = await login(agentClientId('cam-a'), 'cam-a');
      expect(own.returnCode).toBe(0);
      await Promise.all([again.end(), own.end()]);
    });

    it("refuses a subscription to another device's desired state and to everything", async () => {
      const c = await device('cam-a');
      expect(await grant(c, topics.desired('cam-b'))).toBe(128);
      expect(await grant(c, 'facefleet/v1/#')).toBe(128);
      expect(await grant(c, '$SYS/#')).toBe(128);
      expect(await grant(c, topics.desired('cam-a'))).toBe(1);
      expect(c.connected).toBe(true);
    });

    it('gives subscriber credentials face counts, status, metrics and alerts, read-only', async () => {
      const res = await t.api('POST', '/api/v1/subscribers', { body: { name: 'ha' } });
      const { username, password } = (await res.json()) as { username: string; password: string };
      expect(username).toBe('subscriber@ha');
      const sub = await connectClient(t.mqttUrl, { username, password });
      clients.push(sub);
      expect(await grant(sub, 'facefleet/v1/devices/+/metrics')).toBe(1);
      expect(await grant(sub, 'facefleet/v1/devices/+/reported')).toBe(128);
      expect(await grant(sub, 'facefleet/v1/devices/+/desired')).toBe(128);
      expect(await grant(sub, 'facefleet/v1/alerts/#')).toBe(1);
      expect(await grant(sub, 'facefleet/v1/devices/+/faces')).toBe(1);
      const got = new Promise<string>((r) => sub.once('message', (topic) => r(topic)));
      const pub = await device('cam-a');
      await pub.publishAsync(topics.faces('cam-a'), JSON.stringify(facesMessage('cam-a', 500)), {
        qos: 1,
      });
      expect(await got).toBe(topics.faces('cam-a'));
      const closed = new Promise<void>((r) => sub.once('close', () => r()));
      sub.publish(topics.faces('cam-a'), JSON.stringify(facesMessage('cam-a', 501)), { qos: 1 });
      await closed;
    });
  });

  describe('ingest', () => {
    it('stores each message once: replays of the same seq are acknowledged and not stored again', async () => {
      const c = await device('cam-b');
      for (let round = 0; round < 3; round++) {
        for (let seq = 1000; seq < 1010; seq++) {
          await c.publishAsync(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-b', seq)), {
            qos: 1,
          });
        }
      }
      expect(await count('face_windows', 'cam-b')).toBe(10);
      expect(t.server.telemetry.duplicates.get({ kind: 'faces' })).toBeGreaterThanOrEqual(20);
    });

    it('acknowledges a QoS 1 publish only after it is in the database', async () => {
      const c = await device('cam-b');
      await c.publishAsync(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-b', 2000)), {
        qos: 1,
      });
      // No waiting: the PUBACK itself proves the row is committed.
      const rows = await t.sql('SELECT seq FROM face_windows WHERE device_id = ? AND seq = ?', [
        'cam-b',
        2000,
      ]);
      expect(rows).toEqual([{ seq: 2000 }]);
      // …and /metrics shows how long acks waited for their commits, and how late the event loop ran
      const text = await (await t.api('GET', '/metrics')).text();
      const acked = /facefleet_ingest_ack_delay_seconds_count (\d+)/.exec(text);
      expect(Number(acked?.[1])).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/facefleet_event_loop_delay_seconds\{quantile="0.99"\} [\d.e-]+/);
    });

    it('counts malformed payloads by reason, does not store them, and keeps serving', async () => {
      const c = await device('cam-b');
      const before = await count('face_windows', 'cam-b');
      await c.publishAsync(topics.faces('cam-b'), '{not json', { qos: 1 });
      await c.publishAsync(
        topics.faces('cam-b'),
        JSON.stringify({ ...facesMessage('cam-b', 3000), min: 9, max: 1 }),
        { qos: 1 },
      );
      await c.publishAsync(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-a', 3001)), {
        qos: 1,
      });
      await c.publishAsync(topics.metrics('cam-b'), JSON.stringify({ v: 1 }), { qos: 0 });
      expect(await count('face_windows', 'cam-b')).toBe(before);
      expect(t.server.telemetry.rejected.get({ reason: 'invalid_payload' })).toBeGreaterThanOrEqual(
        2,
      );
      expect(t.server.telemetry.rejected.get({ reason: 'device_mismatch' })).toBeGreaterThanOrEqual(
        1,
      );
      await c.publishAsync(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-b', 3002)), {
        qos: 1,
      });
      expect(await count('face_windows', 'cam-b')).toBe(before + 1);
      const metricsText = await (await t.api('GET', '/metrics')).text();
      expect(metricsText).toMatch(
        /facefleet_ingest_rejected_total\{reason="invalid_payload"\} \d+/,
      );
    });

    it('updates the device row from its retained status and marks it offline through its will', async () => {
      const c = await device('cam-b', {
        will: {
          topic: topics.status('cam-b'),
          payload: Buffer.from(JSON.stringify(statusMessage('cam-b', 4001, 'offline'))),
          qos: 1,
          retain: true,
        },
      });
      await c.publishAsync(
        topics.status('cam-b'),
        JSON.stringify(statusMessage('cam-b', 4000, 'online')),
        { qos: 1, retain: true },
      );
      expect((await (await t.api('GET', '/api/v1/devices/cam-b')).json()) as unknown).toMatchObject(
        {
          device: { state: 'online' },
        },
      );
      c.stream.destroy(); // an unclean loss of the connection fires the will
      await waitFor(
        async () =>
          (
            (await (await t.api('GET', '/api/v1/devices/cam-b')).json()) as {
              device: { state: string };
            }
          ).device.state === 'offline',
        5000,
        'offline',
      );
    });

    it('counts seq gaps per device and in /metrics, excusing a will that did not fire', async () => {
      tokens['cam-gap'] = await t.enroll('cam-gap');
      const c = await device('cam-gap');
      const send = (topic: string, payload: unknown) =>
        c.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
      // seqs 1..6: 1 announces its will as 5; 3 never arrives; the will never fires
      await send(topics.status('cam-gap'), {
        ...statusMessage('cam-gap', 1, 'online'),
        willSeq: 5,
      });
      for (const seq of [2, 4, 6])
        await send(topics.faces('cam-gap'), facesMessage('cam-gap', seq));
      const shown = (await (await t.api('GET', '/api/v1/devices/cam-gap')).json()) as {
        device: { seq: unknown };
      };
      expect(shown.device.seq).toEqual({ first: 1, last: 6, stored: 4, unfiredWills: 1, gaps: 1 });
      const metrics = await (await t.api('GET', '/metrics')).text();
      expect(Number(/facefleet_ingest_seq_gaps (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(
        1,
      );
    });

    it('keeps serving the other devices while one floods QoS 0', async () => {
      const flood = await device('cam-flood');
      const payload = JSON.stringify(facesMessage('cam-flood', 1));
      let stop = false;
      let sent = 0;
      const pump = () => {
        // Write as fast as the socket takes it, ignoring backpressure beyond the socket buffer.
        while (!stop && flood.connected && sent < 200_000) {
          flood.publish(topics.faces('cam-flood'), payload, { qos: 0 });
          sent++;
          if (sent % 500 === 0) return setImmediate(pump);
        }
      };
      pump();
      const other = await device('cam-a');
      const started = Date.now();
      const latencies: number[] = [];
      for (let seq = 6000; seq < 6020; seq++) {
        const t0 = Date.now();
        await other.publishAsync(
          topics.faces('cam-a'),
          JSON.stringify(facesMessage('cam-a', seq)),
          {
            qos: 1,
          },
        );
        latencies.push(Date.now() - t0);
      }
      stop = true;
      expect(sent).toBeGreaterThan(2000);
      expect(await count('face_windows', 'cam-a')).toBeGreaterThanOrEqual(20);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(Math.max(...latencies)).toBeLessThan(2000);
      expect(t.server.telemetry.rateLimited.get()).toBeGreaterThan(0);
      // The broker is still healthy for new logins.
      const late = await device('cam-b');
      expect(late.connected).toBe(true);
    });
  });

  describe('packet size', () => {
    const mqttPort = () => Number(new URL(t.mqttUrl).port);
    const tooLarge = () => t.server.telemetry.rejected.get({ reason: 'packet_too_large' });

    it('reads a payload over 64 KiB under the packet cap, refuses it as too_large and keeps the link', async () => {
      const c = await connectWire({
        port: mqttPort(),
        clientId: 'cam-b-big',
        username: 'cam-b',
        password: tokens['cam-b']!,
      });
      try {
        const before = await count('face_windows', 'cam-b');
        const rejected = t.server.telemetry.rejected.get({ reason: 'too_large' });
        const msg = facesMessage('cam-b', 7000);
        const padded = JSON.stringify({ ...msg, pad: 'x'.repeat(MAX_PAYLOAD_BYTES) });
        await c.publish(topics.faces('cam-b'), padded);
        expect(t.server.telemetry.rejected.get({ reason: 'too_large' })).toBe(rejected + 1);
        await c.publish(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-b', 7001)));
        expect(await count('face_windows', 'cam-b')).toBe(before + 1);
        expect(c.closed).toBe(false);
      } finally {
        await c.end();
      }
    });

    it('counts a publish to a wildcard, empty or too deep topic and closes that connection only', async () => {
      const other = await device('cam-a');
      const badTopic = () => t.server.telemetry.rejected.get({ reason: 'bad_topic' });
      const before = badTopic();
      const topicsRefused = [
        'facefleet/v1/devices/+/faces',
        'facefleet/v1/devices/#',
        '',
        'a/'.repeat(300),
      ];
      for (const [i, topic] of topicsRefused.entries()) {
        const c = await connectWire({
          port: mqttPort(),
          clientId: `cam-b-topic-${i}`,
          username: 'cam-b',
          password: tokens['cam-b']!,
        });
        c.write(encodePublish(topic, '{}', 1, 1));
        await c.whenClosed;
      }
      expect(badTopic()).toBe(before + topicsRefused.length);
      expect(other.connected).toBe(true);
    });

    it('disconnects a device announcing a packet over the cap before reading it, and counts it', async () => {
      const c = await connectWire({
        port: mqttPort(),
        clientId: 'cam-b-huge',
        username: 'cam-b',
        password: tokens['cam-b']!,
      });
      const before = tooLarge();
      // A PUBLISH that says 200 MB follow; only its first 64 KiB are ever sent.
      c.write(Buffer.from([0x30, ...encodeLength(200_000_000)]));
      c.write(Buffer.alloc(64 * 1024, 0x61));
      await c.whenClosed;
      expect(tooLarge()).toBe(before + 1);
      // others are served as before
      const other = await device('cam-a');
      await other.publishAsync(topics.faces('cam-a'), JSON.stringify(facesMessage('cam-a', 7100)), {
        qos: 1,
      });
    });

    it('closes an unauthenticated connection whose CONNECT announces 100 MB, long before the connect timeout', async () => {
      const before = tooLarge();
      const socket = connect(mqttPort(), '127.0.0.1');
      const closed = new Promise<number>((resolve) => {
        const t0 = Date.now();
        socket.once('close', () => resolve(Date.now() - t0));
      });
      socket.on('error', () => {});
      socket.write(Buffer.from([0x10, ...encodeLength(100_000_000), 0, 4]));
      expect(await closed).toBeLessThan(5000);
      expect(tooLarge()).toBe(before + 1);
    });
  });
});
