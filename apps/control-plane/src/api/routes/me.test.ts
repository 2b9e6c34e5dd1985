import { STORE_KINDS } from '@facefleet/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testing.js';

describe.each(STORE_KINDS)('me (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer([], { store: kind });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('GET /api/v1/me', () => {
    it('names the operator, its role and the broker ports', async () => {
      const viewer = await t.token('viewer');
      const res = await t.api('GET', '/api/v1/me', { token: viewer });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        kind: 'operator',
        role: 'viewer',
        name: 'viewer test',
        mqtt: { port: t.server.ports.mqtt },
      });
    });

    it('names a device that authenticates with HTTP Basic', async () => {
      const token = await t.enroll('me-cam');
      const basic = Buffer.from(`me-cam:${token}`).toString('base64');
      const res = await t.api('GET', '/api/v1/me', {
        token: null,
        headers: { authorization: `Basic ${basic}` },
      });
      expect(await res.json()).toMatchObject({ kind: 'device', deviceId: 'me-cam' });
    });

    it('answers 401 without a token and lists the route in the OpenAPI document', async () => {
      const res = await t.api('GET', '/api/v1/me', { token: null });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      const spec = (await (await t.api('GET', '/openapi.json', { token: null })).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(spec.paths)).toContain('/api/v1/me');
    });
  });
});
