import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { topicMatches } from '@facefleet/protocol';
import { Aedes } from 'aedes';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../testing.js';
import { createBrokerPersistence } from './persistence.js';

/**
 * The embedded broker's persistence (persistence.ts) under aedes itself, with no facefleet hooks:
 * real MQTT clients (mqtt.js) over loopback TCP, each case a session behaviour the default
 * in-memory persistence gave the broker and this one must keep.
 */

interface Harness {
  broker: Aedes;
  persistence: ReturnType<typeof createBrokerPersistence>;
  /** A client connecting (not yet connected): its handlers can be set before anything arrives. */
  open(clientId: string, options?: IClientOptions): MqttClient;
  connect(clientId: string, options?: IClientOptions): Promise<MqttClient>;
}

const open: { server: Server; broker: Aedes; clients: MqttClient[] }[] = [];
afterEach(async () => {
  for (const { server, broker, clients } of open.splice(0)) {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function startBroker(): Promise<Harness> {
  const persistence = createBrokerPersistence();
  const broker = await Aedes.createBroker({ persistence });
  const server = createServer((socket) => broker.handle(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const clients: MqttClient[] = [];
  open.push({ server, broker, clients });
  const h: Harness = {
    broker,
    persistence,
    open(clientId, options = {}) {
      const client = connect(`mqtt://127.0.0.1:${port}`, {
        clientId,
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...options,
      });
      clients.push(client);
      return client;
    },
    async connect(clientId, options = {}) {
      const client = h.open(clientId, options);
      await next(client, 'connect');
      return client;
    },
  };
  return h;
}

/** Every message `client` receives, in order. */
function inbox(client: MqttClient) {
  const got: { topic: string; payload: string; retain: boolean; qos: number }[] = [];
  client.on('message', (topic, payload, packet) => {
    got.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
  });
  return got;
}

/** The next CONNACK of `client` (or its close). */
function next(
  client: MqttClient,
  event: 'connect' | 'close',
): Promise<{ sessionPresent: boolean }> {
  return new Promise((resolve) => client.once(event, (connack) => resolve(connack ?? {})));
}

/** Waits for the CONNACK of a client `open` returned; says whether the session was present. */
async function sessionPresent(client: MqttClient): Promise<boolean> {
  return (await next(client, 'connect')).sessionPresent;
}

/** Publishes a QoS 1 message and waits for its PUBACK. */
async function publish(client: MqttClient, topic: string, payload: string, retain = false) {
  await client.publishAsync(topic, payload, { qos: 1, retain });
}

describe('broker persistence', () => {
  it('queues QoS 1 messages for an offline persistent session and delivers them in order on reconnect, once', async () => {
    const h = await startBroker();
    const sub = await h.connect('ha', { clean: false });
    await sub.subscribeAsync('fleet/+/faces', { qos: 1 });
    await sub.endAsync();

    const pub = await h.connect('cam');
    for (const n of [1, 2, 3]) await publish(pub, 'fleet/cam-a/faces', `m${n}`);
    await publish(pub, 'fleet/cam-a/metrics', 'not subscribed');

    const back = h.open('ha', { clean: false });
    const got = inbox(back);
    expect(await sessionPresent(back)).toBe(true);
    await waitFor(() => got.length === 3, { what: 'the queued messages' });
    expect(got.map((m) => m.payload)).toEqual(['m1', 'm2', 'm3']);
    expect(got.every((m) => m.qos === 1 && m.topic === 'fleet/cam-a/faces')).toBe(true);
    // acknowledged: the queue is empty, and the subscription still there for what comes next
    await back.endAsync();
    const again = h.open('ha', { clean: false });
    const later = inbox(again);
    await next(again, 'connect');
    await publish(pub, 'fleet/cam-b/faces', 'm4');
    await waitFor(() => later.length === 1, { what: 'the new message' });
    expect(later.map((m) => m.payload)).toEqual(['m4']);
  });

  it('queues nothing for a QoS 0 subscription, and forgets a session that reconnects clean', async () => {
    const h = await startBroker();
    const zero = await h.connect('zero', { clean: false });
    await zero.subscribeAsync('t/#', { qos: 0 });
    await zero.endAsync();
    const one = await h.connect('one', { clean: false });
    await one.subscribeAsync('t/#', { qos: 1 });
    await one.endAsync();
    const pub = await h.connect('pub');
    await publish(pub, 't/x', 'while away');
    expect(await h.persistence.countOffline()).toEqual({ subsCount: 1, clientsCount: 2 });

    // a clean session discards the stored subscription and what was queued for it
    const clean = await h.connect('one', { clean: true });
    await clean.endAsync();
    expect(await h.persistence.countOffline()).toEqual({ subsCount: 0, clientsCount: 1 });
    await publish(pub, 't/y', 'after');
    const back = h.open('one', { clean: false });
    const got = inbox(back);
    expect(await sessionPresent(back)).toBe(false);
    // a round trip through the broker after the CONNACK: anything queued would have come first
    await back.subscribeAsync('probe', { qos: 1 });
    await publish(pub, 'probe', 'p');
    await waitFor(() => got.length > 0, { what: 'the probe' });
    expect(got.map((m) => m.payload)).toEqual(['p']);
  });

  it('gives a subscription the retained messages its filter matches; an empty payload deletes one', async () => {
    const h = await startBroker();
    const pub = await h.connect('pub');
    await publish(pub, 'fleet/cam-a/status', 'online', true);
    await publish(pub, 'fleet/cam-b/status', 'online', true);
    await publish(pub, 'fleet/cam-b/status', 'offline', true);
    await publish(pub, 'fleet/cam-c/status', 'online', true);
    await publish(pub, 'fleet/cam-c/status', '', true);
    await publish(pub, 'other/x', 'elsewhere', true);

    const sub = await h.connect('sub');
    const got = inbox(sub);
    await sub.subscribeAsync('fleet/+/status', { qos: 1 });
    await waitFor(() => got.length === 2, { what: 'the retained statuses' });
    expect(got.map((m) => `${m.topic}=${m.payload}`).sort()).toEqual([
      'fleet/cam-a/status=online',
      'fleet/cam-b/status=offline',
    ]);
    expect(got.every((m) => m.retain)).toBe(true);
  });

  it("publishes a client's will when its connection breaks, and not after a DISCONNECT", async () => {
    const h = await startBroker();
    const sub = await h.connect('sub');
    const got = inbox(sub);
    await sub.subscribeAsync('will/#', { qos: 1 });
    const will = { topic: 'will/a', payload: Buffer.from('gone'), qos: 1 as const, retain: false };

    const a = await h.connect('a', { will });
    expect(await h.persistence.getWill({ id: 'a' })).toMatchObject({ topic: 'will/a' });
    a.stream.destroy();
    await waitFor(() => got.length === 1, { what: 'the will' });
    expect(got[0]).toMatchObject({ topic: 'will/a', payload: 'gone' });
    await waitFor(async () => (await h.persistence.getWill({ id: 'a' })) === undefined, {
      what: 'the will deleted',
    });

    const b = await h.connect('b', { will: { ...will, topic: 'will/b' } });
    await b.endAsync();
    await waitFor(async () => (await h.persistence.getWill({ id: 'b' })) === undefined, {
      what: 'the will deleted',
    });
    // a round trip after the DISCONNECT: the will would have come before it
    await publish(sub, 'will/probe', 'p');
    await waitFor(() => got.length === 2, { what: 'the probe' });
    expect(got.map((m) => m.topic)).toEqual(['will/a', 'will/probe']);
  });

  it('hands a persistent session to a new connection with the same client id', async () => {
    const h = await startBroker();
    const first = await h.connect('ha', { clean: false });
    await first.subscribeAsync('fleet/#', { qos: 1 });
    const closed = next(first, 'close');

    const second = h.open('ha', { clean: false });
    const got = inbox(second);
    expect(await sessionPresent(second)).toBe(true);
    await closed;
    const pub = await h.connect('pub');
    await publish(pub, 'fleet/cam-a/faces', 'to the new one');
    await waitFor(() => got.length === 1, { what: 'the message' });
    expect(got[0]?.payload).toBe('to the new one');
  });

  it('takes a QoS 2 message through its inbound store (kept until PUBREL), and delivers it once', async () => {
    const h = await startBroker();
    const sub = await h.connect('sub');
    const got = inbox(sub);
    await sub.subscribeAsync('q2', { qos: 2 });
    const pub = await h.connect('pub');
    const sent = await pub.publishAsync('q2', 'once', { qos: 2 });
    // PUBCOMP came back: the packet left the inbound store
    await expect(
      h.persistence.incomingGetPacket({ id: 'pub' }, { messageId: sent?.messageId } as never),
    ).rejects.toThrow('no such packet');
    await publish(pub, 'q2', 'then');
    await waitFor(() => got.length === 2, { what: 'both messages' });
    expect(got.map((m) => m.payload).sort()).toEqual(['once', 'then']);
  });
});

describe('subscriptions by topic', () => {
  it('finds the same subscriptions by topic through its trie as by matching each filter', async () => {
    const p = createBrokerPersistence();
    const filters = ['a/b', 'a/+', 'a/#', '#', '+/b', '+/+/c', 'a/b/#', 'x/#', '$SYS/#', '+'];
    for (const [i, topic] of filters.entries()) {
      await p.addSubscriptions({ id: `c${i}` }, [{ topic, qos: 1 }]);
    }
    await p.addSubscriptions({ id: 'c0' }, [{ topic: 'zero', qos: 0 }]);
    for (const topic of ['a/b', 'a', 'a/b/c', 'b', '/b', 'x', '$SYS/b', 'q/r/c', 'zero']) {
      const found = (await p.subscriptionsByTopic(topic)).map((s) => s.topic).sort();
      const expected = filters.filter((f) => topicMatches(f, topic)).sort();
      expect(found, topic).toEqual(expected);
    }
    await p.removeSubscriptions({ id: 'c1' }, ['a/+']);
    await p.cleanSubscriptions({ id: 'c2' });
    expect((await p.subscriptionsByTopic('a/b')).map((s) => s.clientId).sort()).toEqual([
      'c0',
      'c3',
      'c4',
      'c6',
    ]);
  });
});
