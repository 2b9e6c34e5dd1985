import { Duplex, Writable } from 'node:stream';
import {
  agentClientId,
  facesMessage,
  type Principal,
  parseMqttUsername,
  statusMessage,
  topics,
} from '@facefleet/protocol';
import type { IngestMessage } from '@facefleet/store';
import { type IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createLoginThrottle } from '../auth/login-throttle.js';
import { createTelemetry } from '../telemetry.js';
import { grant, waitFor } from '../testing.js';
import { type BrokerCore, type BrokerCoreOptions, createBrokerCore } from './embedded.js';

/**
 * The broker's hooks (hooks.ts) and session registry (sessions.ts) through real MQTT clients,
 * each over an in-memory duplex pair handed to the broker core: no TCP port, no SQLite. Logins
 * are checked against a table here; the ingest records what it is given and acknowledges when
 * the test says.
 */

/** Two connected streams: what one writes, the other reads; destroying one ends both. */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const end = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, done) {
        if (!peer().destroyed) peer().push(chunk);
        done();
      },
      final(done) {
        if (!peer().destroyed) peer().push(null);
        done();
      },
      destroy(err, done) {
        if (!peer().destroyed) peer().destroy();
        done(err);
      },
    });
  ends.push(
    end(() => ends[1]!),
    end(() => ends[0]!),
  );
  return [ends[0]!, ends[1]!];
}

const PASSWORDS: Record<string, string> = {
  'cam-a': 'secret-a',
  'cam-b': 'secret-b',
  'subscriber@ha': 'secret-ha',
};

interface Harness {
  core: BrokerCore;
  telemetry: ReturnType<typeof createTelemetry>;
  ingested: IngestMessage[];
  /** Acknowledgements held back while `holdAcks` is true. */
  held: (() => void)[];
  holdAcks: boolean;
  /** Makes the next password checks wait until `release` is called with their answer. */
  pauseLogins(): { started: Promise<void>; release: (p: Principal | undefined) => void };
  connect(options: IClientOptions): Promise<MqttClient>;
}

const clients: MqttClient[] = [];
const cores: BrokerCore[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await Promise.all(cores.splice(0).map((c) => c.close()));
});

/** What a test changes of the broker core's options. */
type BrokerOverrides = Partial<
  Pick<BrokerCoreOptions, 'ratePerSec' | 'rateBurst' | 'maxSessionsPerDevice' | 'throttle' | 'log'>
>;

async function startBroker(overrides: BrokerOverrides = {}): Promise<Harness> {
  const telemetry = createTelemetry();
  let paused: { start: () => void; answer: Promise<Principal | undefined> } | undefined;
  const h: Harness = {
    core: undefined as unknown as BrokerCore,
    telemetry,
    ingested: [],
    held: [],
    holdAcks: false,
    pauseLogins() {
      let start!: () => void;
      const started = new Promise<void>((r) => {
        start = r;
      });
      let release!: (p: Principal | undefined) => void;
      const answer = new Promise<Principal | undefined>((r) => {
        release = r;
      });
      paused = { start, answer };
      return { started, release };
    },
    connect(options) {
      const [serverEnd, clientEnd] = duplexPair();
      h.core.handle(serverEnd);
      return new Promise((resolve, reject) => {
        const client = new MqttClient(() => clientEnd as never, {
          protocolVersion: 4,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ...options,
        });
        client.once('connect', () => {
          clients.push(client);
          resolve(client);
        });
        client.once('error', (err) => {
          client.end(true);
          reject(err);
        });
        client.once('close', () => reject(new Error('closed before CONNACK')));
      });
    },
  };
  h.core = await createBrokerCore({
    maxPacketBytes: 1024 * 1024,
    ratePerSec: 10_000,
    rateBurst: 10_000,
    maxSessionsPerDevice: 2,
    maxSessionsPerSubscriber: 16,
    throttle: createLoginThrottle({ maxFailures: 1000, windowMs: 60_000 }),
    drainTimeoutMs: 1000,
    async authenticate({ username, password }) {
      if (paused) {
        const { start, answer } = paused;
        paused = undefined;
        start();
        return answer;
      }
      const user = parseMqttUsername(username);
      const known = username !== undefined && PASSWORDS[username];
      return user && known && Buffer.from(password ?? []).toString() === known
        ? user.principal
        : undefined;
    },
    ingest: {
      enqueue(message, done) {
        h.ingested.push(message);
        if (h.holdAcks) h.held.push(() => done());
        else done();
      },
    },
    telemetry,
    log: pino({ level: 'silent' }),
    ...overrides,
  });
  cores.push(h.core);
  return h;
}

