import { type CameraMetrics, type CameraStatus, topics } from '@facefleet/protocol';
import { STORE_KINDS } from '@facefleet/store/testing';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  facesMessage,
  metricsMessage,
  startTestServer,
  statusMessage,
  type TestServer,
  waitFor,
} from '../testing.js';

/**
 * Cameras through the API: a device with three cameras sends its status, windows of two cameras and
 * per-camera metrics over MQTT; the API answers each camera's state, face series and FPS, and the
 * fleet views count and list cameras.
 */
describe.each(STORE_KINDS)('cameras in the API (%s)', (kind) => {
  let t: TestServer;
  let dev: MqttClient;
  const now = Date.now();
  const cams: CameraStatus[] = [
    { id: '0', state: 'online', reason: null, since: now - 60_000 },
    { id: 'lobby', state: 'online', reason: null, since: now - 60_000 },
    { id: 'yard', state: 'offline', reason: 'source failed: /dev/video9', since: now - 5000 },
  ];
  const figures = (id: string, state: CameraMetrics['state'], fps: number): CameraMetrics => ({
    id,
    state,
    fps,
    cameraFps: fps * 2,
    frames: fps * 10,
    dropped: 1,
    skipped: fps * 10,
    reconnects: 0,
  });

  beforeAll(async () => {
    t = await startTestServer([], { store: kind });
    const token = await t.enroll('multi-1', 'jetson-agx-xavier');
    await t.enroll('single-1', 'jetson-nano');
    dev = await connectClient(t.mqttUrl, { username: 'multi-1', password: token });
    const send = (topic: string, m: object) =>
      dev.publishAsync(topic, JSON.stringify(m), { qos: 1 });
    await send(topics.status('multi-1'), {
      ...statusMessage('multi-1', 1, 'online', cams),
      ts: now,
    });
    await send(
      topics.faces('multi-1'),
      facesMessage('multi-1', 2, { ts: now, min: 1, max: 2, last: 2, mean: 1.5 }),
    );
    await send(
      topics.faces('multi-1'),
      facesMessage('multi-1', 3, { camera: 'lobby', ts: now, min: 3, max: 5, last: 4, mean: 4 }),
    );
    for (const [seq, lobbyFps] of [
      [4, 10],
      [5, 12],
    ] as const) {
      await send(topics.metrics('multi-1'), {
        ...metricsMessage('multi-1', seq, {
          cameras: [
            figures('0', 'online', 8),
            figures('lobby', 'online', lobbyFps),
            figures('yard', 'offline', 0),
          ],
          batch: { batches: 20, meanSize: 2 },
        }),
        ts: now - 10_000 + seq * 1000,
      });
    }
    await waitFor(
      async () =>
        (await t.sql<{ n: number }>('SELECT count(*) AS n FROM camera_metrics'))[0]?.n === 6,
      10_000,
      'six camera samples stored',
    );
  });
  afterAll(async () => {
    await dev?.endAsync(true);
    await t?.close();
  });

  it("lists a device's cameras with state, reason, last window and last FPS", async () => {
    const res = await t.api('GET', '/api/v1/devices/multi-1/cameras');
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      counts: { total: number; online: number; offline: number };
      cameras: {
        id: string;
        state: string;
        reason: string | null;
        lastFaces: { max: number } | null;
        lastMetrics: { fps: number; cameraFps: number } | null;
      }[];
    };
    expect(body.counts).toEqual({ total: 3, online: 2, reconnecting: 0, offline: 1 });
    expect(
      body.cameras.map((c) => [c.id, c.state, c.lastFaces?.max ?? null, c.lastMetrics?.fps]),
    ).toEqual([
      ['0', 'online', 2, 8],
      ['lobby', 'online', 5, 12],
      ['yard', 'offline', null, 0],
    ]);
    expect(body.cameras[2]?.reason).toBe('source failed: /dev/video9');
    const device = (await (await t.api('GET', '/api/v1/devices/multi-1')).json()) as {
      device: { cameras: CameraStatus[] };
    };
    expect(device.device.cameras).toEqual(cams);
    // an enrolled device that never spoke has none; an unknown one is 404
    const single = (await (await t.api('GET', '/api/v1/devices/single-1/cameras')).json()) as {
      cameras: unknown[];
    };
    expect(single.cameras).toEqual([]);
    expect((await t.api('GET', '/api/v1/devices/nope/cameras')).status).toBe(404);
  });

  it("answers one camera's FPS in buckets, and refuses a camera id that is not one", async () => {
    const res = await t.api(
      'GET',
      `/api/v1/devices/multi-1/cameras/lobby/metrics?from=${now - 3_600_000}&to=${now + 60_000}&bucket=1h`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      camera: string;
      buckets: { samples: number; fps: number; cameraFps: number; offline: number }[];
    };
    expect(body.camera).toBe('lobby');
    const samples = body.buckets.reduce((n, b) => n + b.samples, 0);
    expect(samples).toBe(2);
    const yard = (await (
      await t.api(
        'GET',
        `/api/v1/devices/multi-1/cameras/yard/metrics?from=${now - 3_600_000}&to=${now + 60_000}&bucket=2h`,
      )
    ).json()) as { buckets: { offline: number }[] };
    expect(yard.buckets.map((b) => b.offline)).toEqual([1]);
    const bad = await t.api('GET', '/api/v1/devices/multi-1/cameras/a%2Bb/metrics');
    expect(bad.status).toBe(400);
    expect(
      ((await bad.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path,
    ).toBe('camera');
  });

  it('counts cameras and offline cameras in the fleet overview, and lists camera FPS in the fleet FPS view', async () => {
    const overview = (await (await t.api('GET', '/api/v1/fleet/overview')).json()) as {
      totals: { devices: number; cameras: number; offlineCameras: number };
      devices: {
        id: string;
        cameraCounts: { total: number; offline: number };
        lastFaces: { last: number } | null;
        cameraFaces: Record<string, { last: number }>;
      }[];
    };
    expect(overview.totals).toEqual({
      devices: 2,
      cameras: 3,
      offlineCameras: 1,
      reconnectingCameras: 0,
    });
    const multi = overview.devices.find((d) => d.id === 'multi-1');
    expect(multi?.cameraCounts).toMatchObject({ total: 3, offline: 1 });
    // faces now: in view across the cameras (camera "0" sees 2, the lobby 4)
    expect(multi?.lastFaces?.last).toBe(6);
    expect(
      Object.fromEntries(Object.entries(multi!.cameraFaces).map(([c, w]) => [c, w.last])),
    ).toEqual({
      '0': 2,
      lobby: 4,
    });
    const fps = (await (await t.api('GET', '/api/v1/fleet/fps?window=86400')).json()) as {
      classes: {
        deviceClass: string;
        referenceFps: number;
        devices: {
          deviceId: string;
          cameras: { camera: string; samples: number; fps: { p50: number }; offline: number }[];
        }[];
      }[];
    };
    const agx = fps.classes.find((c) => c.deviceClass === 'jetson-agx-xavier');
    expect(agx?.referenceFps).toBe(537); // the model card beside it
    const device = agx?.devices.find((d) => d.deviceId === 'multi-1');
    expect(device?.cameras.map((c) => [c.camera, c.samples, c.fps.p50, c.offline])).toEqual([
      ['0', 2, 8, 0],
      ['lobby', 2, 10, 0],
      ['yard', 2, 0, 1],
    ]);
  });
});
