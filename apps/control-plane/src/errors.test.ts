import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { ApiError, BrokerAdminError, EngineStoreError, ServiceError } from './errors.js';

describe('ApiError', () => {
  it('answers the error JSON with the status of its kind, even with no onError of the app', async () => {
    const app = new Hono().get('/x', () => {
      throw new ApiError('invalid_request', 'from: must be before to', {
        details: [{ path: 'from', message: 'must be before to' }],
      });
    });
    const res = await app.request('/x');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        code: 'invalid_request',
        message: 'from: must be before to',
        details: [{ path: 'from', message: 'must be before to' }],
      },
    });
  });

  it('tells a client on a 413 that the connection closes, and keeps headers it is given', () => {
    expect(new ApiError('too_large', 'too big').getResponse().headers.get('connection')).toBe(
      'close',
    );
    const range = new ApiError('range_not_satisfiable', 'range outside 0-9', {
      headers: { 'content-range': 'bytes */10' },
    });
    expect(range.status).toBe(416);
    expect(range.headers).toEqual({ 'content-range': 'bytes */10' });
  });

  it('maps a service refusal by its kind, naming the field first in the message', () => {
    const invalid = ApiError.from(
      new ServiceError(
        'invalid',
        'a TensorRT plan needs its TensorRT version',
        'trtVersion',
        'required',
      ),
    );
    expect(invalid?.status).toBe(400);
    expect(invalid?.body).toEqual({
      error: {
        code: 'invalid_request',
        message: 'trtVersion: a TensorRT plan needs its TensorRT version',
        details: [{ path: 'trtVersion', message: 'required' }],
      },
    });
    const missing = ApiError.from(new ServiceError('not_found', 'no rollout r1', 'id'));
    expect([missing?.status, missing?.code, missing?.message]).toEqual([
      404,
      'not_found',
      'no rollout r1',
    ]);
    expect(missing?.details).toEqual([{ path: 'id', message: 'no rollout r1' }]);
    const conflict = ApiError.from(new ServiceError('conflict', 'device d1 exists'));
    expect([conflict?.status, conflict?.code, conflict?.details]).toEqual([409, 'conflict', null]);
  });

  it('maps the broker admin and engine store refusals, and Hono’s own exceptions', () => {
    const statuses = (['conflict', 'unavailable', 'refused'] as const).map((code) => {
      const e = ApiError.from(new BrokerAdminError(code, 'no'));
      return [e?.code, e?.status];
    });
    expect(statuses).toEqual([
      ['broker_conflict', 409],
      ['broker_unavailable', 503],
      ['broker_refused', 502],
    ]);
    const engines = (['too_large', 'not_found', 'invalid'] as const).map((code) => {
      const e = ApiError.from(new EngineStoreError(code, 'no'));
      return [e?.code, e?.status];
    });
    expect(engines).toEqual([
      ['too_large', 413],
      ['not_found', 404],
      ['invalid', 400],
    ]);
    const hono = ApiError.from(new HTTPException(405, { message: '' }));
    expect([hono?.code, hono?.status, hono?.message]).toEqual(['http_405', 405, 'error']);
    expect(ApiError.from(new Error('a bug'))).toBeUndefined();
  });
});
