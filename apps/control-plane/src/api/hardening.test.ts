import { topics } from '@facefleet/protocol';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CSRF_HEADER } from '../auth/sessions.js';
import {
  connectClient,
  facesMessage,
  startTestServer,
  type TestServer,
  waitFor,
} from '../testing.js';

/**
 * The HTTP side of issue 17's findings, over a real port (the client's address is what failed
 * logins are counted by): event streams of revoked tokens, sign-out, failed-login throttling,
 * what an anonymous caller can make the server read, stream limits, /metrics, Authorization.
 */
describe('API hardening (issue 17)', () => {
  let t: TestServer;
  let base: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestServer([
      // heartbeats far apart: a busy stream is re-checked only by the recheck interval
      '--live-heartbeat-ms',
      '300000',
      '--live-flush-ms',
      '20',
      '--live-recheck-ms',
      '200',
      '--live-max-streams-per-token',
      '2',
    ]);
    base = `http://127.0.0.1:${t.server.ports.http}`;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await t?.close();
  });

  const newToken = async (role: 'viewer' | 'operator') =>
    (await (
      await t.api('POST', '/api/v1/tokens', { body: { role, name: `${role} x` } })
    ).json()) as {
      id: string;
      token: string;
    };

  /** Opens the event stream; collects the names of the events it sends until it ends. */
  async function openStream(headers: Record<string, string>) {
    const ac = new AbortController();
    const res = await fetch(`${base}/api/v1/events`, { headers, signal: ac.signal });
    const named: string[] = [];
    let ended = false;
    const done = (async () => {
      if (!res.body) return;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) break;
        for (const m of decoder.decode(value).matchAll(/^event: (.*)$/gm)) named.push(m[1]!);
      }
      ended = true;
    })();
    return { res, named, done, ended: () => ended, close: () => ac.abort() };
  }

  it('finding 1: a busy event stream of a revoked token ends within the recheck interval', async () => {
    const device = await t.enroll('busy-1');
    const cam = await connectClient(t.mqttUrl, {
      username: 'busy-1',
      password: device,
      clientId: 'busy-1',
    });
    clients.push(cam);
    const viewer = await newToken('viewer');
    const s = await openStream({ authorization: `Bearer ${viewer.token}` });
    expect(s.res.status).toBe(200);
    await waitFor(() => s.named.includes('hello'), 5000, 'hello');
    let seq = 1;
    const publish = () =>
      cam.publishAsync(topics.faces('busy-1'), JSON.stringify(facesMessage('busy-1', seq++)), {
        qos: 1,
      });
    await waitFor(
      async () => {
        await publish();
        return s.named.includes('faces');
      },
      5000,
      'face events flowing',
    );
    expect((await t.api('DELETE', `/api/v1/tokens/${viewer.id}`)).status).toBe(200);
    // events keep flowing (no idle heartbeat comes for 300 s), yet the stream ends
    await waitFor(
      async () => {
        await publish();
        return s.ended();
      },
      10_000,
      'the stream to end',
    );
    expect(s.named.at(-1)).toBe('signed-out');
  });

  it('finding 12: signing out ends the session, not only the cookie in that browser', async () => {
    const { token } = await newToken('viewer');
    const signIn = await fetch(`${base}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
      body: JSON.stringify({ token }),
    });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const second = await fetch(`${base}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
      body: JSON.stringify({ token }),
    });
    const otherCookie = (second.headers.get('set-cookie') ?? '').split(';')[0]!;
    const whoAmI = (c: string) => fetch(`${base}/api/v1/session`, { headers: { cookie: c } });
    expect((await whoAmI(cookie)).status).toBe(200);
    const out = await fetch(`${base}/api/v1/session`, {
      method: 'DELETE',
      headers: { cookie, [CSRF_HEADER]: '1' },
    });
    expect(out.status).toBe(200);
    // a copy of the cookie kept elsewhere no longer works; another sign-in of the token does
    expect((await whoAmI(cookie)).status).toBe(401);
    expect((await whoAmI(otherCookie)).status).toBe(200);
  });

  it('finding 13: an anonymous caller cannot make the server read more than 16 KiB', async () => {
    const big = JSON.stringify({ token: 'x'.repeat(1024 * 1024) });
    const signIn = (
      body: string | ReadableStream<Uint8Array>,
      headers: Record<string, string> = {},
    ) =>
      fetch(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1', ...headers },
        body,
        duplex: 'half',
      } as RequestInit);
    expect((await signIn(big)).status).toBe(413);
    // the same without a length, in chunks: read up to the cap, then refused
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 64; i++)
          controller.enqueue(new TextEncoder().encode('x'.repeat(16384)));
        controller.close();
      },
    });
    expect((await signIn(chunks)).status).toBe(413);
    // a route that needs a token refuses a big body before reading it too
    const rule = await fetch(`${base}/api/v1/alert-rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(rule.status).toBe(413);
  });

  it('finding 13: one token holds a bounded number of event streams, the refusals counted', async () => {
    const viewer = await newToken('viewer');
    const headers = { authorization: `Bearer ${viewer.token}` };
    const open = [await openStream(headers), await openStream(headers)];
    for (const s of open) expect(s.res.status).toBe(200);
    const third = await openStream(headers);
    expect(third.res.status).toBe(429);
    expect(t.server.telemetry.sessionsRefused.get({ reason: 'live_streams' })).toBe(1);
    // another token is not held back by this one's
    const other = await openStream({ authorization: `Bearer ${t.admin}` });
    expect(other.res.status).toBe(200);
    for (const s of [...open, other]) s.close();
  });

  it('finding 13: /metrics needs a token', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const { token } = await newToken('viewer');
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('facefleet_login_throttled_total');
  });

  it('finding 15: a bucket of 400 digits is refused, not read as Infinity', async () => {
    await t.enroll('bucket-1');
    const series = (bucket: string) =>
      t.api('GET', `/api/v1/devices/bucket-1/faces?bucket=${bucket}`);
    expect((await series('60s')).status).toBe(200);
    for (const bucket of [`${'9'.repeat(400)}s`, '9999999999999d', '0s', '367d']) {
      const res = await series(bucket);
      expect(res.status, bucket).toBe(400);
      expect(
        ((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path,
      ).toBe('bucket');
    }
  });

  it('finding 15: MQTT over WebSocket refuses pages of other sites (Origin), not devices', async () => {
    const url = `ws://127.0.0.1:${t.server.ports.ws}`;
    const upgrade = (origin?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, 'mqtt', origin ? { origin } : {});
        ws.once('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('error', () => {});
      });
    expect(await upgrade('https://evil.example')).toBe(403);
    expect(t.server.telemetry.rejected.get({ reason: 'ws_origin' })).toBe(1);
    expect(await upgrade()).toBe(101);
    // and a device logs in over it as over TCP
    const token = await t.enroll('ws-1');
    const c = await connectClient(url, { username: 'ws-1', password: token, clientId: 'ws-1' });
    await c.endAsync();
    // an origin the operator allows
    const allowing = await startTestServer([
      '--mqtt-ws-allowed-origins',
      'https://dashboard.example',
    ]);
    try {
      const other = `ws://127.0.0.1:${allowing.server.ports.ws}`;
      const open = (origin: string) =>
        new Promise<boolean>((resolve) => {
          const ws = new WebSocket(other, 'mqtt', { origin });
          ws.once('open', () => {
            ws.terminate();
            resolve(true);
          });
          ws.once('error', () => resolve(false));
        });
      expect(await open('https://dashboard.example')).toBe(true);
      expect(await open('https://evil.example')).toBe(false);
    } finally {
      await allowing.close();
    }
  });

  it('finding 15: an Authorization header with anything after the token is refused', async () => {
    const get = (authorization: string) =>
      fetch(`${base}/api/v1/devices`, { headers: { authorization } });
    expect((await get(`Bearer ${t.admin}`)).status).toBe(200);
    expect((await get(`Bearer ${t.admin} junk`)).status).toBe(401);
    expect((await get(`Bearer  ${t.admin}`)).status).toBe(401);
    expect((await get(`Bearer ${t.admin}\tjunk`)).status).toBe(401);
  });
});

describe('failed-login throttling over HTTP (issue 17, finding 6)', () => {
  it('refuses an address unchecked once it failed too often, counted in /metrics', async () => {
    const t = await startTestServer(['--max-failed-logins', '3']);
    try {
      const base = `http://127.0.0.1:${t.server.ports.http}`;
      const get = (token: string) =>
        fetch(`${base}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } });
      for (let i = 0; i < 3; i++)
        expect((await get(`ff_0123456789abcdef_guess${i}`)).status).toBe(401);
      // the right token too: the address is not checked any more for a while
      const refused = await get(t.admin);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // sign-in is throttled the same way
      const signIn = await fetch(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
        body: JSON.stringify({ token: t.admin }),
      });
      expect(signIn.status).toBe(429);
      expect(t.server.telemetry.loginThrottled.get({ transport: 'http' })).toBe(2);
      // in-process calls (app.request) have no address: not throttled
      expect((await t.api('GET', '/api/v1/devices')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
