import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { CSRF_HEADER, SESSION_COOKIE } from '../auth/sessions.js';
import { ApiError } from '../errors.js';
import { authenticateRequest, authenticateSession } from './authenticate.js';
import { dashboardRoutes } from './dashboard.js';
import type { AppDeps } from './deps.js';
import { clientAddress, type Env, requireRole } from './http.js';
import { lingerOnClose } from './linger.js';
import { DOCS_HTML, openApiDocument } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { alertRoutes } from './routes/alerts.js';
import { certificateRoutes } from './routes/certificates.js';
import { deviceRoutes } from './routes/devices.js';
import { engineRoutes } from './routes/engines.js';
import { fleetRoutes } from './routes/fleet.js';
import { ingestRoutes } from './routes/ingest.js';
import { liveRoutes } from './routes/live.js';
import { meRoutes } from './routes/me.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { sessionRoutes } from './routes/session.js';

export type { AppDeps } from './deps.js';

export const API_VERSION = '0.1.0';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The largest body read from a request that has not authenticated (sign-in's is ~100 bytes). */
export const ANONYMOUS_BODY_BYTES = 16 * 1024;
/**
 * The HTTP API as a Hono app, with no port of its own (tests call `app.request()`). Each route
 * module is a sub-app mounted here; their route types compose into the returned app's type
 * (`AppType`), which the CLI and the dashboard call through Hono's typed client.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono<Env>();

  // Every error answers `{ error: { code, message, details } }`: ApiError.from maps what the
  // services, the broker admin and the engine store throw; anything else is a bug (500, logged).
  app.onError((err, c) => {
    const error = ApiError.from(err);
    if (!error) {
      deps.log.error({ err, path: c.req.path }, 'unhandled API error');
      return c.json({ error: { code: 'internal', message: 'internal error', details: null } }, 500);
    }
    if (error.kind === 'unauthorized' || error.kind === 'forbidden') {
      const reason =
        error.kind === 'forbidden'
          ? 'forbidden'
          : c.req.header('authorization')
            ? 'invalid_token'
            : 'missing_token';
      deps.telemetry.httpAuthFailures.inc({ reason });
    }
    // An answer before the body was read: let the client finish sending, then close.
    if (error.status === 413)
      lingerOnClose((c.env as { incoming?: IncomingMessage } | undefined)?.incoming);
    return c.json(error.body, error.status, error.headers);
  });
  app.notFound((c) => {
    const error = new ApiError('not_found', `no route ${c.req.method} ${c.req.path}`);
    return c.json(error.body, error.status);
  });

  app.use('*', async (c, next) => {
    if (!c.req.path.startsWith('/api/') && c.req.path !== '/metrics') return next();
    const header = c.req.header('authorization');
    let principal = await authenticateRequest(header, deps, clientAddress(c));
    if (!header) {
      const cookie = getCookie(c, SESSION_COOKIE);
      principal = cookie ? await authenticateSession(cookie, deps) : undefined;
      // A signed-in browser's request that changes something must prove it came from the
      // dashboard's own script (see auth/sessions.ts).
      if (principal && !SAFE_METHODS.has(c.req.method) && !c.req.header(CSRF_HEADER)) {
        throw new ApiError(
          'forbidden',
          `a request signed in by cookie must carry the ${CSRF_HEADER} header`,
        );
      }
    }
    c.set('principal', principal);
    await next();
  });
  // Bodies are read whole (JSON): cap them. Engine uploads stream to disk under their own limit.
  // Before a caller has proved who it is (sign-in, or a route that will answer 401), a body is
  // read only up to ANONYMOUS_BODY_BYTES: nobody makes the server parse megabytes unsigned in.
  // HTTP ingest is anonymous but signed: its body is read whole to check the signature.
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError('too_large', `request body larger than ${maxSize} bytes`);
      },
    });
  const limitBody = limit(deps.maxBodyBytes);
  const limitAnonymous = limit(ANONYMOUS_BODY_BYTES);
  app.use('/api/*', (c, next) => {
    if (c.req.method === 'POST' && c.req.path === '/api/v1/engines') return next();
    if (c.get('principal') === undefined && c.req.path !== '/api/v1/ingest') {
      return limitAnonymous(c, next);
    }
    return limitBody(c, next);
  });

  const api = app
    .get('/healthz', async (c) => {
      const health: { ok: boolean; connectedDevices: number | null; [fact: string]: unknown } = {
        ok: await deps.store.ping(),
        connectedDevices: deps.broker.connectedDevices(),
        ...deps.health?.(),
      };
      return c.json(health);
    })
    // Not public: the figures tell who is connected and how the server copes (a viewer token, as
    // Prometheus's `authorization` setting sends it).
    .get('/metrics', async (c) => {
      requireRole(c, 'viewer');
      return c.text(await deps.telemetry.collect(), 200, {
        'content-type': 'text/plain; version=0.0.4',
      });
    })
    .route('/api/v1', deviceRoutes(deps))
    .route('/api/v1', certificateRoutes(deps))
    .route('/api/v1', engineRoutes(deps))
    .route('/api/v1', rolloutRoutes(deps))
    .route('/api/v1', alertRoutes(deps))
    .route('/api/v1', fleetRoutes(deps))
    .route('/api/v1', adminRoutes(deps))
    .route('/api/v1', sessionRoutes(deps))
    .route('/api/v1', liveRoutes(deps))
    .route('/api/v1', ingestRoutes(deps))
    .route('/api/v1', meRoutes(deps));

  // Built from the routes themselves (their `doc` and validators), once every one is mounted.
  let spec: unknown;
  app.get('/openapi.json', (c) => {
    spec ??= openApiDocument(app.routes, API_VERSION);
    return c.json(spec as object);
  });
  app.get('/docs', (c) => c.html(DOCS_HTML));
  dashboardRoutes(app, deps.dashboard);
  return api;
}

/** The API's routes with their inputs and answers, for `hc<AppType>` (types only). */
export type AppType = ReturnType<typeof createApp>;
