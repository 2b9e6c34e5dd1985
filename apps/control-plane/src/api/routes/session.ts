import {
  ALERT_KINDS,
  DEVICE_CLASSES,
  ENGINE_FORMATS,
  MODEL_CARD_FPS,
  RUNNER_BACKENDS,
  RUNNER_MODELS,
  SEVERITIES,
} from '@facefleet/protocol';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { ROLES } from '../../auth/api-tokens.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../../auth/sessions.js';
import { ApiError } from '../../errors.js';
import type { AppDeps, Registrar } from '../app.js';
import { type Env, jsonBody, requireRole } from '../http.js';
import { ENGINE_PRECISIONS } from './engines.js';

const signInBody = z.strictObject({ token: z.string().min(1).max(512) });

/** Secure cookies only over HTTPS (directly or behind a proxy that says so): plain-HTTP localhost works. */
function isHttps(c: Context<Env>): boolean {
  return (
    new URL(c.req.url).protocol === 'https:' ||
    c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https'
  );
}

export function sessionRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  doc({
    method: 'post',
    path: '/api/v1/session',
    summary:
      'Sign in with an API token: sets an HttpOnly session cookie (for the dashboard and its event stream)',
    tag: 'session',
    auth: 'public',
    body: signInBody,
    ok: [200, 'Who signed in, with which role, until when'],
  });
  app.post('/api/v1/session', async (c) => {
    // Only the dashboard's own script can set this header (no cross-site sign-in into another account).
    if (!c.req.header(CSRF_HEADER)) {
      throw new ApiError(403, 'forbidden', `sign-in must carry the ${CSRF_HEADER} header`);
    }
    const { token } = await jsonBody(c, signInBody);
    const verified = await deps.tokens.verify(token.trim());
    if (!verified) {
      throw new ApiError(401, 'unauthorized', 'token: not a valid API token', [
        { path: 'token', message: 'not a valid API token' },
      ]);
    }
    const session = deps.sessions.issue(verified.id);
    setCookie(c, SESSION_COOKIE, session.value, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(c),
      path: '/',
      maxAge: deps.sessions.ttlS,
    });
    deps.log.info({ tokenId: verified.id, role: verified.role }, 'dashboard sign-in');
    return c.json({
      principal: { name: verified.name, role: verified.role },
      expiresAt: session.expiresAt,
      csrfHeader: CSRF_HEADER,
    });
  });

  doc({
    method: 'get',
    path: '/api/v1/session',
    summary: 'Who is signed in (session cookie or bearer token), and until when',
    tag: 'session',
    auth: 'viewer',
  });
  app.get('/api/v1/session', (c) => {
    const p = requireRole(c, 'viewer');
    return c.json({
      principal: { name: p.name, role: p.role },
      expiresAt: p.sessionExpiresAt ?? null,
      csrfHeader: CSRF_HEADER,
    });
  });

  doc({
    method: 'delete',
    path: '/api/v1/session',
    summary: 'Sign out: clears the session cookie',
    tag: 'session',
    auth: 'public',
  });
  app.delete('/api/v1/session', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
    return c.json({ signedOut: true });
  });

  doc({
    method: 'get',
    path: '/api/v1/meta',
    summary:
      'What the API accepts (device classes, alert kinds, engine fields, roles) and the model-card FPS per class',
    tag: 'session',
    auth: 'viewer',
  });
  app.get('/api/v1/meta', (c) => {
    requireRole(c, 'viewer');
    return c.json({
      deviceClasses: DEVICE_CLASSES,
      modelCardFps: MODEL_CARD_FPS,
      alertKinds: ALERT_KINDS,
      severities: SEVERITIES,
      roles: ROLES,
      engine: {
        models: RUNNER_MODELS,
        backends: RUNNER_BACKENDS,
        formats: ENGINE_FORMATS,
        precisions: ENGINE_PRECISIONS,
      },
    });
  });
}
