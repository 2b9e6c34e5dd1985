import {
  ALERT_KINDS,
  DEVICE_CLASSES,
  ENGINE_FORMATS,
  MODEL_CARD_FPS,
  RUNNER_BACKENDS,
  RUNNER_MODELS,
  SEVERITIES,
} from '@facefleet/protocol';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { ROLES } from '../../auth/api-tokens.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../../auth/sessions.js';
import { ApiError } from '../../errors.js';
import { refuseIfThrottled } from '../authenticate.js';
import type { AppDeps } from '../deps.js';
import { clientAddress, type Env, requireRole } from '../http.js';
import { doc } from '../openapi.js';
import { jsonBody } from '../validate.js';
import { ENGINE_PRECISIONS } from './engines.js';

const signInBody = z.strictObject({ token: z.string().min(1).max(512) });

/** Secure cookies only over HTTPS (directly or behind a proxy that says so): plain-HTTP localhost works. */
function isHttps(c: Context<Env>): boolean {
  return (
    new URL(c.req.url).protocol === 'https:' ||
    c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https'
  );
}

/** Only the dashboard's own script can set this header (no cross-site sign-in into another account). */
const fromDashboard: MiddlewareHandler<Env> = async (c, next) => {
  if (!c.req.header(CSRF_HEADER)) {
    throw new ApiError('forbidden', `sign-in must carry the ${CSRF_HEADER} header`);
  }
  await next();
};

/** Dashboard sign-in (a session cookie) and what the API accepts; mounted at `/api/v1`. */
export function sessionRoutes({
  tokens,
  sessions,
  store,
  throttle,
  telemetry,
  log,
}: Pick<AppDeps, 'tokens' | 'sessions' | 'store' | 'throttle' | 'telemetry' | 'log'>) {
  return new Hono<Env>()
    .post(
      '/session',
      doc({
        summary:
          'Sign in with an API token: sets an HttpOnly session cookie (for the dashboard and its event stream)',
        tag: 'session',
        auth: 'public',
        ok: [200, 'Who signed in, with which role, until when'],
      }),
      fromDashboard,
      jsonBody(signInBody),
      async (c) => {
        const { token } = c.req.valid('json');
        const address = clientAddress(c);
        refuseIfThrottled({ throttle, telemetry }, address);
        const verified = await tokens.verify(token.trim());
        if (!verified) {
          if (address !== null) throttle.failed(address);
          throw new ApiError('unauthorized', 'token: not a valid API token', {
            details: [{ path: 'token', message: 'not a valid API token' }],
          });
        }
        const session = sessions.issue(verified.id);
        setCookie(c, SESSION_COOKIE, session.value, {
          httpOnly: true,
          sameSite: 'Strict',
          secure: isHttps(c),
          path: '/',
          maxAge: sessions.ttlS,
        });
        log.info({ tokenId: verified.id, role: verified.role }, 'dashboard sign-in');
        return c.json({
          principal: { name: verified.name, role: verified.role },
          expiresAt: session.expiresAt,
          csrfHeader: CSRF_HEADER,
        });
      },
    )
    .get(
      '/session',
      doc({
        summary: 'Who is signed in (session cookie or bearer token), and until when',
        tag: 'session',
        auth: 'viewer',
      }),
      (c) => {
        const p = requireRole(c, 'viewer');
        return c.json({
          principal: { name: p.name, role: p.role },
          expiresAt: p.sessionExpiresAt ?? null,
          csrfHeader: CSRF_HEADER,
        });
      },
    )
    .delete(
      '/session',
      doc({
        summary:
          'Sign out: ends the session (its cookie is refused from now on) and clears the cookie',
        tag: 'session',
        auth: 'public',
      }),
      async (c) => {
        const cookie = getCookie(c, SESSION_COOKIE);
        const claims = cookie ? sessions.verify(cookie) : undefined;
        // Recorded until it would have expired: a copy of the cookie is refused everywhere.
        if (claims) await store.credentials.revokeSession(claims.sessionId, claims.expiresAt);
        deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
        return c.json({ signedOut: true });
      },
    )
    .get(
      '/meta',
      doc({
        summary:
          'What the API accepts (device classes, alert kinds, engine fields, roles) and the model-card FPS per class',
        tag: 'session',
        auth: 'viewer',
      }),
      (c) =>
        c.json({
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
        }),
    );
}
