import { idRule, isValidId } from '@facefleet/protocol';
import { z } from 'zod';
import { ROLES } from '../../auth/api-tokens.js';
import { ApiError } from '../../errors.js';
import type { AppDeps, Registrar } from '../app.js';
import { jsonBody, requireRole } from '../http.js';

const tokenBody = z.strictObject({ role: z.enum(ROLES), name: z.string().min(1).max(64) });
const subscriberBody = z.strictObject({
  name: z.string().refine(isValidId, `subscriber name ${idRule}`),
});

export function adminRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  doc({
    method: 'post',
    path: '/api/v1/tokens',
    summary: 'Create an API token (shown once)',
    tag: 'admin',
    auth: 'admin',
    body: tokenBody,
    ok: [201, 'The token'],
  });
  app.post('/api/v1/tokens', async (c) => {
    requireRole(c, 'admin');
    const body = await jsonBody(c, tokenBody);
    const { id, token } = await deps.tokens.create(body.role, body.name);
    return c.json({ id, role: body.role, name: body.name, token }, 201);
  });

  doc({
    method: 'get',
    path: '/api/v1/tokens',
    summary: 'List API tokens (never their secrets)',
    tag: 'admin',
    auth: 'admin',
  });
  app.get('/api/v1/tokens', async (c) => {
    requireRole(c, 'admin');
    return c.json({ tokens: await deps.tokens.list() });
  });

  doc({
    method: 'delete',
    path: '/api/v1/tokens/:id',
    summary: 'Revoke an API token',
    tag: 'admin',
    auth: 'admin',
  });
  app.delete('/api/v1/tokens/:id', async (c) => {
    requireRole(c, 'admin');
    const id = c.req.param('id');
    if (!(await deps.tokens.revoke(id))) throw new ApiError(404, 'not_found', `no token ${id}`);
    return c.json({ deleted: id });
  });

  doc({
    method: 'post',
    path: '/api/v1/subscribers',
    summary:
      'Create read-only MQTT credentials for alerts and face counts (mosquitto_sub, Node-RED, Home Assistant)',
    tag: 'admin',
    auth: 'admin',
    body: subscriberBody,
    ok: [201, 'The MQTT username and password (shown once)'],
  });
  app.post('/api/v1/subscribers', async (c) => {
    requireRole(c, 'admin');
    const { name } = await jsonBody(c, subscriberBody);
    const { username, password } = await deps.subscribers.create(name);
    return c.json(
      {
        username,
        password,
        topics: ['facefleet/v1/alerts/#', 'facefleet/v1/devices/+/faces'],
      },
      201,
    );
  });

  doc({
    method: 'delete',
    path: '/api/v1/subscribers/:name',
    summary: 'Revoke subscriber credentials (their open MQTT sessions are closed)',
    tag: 'admin',
    auth: 'admin',
  });
  app.delete('/api/v1/subscribers/:name', async (c) => {
    requireRole(c, 'admin');
    const name = c.req.param('name');
    const { warning } = await deps.subscribers.revoke(name);
    return c.json(warning ? { deleted: name, warning } : { deleted: name });
  });
}
