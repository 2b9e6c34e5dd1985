import { type Principal, topics } from '@facefleet/protocol';
import { openSqliteStore } from '@facefleet/store';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottle } from '../auth/login-throttle.js';
import { createIngest } from '../ingest/ingest.js';
import { createTelemetry } from '../telemetry.js';
import {
  connectClient,
  facesMessage,
  startTestServer,
  statusMessage,
  type TestServer,
  waitFor,
} from '../testing.js';
import { createEmbeddedBroker } from './embedded.js';

/**
 * Revoked credentials end the sessions that use them on the embedded broker: deleting a device,
 * rotating its token, re-creating or revoking subscriber credentials. Real clients on loopback.
 */
let t: TestServer;
const clients: MqttClient[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});
afterAll(async () => {
  await t?.close();
});

async function login(
  username: string,
  password: string,
  extra: Parameters<typeof connectClient>[1] = {},
): Promise<MqttClient> {
  const c = await connectClient(t.mqttUrl, {
    clientId: `${username.replace('@', '-')}-${clients.length}`,
    username,
    password,
    ...extra,
  });
  clients.push(c);
  return c;
}

const closed = (c: MqttClient) => new Promise<void>((r) => c.once('close', () => r()));
const refused = /Bad username or password|Not authorized/i;

const statusRows = async (deviceId: string): Promise<number> =>
  (
    await t.sql<{ n: number }>('SELECT count(*) AS n FROM status_history WHERE device_id = ?', [
      deviceId,
    ])
  )[0]!.n;

async function deviceState(id: string): Promise<string | null> {
  const res = await t.api('GET', `/api/v1/devices/${id}`);
  return ((await res.json()) as { device: { state: string | null } }).device.state;
}

describe('revocation on the embedded broker', () => {
  it('deleting a device closes all of its sessions, discards their wills, and refuses it', async () => {
    const token = await t.enroll('cam-del');
    const will = {
      topic: topics.status('cam-del'),
      payload: Buffer.from(JSON.stringify(statusMessage('cam-del', 9, 'offline'))),
      qos: 1 as const,
      retain: true,
    };
    const first = await login('cam-del', token, { will });
    const second = await login('cam-del', token);
    const both = Promise.all([closed(first), closed(second)]);
    const before = t.server.telemetry.sessionsDropped.get();

    const res = await t.api('DELETE', '/api/v1/devices/cam-del');
    expect(await res.json()).toEqual({ deleted: 'cam-del' });
    await both;
    expect(t.server.telemetry.sessionsDropped.get()).toBe(before + 2);
    await expect(
      connectClient(t.mqttUrl, { username: 'cam-del', password: token }),
    ).rejects.toThrow(refused);

    // A will would have been submitted when the session closed, before this acknowledged publish
    // of another device: once that is stored, the will would be too.
    const otherToken = await t.enroll('cam-other');
    const other = await login('cam-other', otherToken);
    await other.publishAsync(
      topics.faces('cam-other'),
      JSON.stringify(facesMessage('cam-other', 1)),
      { qos: 1 },
    );
    expect(await statusRows('cam-del')).toBe(0);
  });

  it("rotating a device's token closes the old token's session, whose will still marks it offline", async () => {
    const oldToken = await t.enroll('cam-rot');
    const c = await login('cam-rot', oldToken, {
      will: {
        topic: topics.status('cam-rot'),
        payload: Buffer.from(JSON.stringify(statusMessage('cam-rot', 2, 'offline'))),
        qos: 1,
        retain: true,
      },
    });
    await c.publishAsync(
      topics.status('cam-rot'),
      JSON.stringify(statusMessage('cam-rot', 1, 'online')),
      { qos: 1, retain: true },
    );
    expect(await deviceState('cam-rot')).toBe('online');
    const dropped = closed(c);

    const res = await t.api('POST', '/api/v1/devices/cam-rot/token');
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      token: string;
      mqtt: { username: string; password: string };
    };
    expect(body.token).not.toBe(oldToken);
    expect(body.mqtt).toEqual({ username: 'cam-rot', password: body.token });
    await dropped;
    await waitFor(async () => (await deviceState('cam-rot')) === 'offline', 10_000, 'the will');

    await expect(
      connectClient(t.mqttUrl, { username: 'cam-rot', password: oldToken }),
    ).rejects.toThrow(refused);
    const fresh = await login('cam-rot', body.token);
    await fresh.publishAsync(
      topics.status('cam-rot'),
      JSON.stringify(statusMessage('cam-rot', 3, 'online')),
      { qos: 1, retain: true },
    );
    expect(await deviceState('cam-rot')).toBe('online');
    // The old token no longer downloads engines either: HTTP checks the same hash.
    const basic = (token: string) => `Basic ${Buffer.from(`cam-rot:${token}`).toString('base64')}`;
    const asDevice = (token: string) =>
      t.api('GET', '/api/v1/me', { token: null, headers: { authorization: basic(token) } });
    expect((await asDevice(oldToken)).status).toBe(401);
    expect((await asDevice(body.token)).status).toBe(200);
  });

  it('rotating the token of a device that does not exist is a 404', async () => {
    const res = await t.api('POST', '/api/v1/devices/cam-none/token');
    expect(res.status).toBe(404);
  });

  it('re-creating or revoking subscriber credentials closes the sessions of the old ones', async () => {
    const create = async () => {
      const res = await t.api('POST', '/api/v1/subscribers', { body: { name: 'dash' } });
      expect(res.status).toBe(201);
      return (await res.json()) as { username: string; password: string };
    };
    const first = await create();
    const s1 = await login(first.username, first.password);
    const d1 = closed(s1);
    const second = await create();
    await d1;
    await expect(connectClient(t.mqttUrl, first)).rejects.toThrow(refused);

    const s2 = await login(second.username, second.password);
    expect((await s2.subscribeAsync('facefleet/v1/alerts/#', { qos: 1 }))[0]?.qos).toBe(1);
    const d2 = closed(s2);
    expect((await t.api('DELETE', '/api/v1/subscribers/dash')).status).toBe(200);
    await d2;
    await expect(connectClient(t.mqttUrl, second)).rejects.toThrow(refused);
  });
});

