import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Desired, topics } from '@facefleet/protocol';
import { STORE_KINDS } from '@facefleet/store/testing';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '../auth/sessions.js';
import type { LiveEvent } from '../live/types.js';
import {
  connectClient,
  facesMessage,
  metricsMessage,
  reportedMessage,
  startTestServer,
  statusMessage,
  type TestServer,
  waitFor,
} from '../testing.js';

/**
 * Dashboard sessions and the live event stream, over a real HTTP port (EventSource's view of it):
 * sign in with a token, get an HttpOnly cookie, stream what devices, rollouts and alerts do.
 */
describe.each(STORE_KINDS)('live (%s)', (kind) => {
  let t: TestServer;
  let base: string;
  const clients: MqttClient[] = [];
  const emptyDir = mkdtempSync(join(tmpdir(), 'ff-no-dashboard-'));

  beforeAll(async () => {
    t = await startTestServer(
      ['--live-flush-ms', '20', '--live-heartbeat-ms', '200', '--dashboard-dir', emptyDir],
      { store: kind },
    );
    base = `http://127.0.0.1:${t.server.ports.http}`;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await t?.close();
    rmSync(emptyDir, { recursive: true, force: true });
  });

  async function signIn(token: string): Promise<{ res: Response; cookie: string }> {
    const res = await fetch(`${base}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
      body: JSON.stringify({ token }),
    });
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    return { res, cookie };
  }

  interface Stream {
    events: LiveEvent[];
    named: string[];
    ended: Promise<void>;
    close(): void;
  }

  /** Opens the event stream and parses it as EventSource would. */
  async function openStream(headers: Record<string, string>): Promise<Stream> {
    const ac = new AbortController();
    const res = await fetch(`${base}/api/v1/events`, { headers, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events: LiveEvent[] = [];
    const named: string[] = [];
    const ended = (async () => {
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event) named.push(event);
          if (data) events.push(JSON.parse(data) as LiveEvent);
        }
      }
    })();
    return { events, named, ended, close: () => ac.abort() };
  }

  const find = <T extends LiveEvent['type']>(
    s: Stream,
    type: T,
    pred: (e: never) => boolean = () => true,
  ) =>
    s.events.find((e) => e.type === type && pred(e as never)) as
      | Extract<LiveEvent, { type: T }>
      | undefined;

  describe('dashboard sessions', () => {
    it('signs in with an API token and sets an HttpOnly, SameSite=Strict cookie', async () => {
      const viewer = await t.token('viewer');
      const { res, cookie } = await signIn(viewer);
      expect(res.status).toBe(200);
      const setCookie = res.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^ff_session=v2\.[0-9a-f]{32}\.[0-9a-f]{16}\.\d+\.[\w-]{43};/);
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Strict');
      expect(setCookie).toContain('Path=/');
      expect(setCookie).not.toContain(viewer);
      const body = (await res.json()) as { principal: { role: string }; expiresAt: number };
      expect(body.principal.role).toBe('viewer');
      expect(body.expiresAt).toBeGreaterThan(Date.now() + 11 * 3600_000);
      const who = await fetch(`${base}/api/v1/session`, { headers: { cookie } });
      expect(((await who.json()) as { principal: { role: string } }).principal.role).toBe('viewer');
      const devices = await fetch(`${base}/api/v1/devices`, { headers: { cookie } });
      expect(devices.status).toBe(200);
    });

    it('refuses a wrong token naming the field, and a sign-in without the dashboard header', async () => {
      const { res } = await signIn('ff_0123456789abcdef_notarealsecretnotarealsecret');
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { details: { path: string }[] } };
      expect(body.error.details[0]?.path).toBe('token');
      const noHeader = await fetch(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: t.admin }),
      });
      expect(noHeader.status).toBe(403);
    });

    it("lets a viewer's session read but refuses its writes; an operator's write needs the header", async () => {
      const viewer = await signIn(await t.token('viewer'));
      const rule = { id: 'sess-rule', kind: 'faces_above', threshold: 3 };
      const refused = await fetch(`${base}/api/v1/alert-rules`, {
        method: 'POST',
        headers: { cookie: viewer.cookie, 'content-type': 'application/json', [CSRF_HEADER]: '1' },
        body: JSON.stringify(rule),
      });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        'operator role',
      );
      const operator = await signIn(await t.token('operator'));
      const noCsrf = await fetch(`${base}/api/v1/alert-rules`, {
        method: 'POST',
        headers: { cookie: operator.cookie, 'content-type': 'application/json' },
        body: JSON.stringify(rule),
      });
      expect(noCsrf.status).toBe(403);
      expect(((await noCsrf.json()) as { error: { message: string } }).error.message).toContain(
        CSRF_HEADER,
      );
      const ok = await fetch(`${base}/api/v1/alert-rules`, {
        method: 'POST',
        headers: {
          cookie: operator.cookie,
          'content-type': 'application/json',
          [CSRF_HEADER]: '1',
        },
        body: JSON.stringify(rule),
      });
      expect(ok.status).toBe(201);
    });

    it('ends every session of a revoked token, and refuses a forged cookie', async () => {
      const created = (await (
        await t.api('POST', '/api/v1/tokens', { body: { role: 'operator', name: 'to revoke' } })
      ).json()) as { id: string; token: string };
      const { cookie } = await signIn(created.token);
      expect((await fetch(`${base}/api/v1/session`, { headers: { cookie } })).status).toBe(200);
      const forged = cookie.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 1}.`);
      expect((await fetch(`${base}/api/v1/session`, { headers: { cookie: forged } })).status).toBe(
        401,
      );
      expect((await t.api('DELETE', `/api/v1/tokens/${created.id}`)).status).toBe(200);
      expect((await fetch(`${base}/api/v1/session`, { headers: { cookie } })).status).toBe(401);
    });

    it('signs out by clearing the cookie', async () => {
      const { cookie } = await signIn(await t.token('viewer'));
      const res = await fetch(`${base}/api/v1/session`, {
        method: 'DELETE',
        headers: { cookie, [CSRF_HEADER]: '1' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie')).toMatch(/^ff_session=;.*Max-Age=0/);
    });

    it('tells the dashboard what the API accepts', async () => {
      const meta = (await (await t.api('GET', '/api/v1/meta')).json()) as {
        alertKinds: string[];
        modelCardFps: Record<string, number>;
      };
      expect(meta.alertKinds).toContain('faces_above');
      expect(meta.modelCardFps['jetson-xavier-nx']).toBe(329);
    });
  });

  describe('live events', () => {
    it('refuses a stream without credentials', async () => {
      const res = await fetch(`${base}/api/v1/events`);
      expect(res.status).toBe(401);
    });

    it('streams devices, face windows, metrics, reports, rollouts and alerts as they happen', async () => {
      const { cookie } = await signIn(await t.token('viewer'));
      const s = await openStream({ cookie });
      await waitFor(() => find(s, 'hello'), 3000, 'hello');
      expect(find(s, 'hello')?.principal.role).toBe('viewer');

      const token = await t.enroll('live-1', 'jetson-nano', ['lobby']);
      await waitFor(
        () => find(s, 'device', (e: { device: { id: string } }) => e.device.id === 'live-1'),
        3000,
        'enrolled',
      );

      const cam = await connectClient(t.mqttUrl, {
        username: 'live-1',
        password: token,
        clientId: 'live-1',
      });
      clients.push(cam);
      let seq = 1;
      await cam.publishAsync(
        topics.status('live-1'),
        JSON.stringify(statusMessage('live-1', seq++)),
        {
          qos: 1,
          retain: true,
        },
      );
      await waitFor(
        () =>
          find(
            s,
            'device',
            (e: { device: { id: string; state: string } }) =>
              e.device.id === 'live-1' && e.device.state === 'online',
          ),
        3000,
        'online',
      );
      // Three windows in one flush: the stream carries the newest only.
      for (const max of [1, 2, 4]) {
        await cam.publishAsync(
          topics.faces('live-1'),
          JSON.stringify(facesMessage('live-1', seq++, { min: 0, max, last: max, mean: max / 2 })),
          { qos: 1 },
        );
      }
      await waitFor(() => find(s, 'faces', (e: { max: number }) => e.max === 4), 3000, 'faces');
      await cam.publishAsync(
        topics.metrics('live-1'),
        JSON.stringify(
          metricsMessage(
            'live-1',
            seq++,
            { inferFps: 12.5, fps: 12 },
            { deviceClass: 'jetson-nano' },
          ),
        ),
        { qos: 1 },
      );
      const metrics = await waitFor(() => find(s, 'metrics'), 3000, 'metrics');
      expect(metrics).toMatchObject({ deviceId: 'live-1', inferFps: 12.5, referenceFps: 16 });

      // An alert rule fires on the next window.
      await t.api('POST', '/api/v1/alert-rules', {
        body: { id: 'live-crowd', kind: 'faces_above', threshold: 5 },
      });
      await cam.publishAsync(
        topics.faces('live-1'),
        JSON.stringify(facesMessage('live-1', seq++, { min: 3, max: 5, last: 5, mean: 4 })),
        { qos: 1 },
      );
      const alert = (await waitFor(
        () =>
          find(s, 'alert', (e: { alert: { ruleId: string } }) => e.alert.ruleId === 'live-crowd'),
        3000,
        'alert',
      ))!;
      expect(alert.alert).toMatchObject({
        ruleId: 'live-crowd',
        deviceId: 'live-1',
        state: 'firing',
        value: 5,
      });

      // A rollout, answered by the device as the agent would.
      cam.on('message', (_topic, payload) => {
        if (payload.length === 0) return;
        const d = JSON.parse(payload.toString()) as Desired;
        if (!d.engine || !d.rolloutId) return;
        const ref = {
          id: d.engine.id,
          sha256: d.engine.sha256,
          backend: d.engine.backend,
          model: d.engine.model,
        };
        void cam.publishAsync(
          topics.reported('live-1'),
          JSON.stringify(
            reportedMessage('live-1', seq++, {
              rev: d.rev,
              engine: ref,
              previousEngine: null,
              update: {
                state: 'applied',
                engineId: d.engine.id,
                rolloutId: d.rolloutId,
                progress: 1,
                reason: null,
              },
            }),
          ),
          { qos: 1 },
        );
      });
      await cam.subscribeAsync(topics.desired('live-1'), { qos: 1 });
      const up = await t.api(
        'POST',
        '/api/v1/engines?id=live-eng&name=facenet&model=detectnet_v2&backend=tensorrt&format=plan&deviceClass=jetson-nano&trtVersion=8.2.1&precision=int8&inputDims=3,416,736',
        { body: new Uint8Array(Buffer.from('engine bytes')) },
      );
      expect(up.status).toBe(201);
      const ro = await t.api('POST', '/api/v1/rollouts', {
        body: {
          id: 'live-ro',
          engineId: 'live-eng',
          selector: { deviceIds: ['live-1'] },
          canaryShare: 0,
          holdS: 0,
        },
      });
      expect(ro.status).toBe(201);
      await waitFor(
        () =>
          find(
            s,
            'rollout',
            (e: { rollout: { state: string } }) => e.rollout.state === 'completed',
          ),
        5000,
        'rollout completed',
      );
      const states = s.events.flatMap((e) => (e.type === 'rollout' ? [e.rollout.state] : []));
      expect(states[0]).toBe('rolling');
      const done = find(
        s,
        'rollout',
        (e: { rollout: { state: string } }) => e.rollout.state === 'completed',
      )!;
      expect(done.rollout.targets).toEqual([
        expect.objectContaining({ deviceId: 'live-1', state: 'applied', stage: 'rest' }),
      ]);
      expect(find(s, 'reported')).toMatchObject({
        deviceId: 'live-1',
        update: { state: 'applied' },
      });
      s.close();
      await s.ended;
      await waitFor(
        () => t.server.telemetry.render().includes('facefleet_live_connections 0'),
        3000,
        'unsubscribed',
      );
    });

    it('sends heartbeats, and signs the stream out when its token is revoked', async () => {
      const created = (await (
        await t.api('POST', '/api/v1/tokens', { body: { role: 'viewer', name: 'stream' } })
      ).json()) as { id: string; token: string };
      const s = await openStream({ authorization: `Bearer ${created.token}` });
      await waitFor(() => find(s, 'hello'), 3000, 'hello');
      await t.api('DELETE', `/api/v1/tokens/${created.id}`);
      await s.ended;
      expect(s.named).toContain('signed-out');
    });
  });

  describe('shutdown with open streams', () => {
    it('ends the streams and closes', async () => {
      const other = await startTestServer(['--dashboard-dir', emptyDir], { store: kind });
      const port = other.server.ports.http;
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/events`, {
        headers: { authorization: `Bearer ${other.admin}` },
      });
      const reader = res.body!.getReader();
      await reader.read(); // hello
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).toBeLessThan(3000);
      const rest = await reader.read().catch(() => ({ done: true }));
      expect(rest.done).toBe(true);
    });
  });

  describe('dashboard files', () => {
    it('serves the built files with their types, caching, gzip and ETags', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ff-dashboard-'));
      mkdirSync(join(dir, 'assets'));
      writeFileSync(
        join(dir, 'index.html'),
        '<!doctype html><title>x</title><script src="/assets/app-ABC.js"></script>',
      );
      const js = `console.log(${JSON.stringify('x'.repeat(2000))});`;
      writeFileSync(join(dir, 'assets', 'app-ABC.js'), js);
      const d = await startTestServer(['--dashboard-dir', dir], { store: kind });
      try {
        const index = await d.server.app.request('/');
        expect(index.status).toBe(200);
        expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(index.headers.get('cache-control')).toBe('no-cache');
        expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
        const etag = index.headers.get('etag')!;
        expect(
          (await d.server.app.request('/', { headers: { 'if-none-match': etag } })).status,
        ).toBe(304);
        const asset = await d.server.app.request('/assets/app-ABC.js', {
          headers: { 'accept-encoding': 'gzip, br' },
        });
        expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
        expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(asset.headers.get('content-encoding')).toBe('gzip');
        expect(Number(asset.headers.get('content-length'))).toBeLessThan(js.length / 5);
        const plain = await d.server.app.request('/assets/app-ABC.js');
        expect(await plain.text()).toBe(js);
        expect((await d.server.app.request('/assets/../index.html')).status).not.toBe(500);
        expect((await d.server.app.request('/nope.js')).status).toBe(404);
      } finally {
        await d.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('still runs the API without a built dashboard, and says so at /', async () => {
      const res = await t.server.app.request('/');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('pnpm -F @facefleet/dashboard build');
      expect((await t.api('GET', '/api/v1/devices')).status).toBe(200);
    });
  });
});
