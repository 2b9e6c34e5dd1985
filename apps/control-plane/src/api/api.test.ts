import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { engineSigningPayload } from '@facefleet/protocol';
import { STORE_KINDS } from '@facefleet/store/testing';
import { startControlPlane } from '@facefleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing.js';

describe.each(STORE_KINDS)('API (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer([], { store: kind });
  });
  afterAll(async () => {
    await t?.close();
  });

  type ErrorBody = {
    error: { code: string; message: string; details: { path: string; message: string }[] | null };
  };

  const engineQuery = (over: Record<string, string> = {}) =>
    new URLSearchParams({
      name: 'facenet nx int8',
      model: 'detectnet_v2',
      backend: 'tensorrt',
      format: 'plan',
      deviceClass: 'jetson-xavier-nx',
      trtVersion: '8.5.2',
      precision: 'int8',
      inputDims: '3,416,736',
      ...over,
    }).toString();

  describe('devices', () => {
    it('enrolls a device, shows its token once and never again', async () => {
      const res = await t.api('POST', '/api/v1/devices', {
        body: { id: 'cam-1', deviceClass: 'jetson-nano', tags: ['lobby'] },
      });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { token: string; device: Record<string, unknown> };
      expect(body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      expect(body.device).toMatchObject({
        id: 'cam-1',
        deviceClass: 'jetson-nano',
        tags: ['lobby'],
      });
      const shown = JSON.stringify(await (await t.api('GET', '/api/v1/devices/cam-1')).json());
      expect(shown).not.toContain(body.token);
      expect(shown).not.toContain('scrypt');
      const [row] = await t.sql<{ token_hash: string }>(
        'SELECT token_hash FROM devices WHERE id = ?',
        ['cam-1'],
      );
      if (!row) throw new Error('the device row is missing');
      expect(row.token_hash).toMatch(/^hmac-sha256\$[0-9a-f]{8}\$[\w-]{43}$/);
      expect(row.token_hash).not.toContain(body.token);
    });

    it('refuses a second enrollment of the same id with 409', async () => {
      await t.enroll('cam-dup');
      const res = await t.api('POST', '/api/v1/devices', {
        body: { id: 'cam-dup', deviceClass: 'jetson-nano' },
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as ErrorBody).error.details).toEqual([
        { path: 'id', message: 'already enrolled' },
      ]);
    });

    it('answers invalid bodies with JSON naming every wrong field', async () => {
      const res = await t.api('POST', '/api/v1/devices', {
        body: { id: 'bad/id', deviceClass: 'jetson-banana', colour: 'red' },
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('invalid_request');
      const paths = body.error.details!.map((d) => d.path).sort();
      expect(paths).toEqual(['colour', 'deviceClass', 'id']);
      expect(body.error.message).toContain('deviceClass');
    });

    it('answers a body that is not JSON with a named error', async () => {
      const res = await t.api('POST', '/api/v1/devices', {
        body: '{not json',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.details).toEqual([
        { path: '(body)', message: 'not JSON' },
      ]);
    });

    it('lists devices filtered by tag and class, and tags and deletes them', async () => {
      await t.enroll('cam-tag-a', 'jetson-agx-xavier', ['dock']);
      await t.enroll('cam-tag-b', 'jetson-nano', ['dock']);
      const list = async (q: string) =>
        (
          (await (await t.api('GET', `/api/v1/devices?${q}`)).json()) as {
            devices: { id: string }[];
          }
        ).devices.map((d) => d.id);
      expect(await list('tag=dock')).toEqual(['cam-tag-a', 'cam-tag-b']);
      expect(await list('tag=dock&class=jetson-nano')).toEqual(['cam-tag-b']);
      const retag = await t.api('PUT', '/api/v1/devices/cam-tag-b/tags', {
        body: { tags: ['gate'] },
      });
      expect(retag.status).toBe(200);
      expect(await list('tag=dock')).toEqual(['cam-tag-a']);
      expect((await t.api('DELETE', '/api/v1/devices/cam-tag-a')).status).toBe(200);
      expect((await t.api('GET', '/api/v1/devices/cam-tag-a')).status).toBe(404);
    });

    it('names the query field that is wrong', async () => {
      const res = await t.api('GET', '/api/v1/devices?status=sleeping');
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.details?.[0]?.path).toBe('status');
    });
  });

  describe('tokens and roles', () => {
    it('refuses requests without a token, and with a wrong one', async () => {
      expect((await t.api('GET', '/api/v1/devices', { token: null })).status).toBe(401);
      const res = await t.api('GET', '/api/v1/devices', {
        token: 'ff_0123456789abcdef_wrongwrongwrongwrongwrong',
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as ErrorBody).error.code).toBe('unauthorized');
    });

    it('counts refused requests in /metrics by reason', async () => {
      const failures = t.server.telemetry.httpAuthFailures;
      const before = Object.fromEntries(
        ['missing_token', 'invalid_token', 'forbidden'].map((r) => [
          r,
          failures.get({ reason: r }),
        ]),
      );
      await t.api('GET', '/api/v1/engines', { token: null });
      await t.api('GET', '/api/v1/engines', { token: 'ff_nope' });
      await t.api('GET', '/api/v1/engines', {
        token: null,
        headers: { authorization: 'Basic bm9ib2R5Ong=' },
      });
      await t.api('DELETE', '/api/v1/devices/x', { token: await t.token('viewer') });
      expect(failures.get({ reason: 'missing_token' })).toBe(before.missing_token! + 1);
      expect(failures.get({ reason: 'invalid_token' })).toBe(before.invalid_token! + 2);
      expect(failures.get({ reason: 'forbidden' })).toBe(before.forbidden! + 1);
      const text = await (await t.api('GET', '/metrics')).text();
      expect(text).toMatch(/facefleet_http_auth_failures_total\{reason="forbidden"\} [1-9]/);
    });

    it('lets a viewer read but not write', async () => {
      const viewer = await t.token('viewer');
      expect((await t.api('GET', '/api/v1/devices', { token: viewer })).status).toBe(200);
      const res = await t.api('POST', '/api/v1/devices', {
        token: viewer,
        body: { id: 'cam-viewer', deviceClass: 'jetson-nano' },
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as ErrorBody).error).toMatchObject({ code: 'forbidden' });
      expect((await t.api('GET', '/api/v1/devices/cam-viewer')).status).toBe(404);
      expect(
        (
          await t.api('POST', '/api/v1/alert-rules', {
            token: viewer,
            body: { id: 'r', kind: 'no_faces' },
          })
        ).status,
      ).toBe(403);
    });

    it('lets an operator edit rules but not enroll devices or mint tokens', async () => {
      const operator = await t.token('operator');
      const rule = await t.api('POST', '/api/v1/alert-rules', {
        token: operator,
        body: { id: 'crowd', kind: 'faces_above', threshold: 5, forS: 2 },
      });
      expect(rule.status).toBe(201);
      expect(
        (
          await t.api('POST', '/api/v1/devices', {
            token: operator,
            body: { id: 'cam-op', deviceClass: 'jetson-nano' },
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await t.api('POST', '/api/v1/tokens', {
            token: operator,
            body: { role: 'admin', name: 'x' },
          })
        ).status,
      ).toBe(403);
    });

    it('revokes a token so that it stops working at once', async () => {
      const res = await t.api('POST', '/api/v1/tokens', { body: { role: 'viewer', name: 'temp' } });
      const { id, token } = (await res.json()) as { id: string; token: string };
      expect((await t.api('GET', '/api/v1/devices', { token })).status).toBe(200);
      expect((await t.api('DELETE', `/api/v1/tokens/${id}`)).status).toBe(200);
      expect((await t.api('GET', '/api/v1/devices', { token })).status).toBe(401);
    });
  });

  describe('engines', () => {
    const blob = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251));
    let engineId: string;

    it('uploads an engine, hashes and signs it with the fleet key', async () => {
      const res = await t.api('POST', `/api/v1/engines?${engineQuery({ id: 'facenet-nx-1' })}`, {
        body: new Uint8Array(blob),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.status).toBe(201);
      const { engine } = (await res.json()) as {
        engine: Record<string, unknown> & { signature: string };
      };
      engineId = engine.id as string;
      expect(engine.sha256).toBe(createHash('sha256').update(blob).digest('hex'));
      expect(engine.size).toBe(blob.length);
      expect(engine.inputDims).toEqual([3, 416, 736]);
      const { publicKeyPem } = (await (
        await t.api('GET', '/api/v1/fleet/public-key', { token: null })
      ).json()) as { publicKeyPem: string };
      const payload = engineSigningPayload(engine as never);
      expect(
        verify(
          null,
          payload,
          createPublicKey(publicKeyPem),
          Buffer.from(engine.signature, 'base64'),
        ),
      ).toBe(true);
    });

    it('serves the blob to the device it is assigned to, with Range support; no other device gets it (issue 17, finding 15)', async () => {
      const token = await t.enroll('nx-dl', 'jetson-xavier-nx');
      const basic = `Basic ${Buffer.from(`nx-dl:${token}`).toString('base64')}`;
      // before it is assigned, not even a device of its class downloads it
      expect(
        (
          await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
            token: null,
            headers: { authorization: basic },
          })
        ).status,
      ).toBe(403);
      const rollout = await t.api('POST', '/api/v1/rollouts', {
        body: { engineId, selector: { deviceIds: ['nx-dl'] }, canaryShare: 0 },
      });
      expect(rollout.status).toBe(201);
      const whole = await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
        token: null,
        headers: { authorization: basic },
      });
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer()).equals(blob)).toBe(true);
      const part = await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
        token: null,
        headers: { authorization: basic, range: 'bytes=1000-1999' },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${blob.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(blob.subarray(1000, 2000))).toBe(true);
      const tail = await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
        token: null,
        headers: { authorization: basic, range: 'bytes=99990-' },
      });
      expect(Buffer.from(await tail.arrayBuffer()).equals(blob.subarray(99_990))).toBe(true);
      const outside = await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
        token: null,
        headers: { authorization: basic, range: 'bytes=200000-' },
      });
      expect(outside.status).toBe(416);
      const wrong = `Basic ${Buffer.from('nx-dl:not-the-token').toString('base64')}`;
      expect(
        (
          await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
            token: null,
            headers: { authorization: wrong },
          })
        ).status,
      ).toBe(401);
      for (const [id, cls] of [
        ['nano-dl', 'jetson-nano'],
        ['nx-other', 'jetson-xavier-nx'],
      ] as const) {
        const other = `Basic ${Buffer.from(`${id}:${await t.enroll(id, cls)}`).toString('base64')}`;
        expect(
          (
            await t.api('GET', `/api/v1/engines/${engineId}/blob`, {
              token: null,
              headers: { authorization: other },
            })
          ).status,
          id,
        ).toBe(403);
      }
    });

    it('records the DLA core an engine asks for in its signed manifest; refuses one for a class without DLA', async () => {
      const res = await t.api(
        'POST',
        `/api/v1/engines?${engineQuery({ id: 'facenet-nx-dla', dlaCore: '1' })}`,
        { body: new Uint8Array(blob), headers: { 'content-type': 'application/octet-stream' } },
      );
      expect(res.status).toBe(201);
      const { engine } = (await res.json()) as {
        engine: Record<string, unknown> & { signature: string };
      };
      expect(engine.dlaCore).toBe(1);
      const { publicKeyPem } = (await (
        await t.api('GET', '/api/v1/fleet/public-key', { token: null })
      ).json()) as { publicKeyPem: string };
      const key = createPublicKey(publicKeyPem);
      const sig = Buffer.from(engine.signature, 'base64');
      // the core is signed: the same manifest on another core (or on the GPU) does not verify
      expect(verify(null, engineSigningPayload(engine as never), key, sig)).toBe(true);
      expect(verify(null, engineSigningPayload({ ...engine, dlaCore: 0 } as never), key, sig)).toBe(
        false,
      );
      expect(
        verify(null, engineSigningPayload({ ...engine, dlaCore: null } as never), key, sig),
      ).toBe(false);
      for (const [deviceClass, message] of [
        ['jetson-nano', 'jetson-nano has no DLA (deep-learning accelerator)'],
        ['jetson-orin-nano', 'jetson-orin-nano has no DLA'],
      ] as const) {
        const refused = await t.api(
          'POST',
          `/api/v1/engines?${engineQuery({ id: `dla-${deviceClass}`, deviceClass, dlaCore: '0' })}`,
          { body: new Uint8Array([1, 2, 3]) },
        );
        expect(refused.status).toBe(400);
        const body = (await refused.json()) as ErrorBody;
        expect(body.error.message).toContain(message);
        expect(body.error.details?.map((d) => d.path)).toContain('dlaCore');
      }
    });

    it('refuses path traversal, look-alike and direction-changing characters in engine names and ids (issue 17, finding 15)', async () => {
      for (const [field, value] of [
        ['name', '../../etc/passwd'],
        ['name', 'a\\b'],
        ['id', '../x'],
        ['name', 'f\u0430cenet'], // Cyrillic а
        ['name', 'facenet\u202egpj.exe'], // right-to-left override
        ['name', 'face\u200bnet'], // zero-width space
        ['name', 'ｆacenet'], // fullwidth f
      ] as const) {
        const res = await t.api('POST', `/api/v1/engines?${engineQuery({ [field]: value })}`, {
          body: new Uint8Array([1, 2, 3]),
        });
        expect(res.status).toBe(400);
        expect(((await res.json()) as ErrorBody).error.details?.map((d) => d.path)).toContain(
          field,
        );
      }
    });

    it('refuses an engine over the size limit with 413 and keeps nothing', async () => {
      const small = await startTestServer(['--engine-max-bytes', '1000'], { store: kind });
      try {
        const res = await small.api('POST', `/api/v1/engines?${engineQuery()}`, {
          body: new Uint8Array(5000),
        });
        expect(res.status).toBe(413);
        const list = (await (await small.api('GET', '/api/v1/engines')).json()) as {
          engines: unknown[];
        };
        expect(list.engines).toHaveLength(0);
      } finally {
        await small.close();
      }
    });
    it('holds uploads to a quota of all engines, and deletes engines nothing needs, with their file (issue 17, finding 9)', async () => {
      const small = await startTestServer(['--engine-quota-bytes', '250000'], { store: kind });
      try {
        const upload = (id: string, fill: number) =>
          small.api('POST', `/api/v1/engines?${engineQuery({ id })}`, {
            body: new Uint8Array(100_000).fill(fill),
            headers: { 'content-type': 'application/octet-stream' },
          });
        const usage = async () =>
          (
            (await (await small.api('GET', '/api/v1/engines')).json()) as {
              usage: { usedBytes: number; quotaBytes: number };
            }
          ).usage;
        expect((await upload('q-a', 1)).status).toBe(201);
        const b = (await (await upload('q-b', 2)).json()) as { engine: { sha256: string } };
        expect(await usage()).toEqual({ usedBytes: 200_000, quotaBytes: 250_000 });
        const over = await upload('q-c', 3);
        expect(over.status).toBe(413);
        expect(((await over.json()) as ErrorBody).error.message).toMatch(/quota of 250000 bytes/);
        expect((await usage()).usedBytes).toBe(200_000);
        // in use by a rollout under way: kept, and the answer says by what
        await small.enroll('q-dev', 'jetson-xavier-nx');
        const ro = await small.api('POST', '/api/v1/rollouts', {
          body: { id: 'ro-q', engineId: 'q-a', selector: { deviceIds: ['q-dev'] }, canaryShare: 0 },
        });
        expect(ro.status).toBe(201);
        const busy = await small.api('DELETE', '/api/v1/engines/q-a');
        expect(busy.status).toBe(409);
        expect(((await busy.json()) as ErrorBody).error.message).toMatch(/ro-q/);
        expect(
          (await small.api('DELETE', '/api/v1/engines/q-b', { token: await small.token('viewer') }))
            .status,
        ).toBe(403);
        expect((await small.api('DELETE', '/api/v1/engines/q-b')).status).toBe(200);
        expect(existsSync(join(small.dataDir, 'engines', b.engine.sha256))).toBe(false);
        expect((await small.api('GET', '/api/v1/engines/q-b')).status).toBe(404);
        expect((await small.api('DELETE', '/api/v1/engines/q-b')).status).toBe(404);
        expect((await usage()).usedBytes).toBe(100_000);
        expect((await upload('q-c', 3)).status).toBe(201);
      } finally {
        await small.close();
      }
    });
  });

  describe('request bodies', () => {
    it('refuses a body over the limit with 413 and the error JSON, with or without a length', async () => {
      const small = await startTestServer(['--http-max-body-bytes', '1000'], { store: kind });
      try {
        const big = JSON.stringify({
          id: 'cam-big',
          deviceClass: 'jetson-nano',
          tags: ['x'.repeat(2000)],
        });
        const declared = await small.api('POST', '/api/v1/devices', {
          body: big,
          headers: { 'content-type': 'application/json' },
        });
        expect(declared.status).toBe(413);
        expect(((await declared.json()) as ErrorBody).error).toMatchObject({
          code: 'too_large',
          message: 'request body larger than 1000 bytes',
        });
        // chunked: no content-length to go by
        const bytes = new TextEncoder().encode(big);
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 100)
              controller.enqueue(bytes.subarray(i, i + 100));
            controller.close();
          },
        });
        const chunked = await small.server.app.request('/api/v1/devices', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${small.admin}`,
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
          },
          body: stream,
          duplex: 'half',
        } as RequestInit);
        expect(chunked.status).toBe(413);
        expect((await small.api('GET', '/api/v1/devices/cam-big')).status).toBe(404);
        // a body under the limit is read as before
        const ok = await small.api('POST', '/api/v1/devices', {
          body: { id: 'cam-small', deviceClass: 'jetson-nano' },
        });
        expect(ok.status).toBe(201);
        // engine uploads are not held to it: they stream under their own limit
        const engine = await small.api('POST', `/api/v1/engines?${engineQuery()}`, {
          body: new Uint8Array(5000),
        });
        expect(engine.status).toBe(201);
      } finally {
        await small.close();
      }
    });
  });

  describe('request bodies over a real socket', () => {
    it('a client still sending an oversize body gets its 413, every time (the server reads the rest before it closes)', async () => {
      // The built server in a process of its own: in this process the race does not show.
      const cp = await startControlPlane({
        // (on PostgreSQL it shares t's store: and t's token key, as instances sharing a store must)
        args: [
          '--store',
          kind === 'sqlite' ? ':memory:' : t.store,
          '--token-key-file',
          join(t.dataDir, 'token-key'),
        ],
      });
      try {
        const body = Buffer.alloc(9 * 1024 * 1024, 0x61);
        for (let i = 0; i < 5; i++) {
          const res = await fetch(`${cp.url}/api/v1/alert-rules`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${cp.adminToken || t.admin}`,
              'content-type': 'application/json',
            },
            body,
          });
          expect(res.status).toBe(413);
          expect(((await res.json()) as ErrorBody).error.code).toBe('too_large');
        }
      } finally {
        await cp.stop();
      }
    });

    it('a client reusing its connection after a 413 is not cut off on its next request', async () => {
      const small = await startTestServer(
        ['--http-max-body-bytes', '1000', '--engine-max-bytes', '100000'],
        { store: kind },
      );
      // one keep-alive connection, reused for every request, as fetch and browsers do
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const send = (method: string, path: string, chunks: number) =>
        new Promise<{ status: number; connection: string | undefined; body: string }>(
          (resolve, reject) => {
            const req = request(
              {
                agent,
                host: '127.0.0.1',
                port: small.server.ports.http,
                method,
                path,
                headers: {
                  authorization: `Bearer ${small.admin}`,
                  'content-type': 'application/json',
                  ...(chunks > 0 ? { 'transfer-encoding': 'chunked' } : {}),
                },
              },
              (res) => {
                let body = '';
                res.on('data', (b: Buffer) => {
                  body += b.toString();
                });
                res.on('end', () =>
                  resolve({
                    status: res.statusCode ?? 0,
                    connection: res.headers.connection,
                    body,
                  }),
                );
              },
            );
            req.on('error', reject);
            let sent = 0;
            const write = () => {
              if (sent === chunks || req.destroyed) return void req.end();
              sent++;
              if (req.write(Buffer.alloc(16 * 1024, 0x20))) setImmediate(write);
              else req.once('drain', write);
            };
            write();
          },
        );
      try {
        // a JSON body and an engine, both streamed (no length) far past their limits
        for (const path of ['/api/v1/alert-rules', `/api/v1/engines?${engineQuery()}`]) {
          const refused = await send('POST', path, 64);
          expect(refused.status, path).toBe(413);
          expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'too_large' } });
          // the server will not read the rest: it says it closes the connection
          expect(refused.connection, path).toBe('close');
          expect((await send('GET', '/api/v1/devices', 0)).status).toBe(200);
        }
      } finally {
        agent.destroy();
        await small.close();
      }
    });
  });

  describe('service endpoints', () => {
    it('describes every API route in OpenAPI 3 and serves the docs page', async () => {
      const spec = (await (await t.api('GET', '/openapi.json', { token: null })).json()) as {
        openapi: string;
        paths: Record<string, Record<string, { requestBody?: unknown }>>;
      };
      expect(spec.openapi).toMatch(/^3\./);
      expect(Object.keys(spec.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/devices',
          '/api/v1/devices/{id}/faces',
          '/api/v1/engines/{id}/blob',
          '/api/v1/rollouts',
          '/api/v1/fleet/fps',
        ]),
      );
      expect(spec.paths['/api/v1/devices']?.post?.requestBody).toBeDefined();
      // Every API route the app answers is in the document, with the body its validator checks.
      const routes = t.server.app.routes.filter(
        (r) => r.path.startsWith('/api/') && r.method !== 'ALL',
      );
      expect(routes.length).toBeGreaterThan(30);
      for (const r of routes) {
        const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
        expect(spec.paths[path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
      }
      for (const [method, path] of [
        ['post', '/api/v1/alert-rules'],
        ['post', '/api/v1/rollouts'],
        ['put', '/api/v1/devices/{id}/tags'],
        ['post', '/api/v1/tokens'],
        ['post', '/api/v1/session'],
      ] as const) {
        expect(spec.paths[path]?.[method]?.requestBody, `${method} ${path}`).toBeDefined();
      }
      // and the query parameters its query validator checks
      const faces = spec.paths['/api/v1/devices/{id}/faces']?.get as {
        parameters: { name: string; in: string }[];
      };
      expect(faces.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
        'path:id',
        'query:from',
        'query:to',
        'query:bucket',
        'query:camera',
      ]);
      const docs = await t.api('GET', '/docs', { token: null });
      expect(await docs.text()).toContain('/openapi.json');
    });

    it('answers /healthz and /metrics in Prometheus text', async () => {
      expect(
        ((await (await t.api('GET', '/healthz', { token: null })).json()) as { ok: boolean }).ok,
      ).toBe(true);
      const text = await (await t.api('GET', '/metrics')).text();
      expect(text).toContain('# TYPE facefleet_ingest_batch_commit_seconds histogram');
      expect(text).toMatch(/facefleet_connected_devices \d+/);
    });

    it('answers unknown routes with the error JSON', async () => {
      const res = await t.api('GET', '/api/v1/nothing');
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('not_found');
    });
  });
});
