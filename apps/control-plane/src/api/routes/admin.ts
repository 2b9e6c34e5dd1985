import { idRule, isValidId } from '@facefleet/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { ROLES } from '../../auth/api-tokens.js';
import { ApiError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import type { Env } from '../http.js';
import { doc } from '../openapi.js';
import { jsonBody } from '../validate.js';

const tokenBody = z.strictObject({ role: z.enum(ROLES), name: z.string().min(1).max(64) });
const subscriberBody = z.strictObject({
  name: z.string().refine(isValidId, `subscriber name ${idRule}`),
});

/** API tokens and MQTT subscriber credentials (admin only); mounted at `/api/v1`. */
export function adminRoutes({ tokens, subscribers }: Pick<AppDeps, 'tokens' | 'subscribers'>) {
  return new Hono<Env>()
    .post(
      '/tokens',
      doc({
        summary: 'Create an API token (shown once)',
        tag: 'admin',
        auth: 'admin',
        ok: [201, 'The token'],
      }),
      jsonBody(tokenBody),
      async (c) => {
        const body = c.req.valid('json');
        const { id, token } = await tokens.create(body.role, body.name);
        return c.json({ id, role: body.role, name: body.name, token }, 201);
      },
    )
    .get(
      '/tokens',
      doc({ summary: 'List API tokens (never their secrets)', tag: 'admin', auth: 'admin' }),
      async (c) => c.json({ tokens: await tokens.list() }),
    )
    .delete(
      '/tokens/:id',
      doc({ summary: 'Revoke an API token', tag: 'admin', auth: 'admin' }),
      async (c) => {
        const id = c.req.param('id');
        if (!(await tokens.revoke(id))) throw new ApiError('not_found', `no token ${id}`);
        return c.json({ deleted: id });
      },
    )
    .post(
      '/subscribers',
      doc({
        summary:
          'Create read-only MQTT credentials for alerts, face counts, status, metrics and Home Assistant discovery (mosquitto_sub, Node-RED, Home Assistant)',
        tag: 'admin',
        auth: 'admin',
        ok: [201, 'The MQTT username and password (shown once)'],
      }),
      jsonBody(subscriberBody),
      async (c) => {
        const { name } = c.req.valid('json');
        const { username, password } = await subscribers.create(name);
        return c.json(
          {
            username,
            password,
            topics: ['facefleet/v1/alerts/#', 'facefleet/v1/devices/+/faces'],
          },
          201,
        );
      },
    )
    .delete(
      '/subscribers/:name',
      doc({
        summary: 'Revoke subscriber credentials (their open MQTT sessions are closed)',
        tag: 'admin',
        auth: 'admin',
      }),
      async (c) => {
        const name = c.req.param('name');
        const { warning } = await subscribers.revoke(name);
        return c.json(warning ? { deleted: name, warning } : { deleted: name });
      },
    );
}
