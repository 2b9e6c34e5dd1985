import { idRule, isValidId, subscriberUsername } from '@facefleet/protocol';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { ROLES } from '../../auth/api-tokens.js';
import { hashSecret, newSecret } from '../../auth/secrets.js';
import { apiTokens, subscriberTokens } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
import type { AppDeps, Registrar } from '../app.js';
import { brokerApiError, jsonBody, requireRole, revokeOrWarn } from '../http.js';

const tokenBody = z.strictObject({ role: z.enum(ROLES), name: z.string().min(1).max(64) });
const subscriberBody = z.strictObject({
  name: z.string().refine(isValidId, `subscriber name ${idRule}`),
});

export function adminRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  const { db } = deps.database;

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
  app.get('/api/v1/tokens', (c) => {
    requireRole(c, 'admin');
    return c.json({
      tokens: db
        .select({
          id: apiTokens.id,
          name: apiTokens.name,
          role: apiTokens.role,
          createdAt: apiTokens.createdAt,
        })
        .from(apiTokens)
        .all(),
    });
  });

  doc({
    method: 'delete',
    path: '/api/v1/tokens/:id',
    summary: 'Revoke an API token',
    tag: 'admin',
    auth: 'admin',
  });
  app.delete('/api/v1/tokens/:id', (c) => {
    requireRole(c, 'admin');
    const id = c.req.param('id');
    if (!deps.tokens.revoke(id)) throw new ApiError(404, 'not_found', `no token ${id}`);
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
    const token = newSecret();
    const hash = await hashSecret(token);
    const before = db
      .select({ hash: subscriberTokens.hash })
      .from(subscriberTokens)
      .where(eq(subscriberTokens.name, name))
      .get();
    db.insert(subscriberTokens)
      .values({ name, hash, createdAt: Date.now() })
      .onConflictDoUpdate({ target: subscriberTokens.name, set: { hash } })
      .run();
    deps.cache.forget(`subscriber@${name}`);
    try {
      // Re-creating credentials of a name replaces them: sessions with the old password close.
      await deps.credentials.issue({ kind: 'subscriber', name }, token);
    } catch (err) {
      if (before) {
        db.update(subscriberTokens)
          .set({ hash: before.hash })
          .where(eq(subscriberTokens.name, name))
          .run();
      } else db.delete(subscriberTokens).where(eq(subscriberTokens.name, name)).run();
      deps.cache.forget(`subscriber@${name}`);
      throw brokerApiError(err, `credentials for ${name} were not created`);
    }
    return c.json(
      {
        username: subscriberUsername(name),
        password: token,
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
    if (db.delete(subscriberTokens).where(eq(subscriberTokens.name, name)).run().changes === 0) {
      throw new ApiError(404, 'not_found', `no subscriber ${name}`);
    }
    deps.cache.forget(`subscriber@${name}`);
    const warning = await revokeOrWarn(deps, { kind: 'subscriber', name });
    return c.json(warning ? { deleted: name, warning } : { deleted: name });
  });
}
