import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { facesMessage, topics } from '@facefleet/protocol';
import { createPostgresDatabase, type Mosquitto, startMosquitto } from '@facefleet/test-support';
import type { APIGatewayProxyResult } from 'hono/aws-lambda';
import { handle } from 'hono/aws-lambda';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiTokens } from './auth/api-tokens.js';
import { createSecrets, loadOrCreateKey } from './auth/secrets.js';
import { loadConfig } from './config.js';
import { signDelivery } from './ingest/signature.js';
import { createLambdaHandler } from './lambda.js';
import { createServerlessApp, type ServerlessApp } from './serverless.js';

const SECRET = 'a-shared-ingest-secret-of-32-chars-or-more';

/** An API Gateway HTTP API (payload format 2.0) event, as AWS hands it to the function. */
function apiEvent(
  method: string,
  path: string,
  options: { token?: string; body?: string; headers?: Record<string, string>; query?: string } = {},
) {
  const headers: Record<string, string> = { host: 'api.example.com', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: options.query ?? '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' },
      requestId: `r-${Math.random()}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: options.body,
    isBase64Encoded: false,
  };
}

describe('the serverless entry', () => {
  let mosquitto: Mosquitto;
  let built: ServerlessApp;
  let invoke: (event: ReturnType<typeof apiEvent>) => Promise<APIGatewayProxyResult>;
  let admin: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-serverless-'));

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    const config = loadConfig({
      argv: [],
      env: {
        FACEFLEET_STORE: createPostgresDatabase(inject('postgresUrl')),
        FACEFLEET_BROKER: mosquitto.url,
        FACEFLEET_DATA_DIR: dataDir,
        FACEFLEET_INGEST_HTTP_SECRET: SECRET,
      },
    });
    let builds = 0;
    const handler = createLambdaHandler(async () => {
      builds++;
      built = await createServerlessApp({ config, log: pino({ level: 'silent' }) });
      return handle(built.app);
    });
    invoke = async (event) => {
      const res = (await handler(event as never)) as APIGatewayProxyResult;
      expect(builds).toBe(1); // built once, reused by every invocation
      return res;
    };
    // An operator token, as `facefleet-server token create` makes one against the same store.
    await invoke(apiEvent('GET', '/healthz'));
    const secrets = createSecrets(loadOrCreateKey(config.auth.tokenKeyFile, 'token key'));
    admin = (await createApiTokens(built.store, secrets).create('admin', 'ops')).token;
  });
  afterAll(async () => {
    await built?.close();
    await mosquitto?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers API Gateway v2 events: refuses without a token, reads and writes with one', async () => {
    expect((await invoke(apiEvent('GET', '/api/v1/devices'))).statusCode).toBe(401);
    expect(
      (
        await invoke(
          apiEvent('GET', '/api/v1/devices', { token: 'ff_0123456789abcdef_wrongwrongwrongwrong' }),
        )
      ).statusCode,
    ).toBe(401);
    const enrolled = await invoke(
      apiEvent('POST', '/api/v1/devices', {
        token: admin,
        body: JSON.stringify({ id: 'fn-cam', deviceClass: 'jetson-nano', tags: ['roof'] }),
      }),
    );
    expect(enrolled.statusCode).toBe(201);
    const read = await invoke(apiEvent('GET', '/api/v1/devices/fn-cam', { token: admin }));
    expect(read.statusCode).toBe(200);
    expect(JSON.parse(read.body)).toMatchObject({ device: { id: 'fn-cam', tags: ['roof'] } });
    const listed = await invoke(
      apiEvent('GET', '/api/v1/devices', { token: admin, query: 'tag=roof' }),
    );
    expect(JSON.parse(listed.body).devices).toHaveLength(1);
  });

  describe('HTTP ingest', () => {
    const post = (body: string, headers: Record<string, string>) =>
      invoke(apiEvent('POST', '/api/v1/ingest', { body, headers }));
    const signed = (body: string, ts = Date.now()) => ({
      'x-facefleet-timestamp': String(ts),
      'x-facefleet-signature': signDelivery(SECRET, ts, body),
    });
    const delivery = (seqs: number[], deviceId = 'fn-cam') =>
      JSON.stringify({
        messages: seqs.map((seq) => ({
          topic: topics.faces(deviceId),
          payload: facesMessage(deviceId, seq),
        })),
      });
    const stored = async () =>
      (
        await built.store.telemetry.faceBuckets('fn-cam', 0, Date.now() + 86_400_000, 86_400_000)
      ).reduce((n, b) => n + b.windows, 0);

    it('stores a signed batch and answers only after the commit, one result per message', async () => {
      const heard: string[] = [];
      const stop = built.store.bus.subscribe((m) => heard.push(m));
      const body = delivery([1, 2, 3]);
      const res = await post(body, signed(body));
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body).results).toEqual([
        { status: 'stored' },
        { status: 'stored' },
        { status: 'stored' },
      ]);
      expect(await stored()).toBe(3);
      // …and the long-running instances hear of the batch on the store's bus.
      await expect.poll(() => heard.some((m) => m.includes('"t":"batch"'))).toBe(true);
      stop();
    });

    it('refuses unsigned, tampered and stale deliveries with 401 and stores nothing of them', async () => {
      const body = delivery([10]);
      expect((await post(body, {})).statusCode).toBe(401);
      const headers = signed(body);
      expect((await post(delivery([11]), headers)).statusCode).toBe(401); // another body
      expect(
        (await post(body, { ...headers, 'x-facefleet-timestamp': String(Date.now() + 1) }))
          .statusCode,
      ).toBe(401);
      const old = Date.now() - 600_000;
      expect((await post(body, signed(body, old))).statusCode).toBe(401);
      expect(await stored()).toBe(3);
    });

    it('stores a replayed delivery once (idempotent on device and seq)', async () => {
      const body = delivery([20, 21]);
      const headers = signed(body);
      expect(JSON.parse((await post(body, headers)).body).results).toEqual([
        { status: 'stored' },
        { status: 'stored' },
      ]);
      const again = await post(body, headers);
      expect(again.statusCode).toBe(200);
      expect(JSON.parse(again.body).results).toEqual([
        { status: 'duplicate' },
        { status: 'duplicate' },
      ]);
      expect(await stored()).toBe(5);
    });

    it('refuses, per message, what MQTT ingest refuses: unknown devices, wrong topics, bad payloads', async () => {
      const body = JSON.stringify({
        messages: [
          { topic: topics.faces('stranger'), payload: facesMessage('stranger', 1) },
          { topic: topics.faces('fn-cam'), payload: facesMessage('other', 30) },
          { topic: topics.faces('fn-cam'), payload: '{"v":1}' },
          { topic: topics.faces('fn-cam'), payload: JSON.stringify(facesMessage('fn-cam', 31)) },
        ],
      });
      const res = await post(body, signed(body));
      expect(res.statusCode).toBe(200);
      expect(
        (JSON.parse(res.body).results as { status: string; reason?: string }[]).map(
          (r) => r.reason ?? r.status,
        ),
      ).toEqual(['unknown_device', 'device_mismatch', 'invalid_payload', 'stored']);
    });
  });
});
