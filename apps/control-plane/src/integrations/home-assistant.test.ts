import { haDiscoveryTopics, topics } from '@facefleet/protocol';
import { type MosquittoSub, mosquittoSub } from '@facefleet/test-support';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import {
  connectClient,
  facesMessage,
  grant,
  startTestServer,
  statusMessage,
  type TestServer,
  waitFor,
} from '../testing.js';

/**
 * Home Assistant discovery through the real control plane and its embedded broker, read back
 * with Debian's mosquitto_sub logged in as a read-only subscriber, as Home Assistant would be.
 */

const subs: MosquittoSub[] = [];
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(subs.splice(0).map((s) => s.kill()));
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

async function subscriber(t: TestServer, name: string) {
  const res = await t.api('POST', '/api/v1/subscribers', { body: { name } });
  expect(res.status).toBe(201);
  return (await res.json()) as { username: string; password: string };
}

async function watch(t: TestServer, login: { username: string; password: string }, topic: string) {
  const sub = await mosquittoSub({ url: t.mqttUrl, ...login, topics: [topic] });
  subs.push(sub);
  return sub;
}

/** The configs of `deviceId` mosquitto_sub received so far, by topic (the latest of each). */
function configsOf(sub: MosquittoSub, prefix: string, deviceId: string): Map<string, string> {
  const wanted = new Set(haDiscoveryTopics(prefix, deviceId));
  const out = new Map<string, string>();
  for (const m of sub.messages) if (wanted.has(m.topic)) out.set(m.topic, m.payload);
  return out;
}

