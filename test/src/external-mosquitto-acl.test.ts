import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mayPublish, type Principal, topics } from '@facefleet/protocol';
import { type Mosquitto, repoRoot, startMosquitto } from '@facefleet/test-support';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The ACL shipped for an external Mosquitto (infra/brokers/mosquitto/facefleet.acl) must allow exactly
 * what the protocol's ACL allows. Real mosquitto, real clients: every (principal, topic) publish is
 * tried and its delivery compared with `mayPublish`.
 */
const users = {
  'cam-a': 'token-a',
  'cam-b': 'token-b',
  'subscriber@demo': 'token-sub',
  'control-plane': 'token-cp',
  observer: 'token-observer',
} as const;
type User = keyof typeof users;
const principal: Record<Exclude<User, 'observer'>, Principal> = {
  'cam-a': { kind: 'device', deviceId: 'cam-a' },
  'cam-b': { kind: 'device', deviceId: 'cam-b' },
  'subscriber@demo': { kind: 'subscriber' },
  'control-plane': { kind: 'control-plane' },
};

let broker: Mosquitto;
const clients: MqttClient[] = [];

async function connect(user: User, password: string = users[user]): Promise<MqttClient> {
  const client = mqtt.connect(broker.url, {
    username: user,
    password,
    clientId: `${user.replace(':', '-')}-${clients.length}`,
    reconnectPeriod: 0,
  });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

beforeAll(async () => {
  const acl = `${readFileSync(join(repoRoot, 'infra/brokers/mosquitto/facefleet.acl'), 'utf8')}\nuser observer\ntopic read #\n`;
  broker = await startMosquitto({ users: { ...users }, acl });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  expect(await broker?.stop()).toBe(0);
  await broker?.close();
});

describe('infra/brokers/mosquitto/facefleet.acl on a real mosquitto', () => {
  it('refuses a wrong password', async () => {
    await expect(connect('cam-a', 'wrong')).rejects.toThrow(
      /Not authorized|Bad username or password/i,
    );
  });

  it('delivers exactly the publishes the protocol ACL allows', async () => {
    const observer = await connect('observer');
    const seen = new Set<string>();
    observer.on('message', (_t, payload) => seen.add(payload.toString()));
    await observer.subscribeAsync('#', { qos: 1 });

    const candidates = [
      ...(['cam-a', 'cam-b'] as const).flatMap((id) =>
        (['status', 'faces', 'metrics', 'reported', 'desired'] as const).map((k) => topics[k](id)),
      ),
      topics.alert('crowd', 'cam-a'),
      // Home Assistant's birth message and a discovery config (default prefix).
      'homeassistant/status',
      'homeassistant/sensor/facefleet_cam-a/faces/config',
    ];
    const expected: string[] = [];
    for (const user of Object.keys(principal) as (keyof typeof principal)[]) {
      const client = await connect(user);
      for (const topic of candidates) {
        const tag = `${user} -> ${topic}`;
        if (mayPublish(principal[user], topic)) expected.push(tag);
        await client.publishAsync(topic, tag, { qos: 1 });
      }
    }
    // mosquitto routes in order on one thread: once this sentinel arrives, so has everything before it.
    const sentinel = await connect('cam-a');
    await sentinel.publishAsync(topics.faces('cam-a'), 'sentinel', { qos: 1 });
    const deadline = Date.now() + 10_000;
    while (!seen.has('sentinel') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    seen.delete('sentinel');
    expect([...seen].sort()).toEqual(expected.sort());
    // 4 per device; 2 desired, 1 alert and 2 discovery for the control plane; the birth message.
    expect(expected.length).toBeGreaterThanOrEqual(14);
  });

  it('lets each reader see only what the protocol allows', async () => {
    const camA = await connect('cam-a');
    const sub = await connect('subscriber@demo');
    const got: Record<string, string[]> = { camA: [], sub: [] };
    camA.on('message', (t) => got.camA?.push(t));
    sub.on('message', (t) => got.sub?.push(t));
    await camA
      .subscribeAsync(['facefleet/v1/devices/+/desired', 'facefleet/v1/devices/cam-b/faces'], {
        qos: 1,
      })
      .catch(() => {});
    await sub
      .subscribeAsync(
        ['facefleet/v1/devices/+/faces', 'facefleet/v1/devices/+/metrics', 'facefleet/v1/alerts/#'],
        { qos: 1 },
      )
      .catch(() => {});
    const cp = await connect('control-plane');
    const camB = await connect('cam-b');
    await cp.publishAsync(topics.desired('cam-b'), 'for b', { qos: 1 });
    await camB.publishAsync(topics.faces('cam-b'), 'b faces', { qos: 1 });
    await camB.publishAsync(topics.metrics('cam-b'), 'b metrics', { qos: 1 });
    await cp.publishAsync(topics.alert('crowd', 'cam-b'), 'alert', { qos: 1 });
    await cp.publishAsync(topics.desired('cam-a'), 'for a', { qos: 1 });
    const deadline = Date.now() + 10_000;
    while (
      !(got.camA?.length && got.sub?.includes(topics.alert('crowd', 'cam-b'))) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(got.camA).toEqual([topics.desired('cam-a')]);
    expect(got.sub?.sort()).toEqual(
      [topics.alert('crowd', 'cam-b'), topics.faces('cam-b'), topics.metrics('cam-b')].sort(),
    );
  });
});