describe('a login in flight while its credentials are revoked', () => {
  it('is refused when its password check ends after the revocation', async () => {
    const store = openSqliteStore({ file: ':memory:' });
    const telemetry = createTelemetry();
    const log = pino({ level: 'silent' });
    const ingest = createIngest({
      committer: store.ingest,
      telemetry,
      log,
      batchMs: 5,
      batchRows: 100,
    });
    // The password check of the one login below: it waits until the test lets it finish.
    let checking!: () => void;
    const checkStarted = new Promise<void>((r) => {
      checking = r;
    });
    let finish!: (p: Principal | undefined) => void;
    const broker = await createEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      wsPort: null,
      maxPacketBytes: 1024 * 1024,
      ratePerSec: 100,
      rateBurst: 100,
      maxSessionsPerDevice: 2,
      maxSessionsPerSubscriber: 16,
      throttle: createLoginThrottle({ maxFailures: 100, windowMs: 60_000 }),
      drainTimeoutMs: 5000,
      authenticate: () =>
        new Promise<Principal | undefined>((resolve) => {
          finish = resolve;
          checking();
        }),
      ingest,
      telemetry,
      log,
    });
    try {
      const url = `mqtt://127.0.0.1:${broker.ports.mqtt}`;
      const connecting = connectClient(url, { username: 'cam-race', password: 'old' });
      await checkStarted;
      broker.disconnect('cam-race', { discardWill: true });
      // The check was against the credentials before the revocation: it passed then.
      finish({ kind: 'device', deviceId: 'cam-race' });
      await expect(connecting).rejects.toThrow(refused);
      expect(telemetry.authFailures.sum()).toBe(1);
    } finally {
      await broker.close();
      await ingest.close();
      await store.close();
    }
  });
});