const login = (username: string, extra: IClientOptions = {}): IClientOptions => ({
  username,
  password: PASSWORDS[username],
  ...extra,
});
const closed = (c: MqttClient) => new Promise<void>((r) => c.once('close', () => r()));
/** aedes opens a session (clientReady) just after its CONNACK: wait for the count. */
const devicesOpen = (h: Harness, n: number) =>
  waitFor(() => h.core.connectedDevices() === n, 5000, `${n} open device sessions`);
const faces = (id: string, seq: number) => JSON.stringify(facesMessage(id, seq));
/** The CONNACK code a login gets (undefined when it got in). */
const codeOf = async (h: Harness, options: IClientOptions) =>
  ((await h.connect(options).catch((e: unknown) => e)) as { code?: number }).code;

describe('broker hooks over in-memory streams', () => {
  describe('authenticate', () => {
    it('refuses a wrong password, an unknown login and none at all with 4, and counts them', async () => {
      const h = await startBroker();
      const refused = async (options: IClientOptions) =>
        ((await h.connect(options).catch((e: unknown) => e)) as { code?: number }).code;
      expect(await refused({ username: 'cam-a', password: 'nope' })).toBe(4);
      expect(await refused({ username: 'cam-zz', password: 'secret-a' })).toBe(4);
      expect(await refused({})).toBe(4);
      expect(h.telemetry.authFailures.sum()).toBe(3);
      expect((await h.connect(login('cam-a'))).connected).toBe(true);
      await devicesOpen(h, 1);
    });

    it('answers 3 (server unavailable) when the password check fails', async () => {
      const h = await startBroker();
      const { started, release } = h.pauseLogins();
      const connecting = h.connect(login('cam-a')).catch((e: unknown) => e);
      await started;
      release(Promise.reject(new Error('store down')) as never);
      expect(((await connecting) as { code?: number }).code).toBe(3);
    });
  });

  describe('limits (issue 17)', () => {
    it('finding 3: refused CONNECTs with 64 KiB usernames log a bounded amount, each counted', async () => {
      let bytes = 0;
      const lines: Record<string, unknown>[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          for (const line of chunk.toString().split('\n').filter(Boolean)) {
            lines.push(JSON.parse(line) as Record<string, unknown>);
          }
          done();
        },
      });
      const h = await startBroker({ log: pino({ level: 'info' }, sink) });
      const huge = 'x'.repeat(65_000);
      for (let i = 0; i < 200; i++) {
        expect(await codeOf(h, { username: `${huge}${i}`, password: 'nope' })).toBe(4);
      }
      expect(h.telemetry.authFailures.get({ reason: 'bad_credentials' })).toBe(200);
      // 200 × 64 KiB came in; at most the log limiter's lines went out, none longer than 64 + its words
      expect(lines.length).toBeLessThanOrEqual(11);
      expect(bytes).toBeLessThan(16 * 1024);
      expect(lines[0]).toMatchObject({ username: 'x'.repeat(64), usernameLength: 65_001 });
    });

    it('finding 6: past its failed logins an address is refused unchecked until the window passes; counted', async () => {
      let now = 1_000_000;
      const throttle = createLoginThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now });
      const h = await startBroker({ throttle });
      for (let i = 0; i < 3; i++) {
        expect(await codeOf(h, { username: 'cam-a', password: `guess-${i}` })).toBe(4);
      }
      // even the right password is not looked at now
      expect(await codeOf(h, login('cam-a'))).toBe(3);
      expect(h.telemetry.loginThrottled.get({ transport: 'mqtt' })).toBe(1);
      expect(h.telemetry.authFailures.get({ reason: 'throttled' })).toBe(1);
      now += 60_000;
      expect(await codeOf(h, login('cam-a'))).toBeUndefined();
    });

    it('finding 7: the sessions of one device share one publish rate, and a third session is refused', async () => {
      const h = await startBroker({ ratePerSec: 1, rateBurst: 5 });
      const a1 = await h.connect(login('cam-a', { clientId: 'a-1' }));
      const a2 = await h.connect(login('cam-a', { clientId: 'a-2' }));
      expect(await codeOf(h, login('cam-a', { clientId: 'a-3' }))).toBe(3);
      expect(h.telemetry.sessionsRefused.get({ reason: 'per_login_limit' })).toBe(1);
      // another device is not held back by cam-a's sessions
      expect((await h.connect(login('cam-b'))).connected).toBe(true);
      for (let seq = 1; seq <= 5; seq++) {
        await a1.publishAsync(topics.faces('cam-a'), faces('cam-a', seq), { qos: 1 });
      }
      expect(h.telemetry.rateLimited.get()).toBe(0);
      // the burst is spent for the device, not for the connection: the second session waits
      a2.publish(topics.faces('cam-a'), faces('cam-a', 6), { qos: 1 });
      await waitFor(() => h.telemetry.rateLimited.get() === 1, 5000, 'the publish to be delayed');
    });

    it("finding 2: nobody but its own login resumes a subscriber's stored session", async () => {
      const h = await startBroker();
      const persistent = { clientId: 'ha-persistent', clean: false };
      const sub = await h.connect(login('subscriber@ha', persistent));
      await sub.subscribeAsync('facefleet/v1/devices/+/faces', { qos: 1 });
      const gone = closed(sub);
      sub.end();
      await gone;
      // queued for the subscriber while it is away
      const b = await h.connect(login('cam-b'));
      await b.publishAsync(topics.faces('cam-b'), faces('cam-b', 1), { qos: 1 });
      expect(await codeOf(h, login('cam-a', persistent))).toBe(2);
      // its own login gets what was queued
      const back = await h.connect(login('subscriber@ha', persistent));
      const [topic] = await new Promise<[string]>((r) => back.once('message', (t) => r([t])));
      expect(topic).toBe(topics.faces('cam-b'));
    });

    it('finding 10: a device cannot leave retained messages on its topics (only its status is kept)', async () => {
      const h = await startBroker();
      const a = await h.connect(login('cam-a'));
      await a.publishAsync(topics.faces('cam-a'), faces('cam-a', 1), { qos: 1, retain: true });
      const sub = await h.connect(login('subscriber@ha'));
      const received: [number, boolean][] = [];
      sub.on('message', (_topic, payload, packet) => {
        received.push([(JSON.parse(payload.toString()) as { seq: number }).seq, packet.retain]);
      });
      await sub.subscribeAsync('facefleet/v1/devices/+/faces', { qos: 1 });
      await a.publishAsync(topics.faces('cam-a'), faces('cam-a', 2), { qos: 1 });
      await waitFor(() => received.length > 0, 5000, 'a face window');
      // the live one only: the first was not kept for later subscribers
      expect(received).toEqual([[2, false]]);
    });
  });

  describe('authorizePublish', () => {
    it("ingests a device's own messages and acknowledges each only once the ingest has", async () => {
      const h = await startBroker();
      const a = await h.connect(login('cam-a'));
      h.holdAcks = true;
      let acked = false;
      const publishing = a
        .publishAsync(topics.faces('cam-a'), faces('cam-a', 1), { qos: 1 })
        .then(() => {
          acked = true;
        });
      // Wait for the ingest to have it; the PUBACK must not have come yet.
      while (h.held.length === 0) await new Promise((r) => setImmediate(r));
      expect(acked).toBe(false);
      h.held.shift()!();
      await publishing;
      expect(h.ingested).toMatchObject([{ kind: 'faces', data: { deviceId: 'cam-a', seq: 1 } }]);
    });

    it("disconnects a device publishing to another device's topic and ingests nothing", async () => {
      const h = await startBroker();
      const a = await h.connect(login('cam-a'));
      const gone = closed(a);
      a.publish(topics.faces('cam-b'), faces('cam-b', 1), { qos: 1 });
      await gone;
      expect(h.ingested).toEqual([]);
      expect(h.telemetry.rejected.get({ reason: 'acl' })).toBe(1);
    });

    it('acknowledges an invalid message without ingesting or forwarding it', async () => {
      const h = await startBroker();
      const sub = await h.connect(login('subscriber@ha'));
      await sub.subscribeAsync(topics.faces('cam-a'), { qos: 1 });
      const received: string[] = [];
      sub.on('message', (_topic, payload) => received.push(payload.toString()));
      const a = await h.connect(login('cam-a'));
      await a.publishAsync(topics.faces('cam-a'), '{"not":"faces"}', { qos: 1 });
      await a.publishAsync(topics.faces('cam-a'), faces('cam-a', 2), { qos: 1 });
      while (received.length === 0) await new Promise((r) => setImmediate(r));
      expect(received).toEqual([faces('cam-a', 2)]);
      expect(h.ingested).toHaveLength(1);
      expect(h.telemetry.rejected.get({ reason: 'invalid_payload' })).toBe(1);
    });
  });

  describe('authorizeSubscribe', () => {
    it("refuses a device another device's desired state, and gives it its own", async () => {
      const h = await startBroker();
      const a = await h.connect(login('cam-a'));
      const granted = (filter: string) => grant(a, filter);
      expect(await granted(topics.desired('cam-b'))).toBe(128);
      expect(await granted('facefleet/v1/#')).toBe(128);
      expect(await granted(topics.desired('cam-a'))).toBe(1);
      expect(a.connected).toBe(true);
    });

    it('lets a subscriber read face counts, status, metrics and alerts, and nothing more, and publish no device topic', async () => {
      const h = await startBroker();
      const sub = await h.connect(login('subscriber@ha'));
      const granted = (filter: string) => grant(sub, filter);
      expect(await granted('facefleet/v1/devices/+/faces')).toBe(1);
      expect(await granted('facefleet/v1/alerts/#')).toBe(1);
      expect(await granted('facefleet/v1/devices/+/metrics')).toBe(1);
      expect(await granted('facefleet/v1/devices/+/status')).toBe(1);
      expect(await granted('facefleet/v1/devices/+/reported')).toBe(128);
      expect(await granted(topics.desired('cam-a'))).toBe(128);
      const gone = closed(sub);
      sub.publish(topics.faces('cam-a'), faces('cam-a', 1), { qos: 1 });
      await gone;
      expect(h.ingested).toEqual([]);
    });
  });

  describe('client ids', () => {
    it("refuses another login's session and another device's agent id; a login takes over its own", async () => {
      const h = await startBroker();
      const b = await h.connect(login('cam-b', { clientId: 'shared-id' }));
      await devicesOpen(h, 1);
      const code = async (options: IClientOptions) =>
        ((await h.connect(options).catch((e: unknown) => e)) as { code?: number }).code;
      expect(await code(login('cam-a', { clientId: 'shared-id' }))).toBe(2);
      expect(await code(login('subscriber@ha', { clientId: 'shared-id' }))).toBe(2);
      expect(await code(login('cam-a', { clientId: agentClientId('cam-b') }))).toBe(2);
      expect(h.telemetry.authFailures.sum()).toBe(3);
      expect(b.connected).toBe(true);
      const bGone = closed(b);
      const again = await h.connect(login('cam-b', { clientId: 'shared-id' }));
      await bGone;
      expect(again.connected).toBe(true);
      await devicesOpen(h, 1);
      expect(
        (await h.connect(login('cam-a', { clientId: agentClientId('cam-a') }))).connected,
      ).toBe(true);
    });
  });

  describe('revocation', () => {
    it("closes every session of a login and discards their wills, leaving other logins' alone", async () => {
      const h = await startBroker();
      const sub = await h.connect(login('subscriber@ha'));
      const wills: string[] = [];
      await sub.subscribeAsync('facefleet/v1/devices/+/faces', { qos: 1 });
      sub.on('message', (topic) => wills.push(topic));
      const will = {
        topic: topics.faces('cam-a'),
        payload: Buffer.from(faces('cam-a', 9)),
        qos: 1 as const,
        retain: false,
      };
      const a1 = await h.connect(login('cam-a', { clientId: 'a-1', will }));
      const a2 = await h.connect(login('cam-a', { clientId: 'a-2', will }));
      const b = await h.connect(login('cam-b'));
      await devicesOpen(h, 3);
      const both = Promise.all([closed(a1), closed(a2)]);
      expect(h.core.disconnect('cam-a', { discardWill: true })).toBe(2);
      await both;
      expect(h.telemetry.sessionsDropped.get()).toBe(2);
      expect(b.connected).toBe(true);
      // cam-b's message arrives; no will of cam-a came before it
      await b.publishAsync(topics.faces('cam-b'), faces('cam-b', 1), { qos: 1 });
      while (wills.length === 0) await new Promise((r) => setImmediate(r));
      expect(wills).toEqual([topics.faces('cam-b')]);
      expect(h.ingested.map((m) => m.data.deviceId)).toEqual(['cam-b']);
      await devicesOpen(h, 1);
    });

    it('keeps the will of a session closed because its token was rotated', async () => {
      const h = await startBroker();
      const will = {
        topic: topics.status('cam-a'),
        payload: Buffer.from(JSON.stringify(statusMessage('cam-a', 3, 'offline'))),
        qos: 1 as const,
        retain: true,
      };
      const a = await h.connect(login('cam-a', { will }));
      await devicesOpen(h, 1);
      const gone = closed(a);
      expect(h.core.disconnect('cam-a', { discardWill: false })).toBe(1);
      await gone;
      while (h.ingested.length === 0) await new Promise((r) => setImmediate(r));
      expect(h.ingested).toMatchObject([{ kind: 'status', data: { state: 'offline' } }]);
    });

    it('refuses a login whose password check was under way when its credentials changed', async () => {
      const h = await startBroker();
      const { started, release } = h.pauseLogins();
      const connecting = h.connect(login('cam-a')).catch((e: unknown) => e);
      await started;
      expect(h.core.disconnect('cam-a', { discardWill: true })).toBe(0);
      release({ kind: 'device', deviceId: 'cam-a' });
      expect(((await connecting) as { code?: number }).code).toBe(4);
      expect(h.core.connectedDevices()).toBe(0);
    });
  });
});