describe('Home Assistant discovery on the embedded broker (default prefix)', () => {
  let t: TestServer;
  let login: { username: string; password: string };
  beforeAll(async () => {
    t = await startTestServer();
    await t.enroll('cam-ha', 'jetson-agx-xavier');
    await t.enroll('lobby.cam', 'generic-x86_64');
    login = await subscriber(t, 'home-assistant');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('publishes retained configs for every device, which a subscriber reads', async () => {
    const sub = await watch(t, login, 'homeassistant/#');
    for (const id of ['cam-ha', 'lobby.cam']) {
      await waitFor(() => configsOf(sub, 'homeassistant', id).size === 5 || undefined, {
        what: `the 5 configs of ${id}`,
      });
      for (const payload of configsOf(sub, 'homeassistant', id).values()) {
        const config = JSON.parse(payload) as Record<string, unknown>;
        expect(config.device).toMatchObject({ name: id });
        expect(String(config.state_topic)).toMatch(new RegExp(`^facefleet/v1/devices/${id}/`));
      }
    }
    const faces = JSON.parse(
      configsOf(sub, 'homeassistant', 'cam-ha').get(
        'homeassistant/sensor/facefleet_cam-ha/faces/config',
      )!,
    ) as Record<string, unknown>;
    expect(faces).toMatchObject({
      state_topic: topics.faces('cam-ha'),
      unique_id: 'facefleet_cam-ha_faces',
      device: { identifiers: ['facefleet_cam-ha'], model: 'Jetson AGX Xavier' },
    });
  });

  it("lets the subscriber read the entities' state topics, and nothing a device is sent", async () => {
    const ha = await connectClient(t.mqttUrl, { ...login, clientId: 'ha-states' });
    clients.push(ha);
    expect(await grant(ha, 'facefleet/v1/devices/+/status')).toBe(1);
    expect(await grant(ha, 'facefleet/v1/devices/+/metrics')).toBe(1);
    expect(await grant(ha, 'facefleet/v1/devices/+/faces')).toBe(1);
    expect(await grant(ha, 'facefleet/v1/devices/+/desired')).toBe(128);
    const token = await t.enroll('cam-state');
    const device = await connectClient(t.mqttUrl, {
      username: 'cam-state',
      password: token,
      clientId: 'cam-state',
    });
    clients.push(device);
    const got: string[] = [];
    ha.on('message', (topic) => got.push(topic));
    await device.publishAsync(
      topics.status('cam-state'),
      JSON.stringify(statusMessage('cam-state', 1)),
      { qos: 1 },
    );
    await device.publishAsync(
      topics.faces('cam-state'),
      JSON.stringify(facesMessage('cam-state', 2)),
      { qos: 1 },
    );
    await waitFor(() => got.length >= 2 || undefined, {
      what: 'status and faces at the subscriber',
    });
    expect(got).toEqual([topics.status('cam-state'), topics.faces('cam-state')]);
  });

  it('clears the configs of a deleted device with empty retained payloads', async () => {
    await t.enroll('cam-gone');
    const sub = await watch(t, login, 'homeassistant/#');
    await waitFor(() => configsOf(sub, 'homeassistant', 'cam-gone').size === 5 || undefined, {
      what: 'the configs of cam-gone',
    });
    expect((await t.api('DELETE', '/api/v1/devices/cam-gone')).status).toBe(200);
    await waitFor(
      () =>
        [...configsOf(sub, 'homeassistant', 'cam-gone').values()].every((p) => p === '') ||
        undefined,
      { what: 'empty payloads on the configs of cam-gone' },
    );
    // A subscriber that comes later (Home Assistant after a restart) gets no config of it.
    const later = await watch(t, login, 'homeassistant/#');
    await waitFor(() => configsOf(later, 'homeassistant', 'cam-ha').size === 5 || undefined, {
      what: 'the retained configs of cam-ha',
    });
    expect(configsOf(later, 'homeassistant', 'cam-gone').size).toBe(0);
  });

  it("publishes every config again when Home Assistant's birth message arrives", async () => {
    const sub = await watch(t, login, 'homeassistant/sensor/facefleet_cam-ha/faces/config');
    await sub.waitForMessage('homeassistant/sensor/facefleet_cam-ha/faces/config');
    const before = sub.messages.length;
    // Home Assistant logs in as a subscriber and announces itself at every start.
    const ha = await connectClient(t.mqttUrl, { ...login, clientId: 'ha-birth' });
    clients.push(ha);
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitFor(() => sub.messages.length > before || undefined, {
      what: 'the faces config of cam-ha again after the birth message',
    });
    expect(ha.connected).toBe(true);
    // Anything else below the prefix is not the subscriber's to publish: it is disconnected.
    const closed = new Promise<void>((r) => ha.once('close', () => r()));
    ha.publish('homeassistant/sensor/facefleet_cam-ha/faces/config', '{}', { qos: 1 });
    await closed;
  });
});

describe('Home Assistant discovery settings', () => {
  it('--ha-discovery-prefix publishes below that prefix', async () => {
    const t = await startTestServer(['--ha-discovery-prefix', 'site-a/ha']);
    try {
      await t.enroll('cam-p');
      const sub = await watch(t, await subscriber(t, 'ha'), 'site-a/ha/#');
      await waitFor(() => configsOf(sub, 'site-a/ha', 'cam-p').size === 5 || undefined, {
        what: 'the configs of cam-p below site-a/ha',
      });
    } finally {
      await Promise.all(subs.splice(0).map((s) => s.kill()));
      await t.close();
    }
  });

  it('--ha-discovery off publishes nothing and keeps the prefix out of the ACL', async () => {
    const t = await startTestServer(['--ha-discovery', 'off']);
    try {
      await t.enroll('cam-off');
      const login = await subscriber(t, 'ha');
      const ha = await connectClient(t.mqttUrl, { ...login, clientId: 'ha-off' });
      clients.push(ha);
      expect(await grant(ha, 'homeassistant/#')).toBe(128);
      const closed = new Promise<void>((r) => ha.once('close', () => r()));
      ha.publish('homeassistant/status', 'online', { qos: 1 });
      await closed;
    } finally {
      await t.close();
    }
  });

  it('refuses a prefix that is not topic levels or overlaps facefleet topics, naming the field', () => {
    for (const prefix of ['facefleet/x', 'ha/#', '']) {
      expect(() => loadConfig({ argv: ['--ha-discovery-prefix', prefix], env: {} })).toThrow(
        ConfigError,
      );
    }
    expect(() => loadConfig({ argv: ['--ha-discovery-prefix', 'facefleet/x'], env: {} })).toThrow(
      /homeAssistant\.prefix.*facefleet/,
    );
    expect(() => loadConfig({ argv: ['--ha-discovery', 'maybe'], env: {} })).toThrow(
      /homeAssistant\.discovery/,
    );
  });
});
