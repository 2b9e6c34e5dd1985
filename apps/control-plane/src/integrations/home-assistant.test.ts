import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Faces,
  haCameraObjectId,
  haDiscoveryTopics,
  type Status,
  topics,
} from '@facefleet/protocol';
import { openStore } from '@facefleet/store';
import { type MosquittoSub, mosquittoSub } from '@facefleet/test-support';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Broker } from '../broker/types.js';
import { loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import {
  connectClient,
  facesMessage,
  grant,
  metricsMessage,
  startTestServer,
  statusMessage,
  type TestServer,
  waitFor,
} from '../testing.js';
import { createHaDiscovery, haCameras } from './home-assistant.js';

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

describe('haCameras: the cameras a device has for discovery', () => {
  const status = (ts: number, ids?: string[]) => ({
    state: 'online' as const,
    ts,
    ...(ids
      ? { cameras: ids.map((id) => ({ id, state: 'online' as const, reason: null, since: ts })) }
      : {}),
  });
  it("takes the status' cameras, plus cameras that sent since; the rest are gone", () => {
    const newest = new Map([
      ['lobby', 900],
      ['old', 900],
      ['new', 1100],
    ]);
    expect(haCameras(status(1000, ['0', 'lobby']), newest)).toEqual({
      cameras: ['0', 'lobby', 'new'],
      gone: ['old'],
    });
    // An agent older than cameras has camera "0"; a device that never sent a status, what it sent.
    expect(haCameras(status(1000), new Map())).toEqual({ cameras: ['0'], gone: [] });
    expect(haCameras(null, newest)).toEqual({ cameras: ['lobby', 'old', 'new'], gone: [] });
  });
});

describe('Home Assistant discovery of a device with three cameras', () => {
  const id = 'cam-three';
  const prefix = 'homeassistant';
  const node = 'facefleet_cam-three';
  const deviceFaces = `${prefix}/sensor/${node}/faces/config`;
  let t: TestServer;
  let login: { username: string; password: string };
  let device: MqttClient;
  let seq = 0;
  beforeAll(async () => {
    t = await startTestServer();
    const token = await t.enroll(id, 'jetson-orin-nx');
    await t.enroll('cam-other');
    login = await subscriber(t, 'home-assistant');
    device = await connectClient(t.mqttUrl, { username: id, password: token, clientId: id });
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await t?.close();
  });

  /** The topics of one camera's three configs. */
  const cameraTopics = (camera: string) => {
    const object = haCameraObjectId(camera);
    return [
      `${prefix}/sensor/${node}/${object}_faces/config`,
      `${prefix}/sensor/${node}/${object}_fps/config`,
      `${prefix}/binary_sensor/${node}/${object}_online/config`,
    ];
  };
  /** The latest payload mosquitto_sub got on `topic` (undefined: none yet). */
  const latest = (sub: MosquittoSub, topic: string) =>
    sub.messages.findLast((m) => m.topic === topic)?.payload;
  /** Waits until every topic's latest payload is a config (`present`) or empty (cleared). */
  const waitConfigs = (sub: MosquittoSub, list: string[], present: boolean, what: string) =>
    waitFor(
      () =>
        list.every((topic) => {
          const p = latest(sub, topic);
          return present ? p !== undefined && p !== '' : p === '';
        }) || undefined,
      { what },
    );
  const sendStatus = (cameras: string[]) => {
    seq += 1;
    const status = statusMessage(id, seq, 'online');
    const list: Status['cameras'] = cameras.map((camera) => ({
      id: camera,
      state: 'online',
      reason: null,
      since: status.ts,
    }));
    return device.publishAsync(topics.status(id), JSON.stringify({ ...status, cameras: list }), {
      qos: 1,
    });
  };

  const sendWindow = (over: Partial<Faces>) => {
    seq += 1;
    return device.publishAsync(topics.faces(id), JSON.stringify(facesMessage(id, seq, over)), {
      qos: 1,
    });
  };

  it('publishes faces, FPS and online configs per camera once the status lists three cameras', async () => {
    const sub = await watch(t, login, `${prefix}/#`);
    await waitConfigs(sub, haDiscoveryTopics(prefix, id), true, 'the 5 device configs');
    await sendStatus(['0', 'lobby', 'yard.2']);
    const cameras = ['0', 'lobby', 'yard.2'].flatMap(cameraTopics);
    await waitConfigs(sub, cameras, true, 'the configs of the three cameras');
    // The device-level Faces gives way to the per-camera ones; the other device entities stay.
    await waitConfigs(sub, [deviceFaces], false, 'the device-level faces config cleared');
    for (const topic of haDiscoveryTopics(prefix, id).filter((x) => x !== deviceFaces)) {
      expect(latest(sub, topic)).not.toBe('');
    }
    const lobby = JSON.parse(latest(sub, cameraTopics('lobby')[0]!)!) as Record<string, unknown>;
    expect(lobby).toMatchObject({
      name: 'Camera lobby faces',
      state_topic: topics.faces(id),
      unique_id: `${node}_camera_lobby_faces`,
      device: { identifiers: [node], name: id, model: 'Jetson Orin NX' },
      availability: [{ topic: topics.status(id) }],
    });
    expect(String(lobby.value_template)).toContain("== 'lobby'");
    // The camera id with '.' has object and unique ids Home Assistant accepts.
    const yard = JSON.parse(latest(sub, cameraTopics('yard.2')[2]!)!) as Record<string, unknown>;
    expect(yard.unique_id).toMatch(/^facefleet_cam-three_camera_yard_2_[0-9a-f]{8}_online$/);
    expect(yard.state_topic).toBe(topics.status(id));
  });

  it("adds a camera's configs when its first window or metrics sample arrives after the status", async () => {
    const sub = await watch(t, login, `${prefix}/#`);
    await sendWindow({ camera: 'porch' });
    await waitConfigs(sub, cameraTopics('porch'), true, 'the configs of camera porch');
    // …or its first metrics sample.
    seq += 1;
    const garage = {
      id: 'garage',
      state: 'online' as const,
      fps: 5,
      cameraFps: 5,
      frames: 50,
      dropped: 0,
      skipped: 0,
      reconnects: 0,
    };
    await device.publishAsync(
      topics.metrics(id),
      JSON.stringify(metricsMessage(id, seq, { cameras: [garage] })),
      { qos: 1 },
    );
    await waitConfigs(sub, cameraTopics('garage'), true, 'the configs of camera garage');
  });

  it('clears the configs of cameras a newer status no longer lists, and brings Faces back at one', async () => {
    const sub = await watch(t, login, `${prefix}/#`);
    await sendStatus(['0', 'lobby']);
    const gone = ['yard.2', 'porch', 'garage'].flatMap(cameraTopics);
    await waitConfigs(sub, gone, false, 'the configs of yard.2, porch and garage cleared');
    const kept = ['0', 'lobby'].flatMap(cameraTopics);
    await waitConfigs(sub, kept, true, 'the configs of 0 and lobby retained');
    // Home Assistant after a restart gets only what is there now.
    const later = await watch(t, login, `${prefix}/#`);
    await waitConfigs(later, kept, true, 'the retained configs of 0 and lobby');
    for (const topic of [...gone, deviceFaces]) expect(latest(later, topic)).toBeUndefined();

    // A late window of a dropped camera, older than the status that dropped it, does not bring it
    // back; a window of a new camera after it does add that one (and shows the first was handled).
    const old = statusMessage(id, 1).ts;
    await sendWindow({ camera: 'yard.2', ts: old, start: old - 1000, end: old });
    await sendWindow({ camera: 'attic' });
    await waitConfigs(later, cameraTopics('attic'), true, 'the configs of camera attic');
    for (const topic of cameraTopics('yard.2')) expect(latest(later, topic) ?? '').toBe('');

    // Its birth message publishes the configs of the cameras again.
    const before = later.messages.length;
    const ha = await connectClient(t.mqttUrl, { ...login, clientId: 'ha-birth-cams' });
    clients.push(ha);
    await ha.publishAsync(`${prefix}/status`, 'online', { qos: 1 });
    await waitFor(
      () =>
        kept.every((topic) => later.messages.slice(before).some((m) => m.topic === topic)) ||
        undefined,
      { what: 'the camera configs again after the birth message' },
    );

    // Down to one camera: the device entities alone, Faces included.
    await sendStatus(['0']);
    await waitConfigs(
      sub,
      [...kept, ...cameraTopics('attic')],
      false,
      'the per-camera configs cleared at one camera',
    );
    await waitConfigs(sub, [deviceFaces], true, 'the device-level faces config back');
  });

  it('clears every config of the device and of its cameras when it is deleted', async () => {
    await sendStatus(['0', 'lobby', 'yard.2']);
    const sub = await watch(t, login, `${prefix}/#`);
    const present = [
      ...haDiscoveryTopics(prefix, id).filter((topic) => topic !== deviceFaces),
      ...['0', 'lobby', 'yard.2'].flatMap(cameraTopics),
    ];
    await waitConfigs(sub, present, true, 'the configs of the device and its three cameras');
    expect((await t.api('DELETE', `/api/v1/devices/${id}`)).status).toBe(200);
    await waitConfigs(sub, present, false, 'every config of the deleted device cleared');
    const later = await watch(t, login, `${prefix}/#`);
    await waitConfigs(
      later,
      haDiscoveryTopics(prefix, 'cam-other'),
      true,
      'another device’s configs',
    );
    for (const topic of present) expect(latest(later, topic)).toBeUndefined();
  });
});

describe('Home Assistant discovery after a restart', () => {
  it("publishes the cameras' configs from the store when the control plane starts again", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'facefleet-ha-'));
    const cameras = ['0', 'lobby', 'yard.2'];
    const cameraTopics = cameras.flatMap((camera) =>
      haDiscoveryTopics('homeassistant', 'cam-r', [camera]).slice(5),
    );
    const deviceFaces = 'homeassistant/sensor/facefleet_cam-r/faces/config';
    try {
      const first = await startTestServer([], { dataDir });
      let login: { username: string; password: string };
      try {
        const token = await first.enroll('cam-r');
        // The second start has no first-admin token: Home Assistant's login is made now.
        login = await subscriber(first, 'ha');
        const device = await connectClient(first.mqttUrl, {
          username: 'cam-r',
          password: token,
          clientId: 'cam-r',
        });
        clients.push(device);
        const status = statusMessage('cam-r', 1, 'online');
        const list = cameras.map((id) => ({
          id,
          state: 'online' as const,
          reason: null,
          since: status.ts,
        }));
        await device.publishAsync(
          topics.status('cam-r'),
          JSON.stringify({ ...status, cameras: list }),
          { qos: 1 },
        );
        await waitFor(
          async () =>
            (
              (await first.api('GET', '/api/v1/devices/cam-r/cameras').then((r) => r.json())) as {
                cameras: unknown[];
              }
            ).cameras.length === 3 || undefined,
          { what: 'the three cameras stored' },
        );
        await device.endAsync(true);
      } finally {
        await first.close();
      }
      // The embedded broker kept its retained configs in memory only: the new one has none.
      const second = await startTestServer([], { dataDir });
      try {
        const sub = await watch(second, login, 'homeassistant/#');
        await waitFor(
          () =>
            cameraTopics.every((topic) =>
              sub.messages.some((m) => m.topic === topic && m.payload !== ''),
            ) || undefined,
          { what: "the cameras' configs published from the store" },
        );
        expect(sub.messages.some((m) => m.topic === deviceFaces && m.payload !== '')).toBe(false);
      } finally {
        await Promise.all(subs.splice(0).map((s) => s.kill()));
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
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

describe('Home Assistant discovery of the whole fleet, paced', () => {
  /** A real store with `n` devices, a broker that records what is published, paced discovery. */
  async function paced(n: number, republishDevicesPerS: number, leading = () => true) {
    const store = await openStore(':memory:', { writer: 'inline' });
    for (let i = 0; i < n; i++) {
      await store.devices.insert({
        id: `dev-${i}`,
        deviceClass: 'jetson-nano',
        tags: [],
        tokenHash: 'h',
        createdAt: 1,
      });
    }
    const topicsPublished: string[] = [];
    const broker: Broker = {
      publish: async (topic) => {
        topicsPublished.push(topic);
      },
      connectedDevices: () => null,
      ports: { mqtt: null, ws: null, tls: null, wss: null },
      close: async () => {},
    };
    const ha = createHaDiscovery({
      prefix: 'homeassistant',
      broker,
      store,
      log: pino({ level: 'silent' }),
      leading,
      republishDevicesPerS,
    });
    /** The numbered devices (dev-0 …) with configs published so far. */
    const devicesPublished = () =>
      new Set(topicsPublished.flatMap((t) => /facefleet_(dev-\d+)\//.exec(t)?.[1] ?? [])).size;
    return { store, ha, topicsPublished, devicesPublished };
  }
  afterEach(() => {
    vi.useRealTimers();
  });

  it('publishes 64 devices at a time at the given rate, and a changed device at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { store, ha, topicsPublished, devicesPublished } = await paced(300, 1000);
    const all = ha.publishAll();
    await vi.advanceTimersByTimeAsync(0);
    expect(devicesPublished()).toBe(64);
    expect(topicsPublished).toHaveLength(64 * 5);
    // the next chunk is due 64 ms after the first (64 devices at 1000 a second)
    await vi.advanceTimersByTimeAsync(63);
    expect(devicesPublished()).toBe(64);
    await vi.advanceTimersByTimeAsync(1);
    expect(devicesPublished()).toBe(128);
    // a device enrolled meanwhile does not wait for its turn
    await store.devices.insert({
      id: 'dev-late',
      deviceClass: 'jetson-nano',
      tags: [],
      tokenHash: 'h',
      createdAt: 1,
    });
    await ha.deviceChanged('dev-late');
    expect(topicsPublished.some((t) => t.includes('facefleet_dev-late/'))).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(await all).toBe(300);
    expect(devicesPublished()).toBe(300);
    expect(topicsPublished).toHaveLength(300 * 5 + 5);
    await store.close();
  });

  it('stops between chunks on shutdown: no more publishes, and idle() settles at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { store, ha, devicesPublished } = await paced(300, 10);
    const all = ha.publishAll();
    await vi.advanceTimersByTimeAsync(0);
    expect(devicesPublished()).toBe(64);
    ha.stop();
    await ha.idle(); // with a chunk due only 6.4 s later: settles without the clock moving
    expect(await all).toBe(64);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(devicesPublished()).toBe(64);
    expect(await ha.publishAll()).toBe(0);
    await store.close();
  });

  it('stops between chunks when another instance takes the leadership', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let leader = true;
    const { store, ha, devicesPublished } = await paced(300, 1000, () => leader);
    const all = ha.publishAll();
    await vi.advanceTimersByTimeAsync(64);
    expect(devicesPublished()).toBe(128);
    leader = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(await all).toBe(128);
    expect(devicesPublished()).toBe(128);
    await store.close();
  });
});
