import { createServer } from 'node:http';
import { type Alert, topics } from '@facefleet/protocol';
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

describe.each(STORE_KINDS)('alert executor (%s)', (kind) => {
  let t: TestServer;
  let cam: MqttClient;
  let sub: MqttClient;
  const received: Alert[] = [];
  /** Topic of each alert received, by alert id and state. */
  const topicsOf = new Map<string, string>();
  const hooks: Alert[] = [];
  const webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as Alert);
      res.end('ok');
    });
  });

  beforeAll(async () => {
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
    // the webhook below listens on loopback: an internal address, allowed here by name
    t = await startTestServer(['--webhook-allow-hosts', '127.0.0.1'], { store: kind });
    const token = await t.enroll('al-cam', 'jetson-xavier-nx', ['lobby']);
    cam = await connectClient(t.mqttUrl, { username: 'al-cam', password: token });
    const { username, password } = (await (
      await t.api('POST', '/api/v1/subscribers', { body: { name: 'nodered' } })
    ).json()) as { username: string; password: string };
    sub = await connectClient(t.mqttUrl, { username, password });
    sub.on('message', (topic, payload) => {
      // (an empty payload clears a retained alert: a deleted device's, below)
      if (payload.length === 0) return;
      const alert = JSON.parse(payload.toString()) as Alert;
      received.push(alert);
      topicsOf.set(`${alert.alertId}/${alert.state}`, topic);
    });
    await sub.subscribeAsync('facefleet/v1/alerts/#', { qos: 1 });
  });
  afterAll(async () => {
    await cam?.endAsync(true);
    await sub?.endAsync(true);
    await t?.close();
    webhook.close();
  });

  describe('webhooks (issue 17, finding 8)', () => {
    it('refuses rules posting to internal addresses not allowed, and shows viewers only where a webhook points', async () => {
      for (const url of [
        'http://10.0.0.5/hook',
        'http://169.254.169.254/latest/meta-data/',
        'http://[::1]:8080/x',
        'http://localhost:1880/x',
        'http://[::ffff:192.168.1.1]/x',
        'file:///etc/passwd',
      ]) {
        const res = await t.api('POST', '/api/v1/alert-rules', {
          body: { id: 'ssrf', kind: 'faces_above', threshold: 1, webhookUrl: url },
        });
        expect(res.status, url).toBe(400);
        expect(
          ((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path,
          url,
        ).toBe('webhookUrl');
      }
      const secret = 'https://hooks.example.com/services/T000/B000/s3cr3t-token?key=abc';
      expect(
        (
          await t.api('POST', '/api/v1/alert-rules', {
            body: { id: 'with-secret', kind: 'faces_above', threshold: 99, webhookUrl: secret },
          })
        ).status,
      ).toBe(201);
      const urlAs = async (token?: string) =>
        (
          (await (await t.api('GET', '/api/v1/alert-rules', token ? { token } : {})).json()) as {
            rules: { id: string; webhookUrl: string | null }[];
          }
        ).rules.find((r) => r.id === 'with-secret')?.webhookUrl;
      expect(await urlAs()).toBe(secret);
      expect(await urlAs(await t.token('operator'))).toBe(secret);
      expect(await urlAs(await t.token('viewer'))).toBe('https://hooks.example.com/…');
      expect((await t.api('DELETE', '/api/v1/alert-rules/with-secret')).status).toBe(200);
    });
  });

  describe('alerts', () => {
    it('fires and resolves faces_above, stores it, publishes it to subscribers and the webhook', async () => {
      const port = (webhook.address() as { port: number }).port;
      const res = await t.api('POST', '/api/v1/alert-rules', {
        body: {
          id: 'lobby-crowd',
          kind: 'faces_above',
          threshold: 5,
          selector: { tag: 'lobby' },
          webhookUrl: `http://127.0.0.1:${port}/hook`,
        },
      });
      expect(res.status).toBe(201);
      await cam.publishAsync(
        topics.faces('al-cam'),
        JSON.stringify(facesMessage('al-cam', 1, { min: 6, max: 8, last: 7, mean: 7 })),
        { qos: 1 },
      );
      await waitFor(() => received.some((a) => a.state === 'firing'), 5000, 'firing alert');
      await cam.publishAsync(
        topics.faces('al-cam'),
        JSON.stringify(facesMessage('al-cam', 2, { min: 0, max: 1, last: 1, mean: 0.5 })),
        { qos: 1 },
      );
      await waitFor(() => received.some((a) => a.state === 'resolved'), 5000, 'resolved alert');
      const firing = received.find((a) => a.state === 'firing')!;
      expect(firing).toMatchObject({
        ruleId: 'lobby-crowd',
        deviceId: 'al-cam',
        kind: 'faces_above',
        value: 8,
        threshold: 5,
      });
      expect(received.find((a) => a.state === 'resolved')!.alertId).toBe(firing.alertId);
      await waitFor(() => hooks.length >= 2, 5000, 'webhook calls');
      expect(hooks.map((h) => h.state)).toEqual(['firing', 'resolved']);
      const stored = (await (await t.api('GET', '/api/v1/alerts?ruleId=lobby-crowd')).json()) as {
        alerts: { state: string; resolvedAt: number | null }[];
      };
      expect(stored.alerts).toHaveLength(1);
      expect(stored.alerts[0]).toMatchObject({ state: 'resolved' });
    });

    it('flags FPS below a share of the model card and reports it in the fleet FPS view', async () => {
      await t.api('POST', '/api/v1/alert-rules', {
        body: { id: 'slow-nx', kind: 'fps_below', threshold: 0.5 },
      });
      await cam.publishAsync(
        topics.metrics('al-cam'),
        JSON.stringify(metricsMessage('al-cam', 3, { inferFps: 100, fps: 25 })),
        { qos: 1 },
      );
      await waitFor(
        () => received.some((a) => a.ruleId === 'slow-nx' && a.state === 'firing'),
        5000,
        'fps alert',
      );
      const fleet = (await (await t.api('GET', '/api/v1/fleet/fps?window=86400')).json()) as {
        classes: {
          deviceClass: string;
          referenceFps: number;
          devices: { deviceId: string; ratio: number; belowReference: boolean }[];
        }[];
      };
      const nx = fleet.classes.find((c) => c.deviceClass === 'jetson-xavier-nx')!;
      expect(nx.referenceFps).toBe(329);
      expect(nx.devices[0]).toMatchObject({ deviceId: 'al-cam', belowReference: true });
      expect(nx.devices[0]!.ratio).toBeCloseTo(100 / 329, 2);
    });

    it('fires device_offline from the clock when a device falls silent', async () => {
      await t.api('POST', '/api/v1/alert-rules', {
        body: { id: 'silent', kind: 'device_offline', threshold: 0.3 },
      });
      await cam.publishAsync(topics.faces('al-cam'), JSON.stringify(facesMessage('al-cam', 4)), {
        qos: 1,
      });
      await waitFor(
        () => received.some((a) => a.ruleId === 'silent' && a.state === 'firing'),
        5000,
        'offline alert',
      );
    });

    it('camera_offline: fires for the one camera down after N seconds, to subscribers and the webhook, and resolves when it is back', async () => {
      const port = (webhook.address() as { port: number }).port;
      const rule = await t.api('POST', '/api/v1/alert-rules', {
        body: {
          id: 'cam-down',
          kind: 'camera_offline',
          threshold: 0.5,
          severity: 'critical',
          webhookUrl: `http://127.0.0.1:${port}/cam`,
        },
      });
      expect(rule.status).toBe(201);
      const since = Date.now();
      const cams = (yard: 'online' | 'reconnecting') => [
        { id: '0', state: 'online' as const, reason: null, since },
        {
          id: 'yard',
          state: yard,
          reason: yard === 'online' ? null : 'rtsp://10.0.0.9/s: no frame for 5 s',
          since,
        },
      ];
      const publishStatus = (seq: number, yard: 'online' | 'reconnecting') =>
        cam.publishAsync(
          topics.status('al-cam'),
          JSON.stringify({ ...statusMessage('al-cam', seq, 'online', cams(yard)), ts: Date.now() }),
          { qos: 1, retain: true },
        );
      await publishStatus(100, 'online');
      await publishStatus(101, 'reconnecting');
      const downAt = Date.now();
      await waitFor(
        () => received.some((a) => a.ruleId === 'cam-down' && a.state === 'firing'),
        5000,
        'camera_offline firing',
      );
      const firing = received.find((a) => a.ruleId === 'cam-down' && a.state === 'firing')!;
      // after the threshold, not before (the clock ticks every 100 ms in these tests)
      expect(firing.ts - downAt).toBeGreaterThanOrEqual(450);
      expect(firing).toMatchObject({
        deviceId: 'al-cam',
        camera: 'yard',
        kind: 'camera_offline',
        severity: 'critical',
        threshold: 0.5,
      });
      expect(firing.message).toMatch(
        /^al-cam camera yard was reconnecting or offline for more than 0.5 s \(\d+\) \[rule cam-down\]: rtsp:\/\/10.0.0.9\/s: no frame for 5 s$/,
      );
      expect(topicsOf.get(`${firing.alertId}/firing`)).toBe(
        topics.alert('cam-down', 'al-cam', 'yard'),
      );
      // camera "0" stayed online: no alert for it
      expect(received.filter((a) => a.ruleId === 'cam-down' && a.state === 'firing')).toHaveLength(
        1,
      );
      await publishStatus(102, 'online');
      await waitFor(
        () => received.some((a) => a.ruleId === 'cam-down' && a.state === 'resolved'),
        5000,
        'camera_offline resolved',
      );
      const resolved = received.find((a) => a.ruleId === 'cam-down' && a.state === 'resolved')!;
      expect(resolved).toMatchObject({ alertId: firing.alertId, camera: 'yard' });
      await waitFor(
        () => hooks.filter((h) => h.ruleId === 'cam-down').length >= 2,
        5000,
        'webhook calls',
      );
      expect(hooks.filter((h) => h.ruleId === 'cam-down').map((h) => [h.state, h.camera])).toEqual([
        ['firing', 'yard'],
        ['resolved', 'yard'],
      ]);
      const stored = (await (
        await t.api('GET', '/api/v1/alerts?ruleId=cam-down&camera=yard')
      ).json()) as { alerts: { state: string; camera: string | null }[] };
      expect(stored.alerts).toEqual([
        expect.objectContaining({ state: 'resolved', camera: 'yard' }),
      ]);
      await t.api('DELETE', '/api/v1/alert-rules/cam-down');
    });

    it('faces_above per camera: a rule that selects cameras watches only those', async () => {
      await t.api('POST', '/api/v1/alert-rules', {
        body: {
          id: 'yard-crowd',
          kind: 'faces_above',
          threshold: 3,
          selector: { cameras: ['yard'] },
        },
      });
      const crowd = { min: 4, max: 6, last: 5, mean: 5 };
      await cam.publishAsync(
        topics.faces('al-cam'),
        JSON.stringify(facesMessage('al-cam', 110, { ...crowd, ts: Date.now() })),
        { qos: 1 },
      );
      await cam.publishAsync(
        topics.faces('al-cam'),
        JSON.stringify(facesMessage('al-cam', 111, { ...crowd, camera: 'yard', ts: Date.now() })),
        { qos: 1 },
      );
      await waitFor(
        () => received.some((a) => a.ruleId === 'yard-crowd' && a.state === 'firing'),
        5000,
        'yard crowd',
      );
      const fired = received.filter((a) => a.ruleId === 'yard-crowd');
      expect(fired.map((a) => a.camera)).toEqual(['yard']);
      expect(topicsOf.get(`${fired[0]!.alertId}/firing`)).toBe(
        topics.alert('yard-crowd', 'al-cam', 'yard'),
      );
      await t.api('DELETE', '/api/v1/alert-rules/yard-crowd');
    });

    it('refuses cameras in the selector of a device-wide rule, and a camera_offline without seconds', async () => {
      const bad = await t.api('POST', '/api/v1/alert-rules', {
        body: { id: 'hot-cam', kind: 'temp_above', threshold: 80, selector: { cameras: ['yard'] } },
      });
      expect(bad.status).toBe(400);
      expect(
        ((await bad.json()) as { error: { details: { path: string }[] } }).error.details,
      ).toEqual([expect.objectContaining({ path: 'selector.cameras' })]);
      const noSeconds = await t.api('POST', '/api/v1/alert-rules', {
        body: { id: 'cam-x', kind: 'camera_offline' },
      });
      expect(noSeconds.status).toBe(400);
      const badCamera = await t.api('POST', '/api/v1/alert-rules', {
        body: { id: 'cam-y', kind: 'no_faces', selector: { cameras: ['a/b'] } },
      });
      expect(badCamera.status).toBe(400);
    });

    it('answers a face series in buckets', async () => {
      const from = Date.now() - 86_400_000;
      const res = await t.api(
        'GET',
        `/api/v1/devices/al-cam/faces?from=${from}&to=${from + 3 * 86_400_000}&bucket=1h`,
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { buckets: { windows: number; maxFaces: number }[] };
      // every camera together: camera "0"'s four windows and the yard's one
      expect(body.buckets.reduce((n, b) => n + b.windows, 0)).toBe(5);
      expect(Math.max(...body.buckets.map((b) => b.maxFaces))).toBe(8);
      const yard = (await (
        await t.api(
          'GET',
          `/api/v1/devices/al-cam/faces?from=${from}&to=${from + 3 * 86_400_000}&bucket=1h&camera=yard`,
        )
      ).json()) as { camera: string; buckets: { windows: number; maxFaces: number }[] };
      expect(yard.camera).toBe('yard');
      expect(yard.buckets.map((b) => [b.windows, b.maxFaces])).toEqual([[1, 6]]);
      const bad = await t.api('GET', '/api/v1/devices/al-cam/faces?bucket=1ms');
      expect(bad.status).toBe(400);
    });
  });

  describe('a deleted device (issue 17, finding 10)', () => {
    it('leaves no retained alert behind for later subscribers, and its firing alerts resolved', async () => {
      const token = await t.enroll('gone-cam', 'jetson-xavier-nx');
      const gone = await connectClient(t.mqttUrl, { username: 'gone-cam', password: token });
      expect(
        (
          await t.api('POST', '/api/v1/alert-rules', {
            body: {
              id: 'gone-crowd',
              kind: 'faces_above',
              threshold: 1,
              selector: { deviceIds: ['gone-cam'] },
            },
          })
        ).status,
      ).toBe(201);
      await gone.publishAsync(
        topics.faces('gone-cam'),
        JSON.stringify(facesMessage('gone-cam', 1, { min: 3, max: 3, last: 3, mean: 3 })),
        { qos: 1 },
      );
      const alertTopic = topics.alert('gone-crowd', 'gone-cam');
      let markerSeq = 1000;
      /** What a subscriber arriving now gets retained on alertTopic (a face window of al-cam marks the end). */
      const retainedNow = async (): Promise<string[]> => {
        const { username, password } = (await (
          await t.api('POST', '/api/v1/subscribers', { body: { name: `late-${Date.now()}` } })
        ).json()) as { username: string; password: string };
        const late = await connectClient(t.mqttUrl, { username, password });
        try {
          const got: string[] = [];
          let marked = false;
          late.on('message', (topic, payload) => {
            if (topic === alertTopic && payload.length > 0) got.push(payload.toString());
            if (topic === topics.faces('al-cam')) marked = true;
          });
          await late.subscribeAsync([alertTopic, topics.faces('al-cam')], { qos: 1 });
          await cam.publishAsync(
            topics.faces('al-cam'),
            JSON.stringify(
              facesMessage('al-cam', markerSeq++, { min: 0, max: 1, last: 1, mean: 0.5 }),
            ),
            { qos: 1 },
          );
          await waitFor(() => marked, 5000, 'the marker');
          return got;
        } finally {
          await late.endAsync(true);
        }
      };
      await waitFor(
        async () => (await retainedNow()).length === 1,
        5000,
        'the retained firing alert',
      );
      await gone.endAsync(true);
      expect((await t.api('DELETE', '/api/v1/devices/gone-cam')).status).toBe(200);
      expect(await retainedNow()).toEqual([]);
      const stored = (await (await t.api('GET', '/api/v1/alerts?deviceId=gone-cam')).json()) as {
        alerts: { state: string }[];
      };
      expect(stored.alerts.map((a) => a.state)).toEqual(['resolved']);
      expect((await t.api('DELETE', '/api/v1/alert-rules/gone-crowd')).status).toBe(200);
    });
  });
});
