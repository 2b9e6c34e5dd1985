import type { Store } from '@facefleet/store';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { ApiTokens } from '../auth/api-tokens.js';
import type { VerifiedCache } from '../auth/secrets.js';
import { CSRF_HEADER, SESSION_COOKIE, type Sessions } from '../auth/sessions.js';
import type { Broker } from '../broker/types.js';
import type { BlobStore } from '../engines/blob-store.js';
import type { FleetKey } from '../engines/fleet-key.js';
import { ApiError, BrokerAdminError, EngineStoreError, ServiceError } from '../errors.js';
import type { Ingest } from '../ingest/ingest.js';
import type { LiveHub } from '../live/hub.js';
import type { RolloutExecutor } from '../rollouts/executor.js';
import type { AlertRuleService } from '../services/alert-rules.js';
import type { DeviceService } from '../services/devices.js';
import type { EngineService } from '../services/engines.js';
import type { SubscriberService } from '../services/subscribers.js';
import type { Telemetry } from '../telemetry.js';
import { authenticateRequest, authenticateSession } from './authenticate.js';
import { type DashboardAssets, dashboardRoutes } from './dashboard.js';
import type { Env } from './http.js';
import { DOCS_HTML, openApiDocument, type RouteDoc } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { engineRoutes } from './routes/engines.js';
import { fleetRoutes } from './routes/fleet.js';
import { ingestRoutes } from './routes/ingest.js';
import { liveRoutes } from './routes/live.js';
import { meRoutes } from './routes/me.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { sessionRoutes } from './routes/session.js';

export interface AppDeps {
  /** Reads: the routes query the store's repositories; every change goes through a service. */
  store: Store;
  broker: Broker;
  /** Engine files, by sha256. */
  blobs: BlobStore;
  fleetKey: FleetKey;
  tokens: ApiTokens;
  cache: VerifiedCache;
  devices: DeviceService;
  engines: EngineService;
  subscribers: SubscriberService;
  alertRules: AlertRuleService;
  rollouts: RolloutExecutor;
  /** Device messages forwarded over HTTP (routes/ingest.ts) go through the same ingest. */
  ingest: Ingest;
  /** HTTP ingest: the shared signing secret and the enrolment check; null when it is off. */
  httpIngest: { secret: string; isEnrolled(deviceId: string): Promise<boolean> } | null;
  telemetry: Telemetry;
  log: Logger;
  maxEngineBytes: number;
  /** Largest request body read, except engine uploads (`maxEngineBytes`, streamed). */
  maxBodyBytes: number;
  /** Dashboard sign-in sessions (cookie). */
  sessions: Sessions;
  /** The live (SSE) connections. */
  hub: LiveHub;
  /** The dashboard's built files, served at `/`. */
  dashboard: DashboardAssets;
  /** Extra health facts for /healthz (ingest queue, broker mode). */
  health?: () => Record<string, unknown>;
}

/** A route module: registers its handlers on `app` and describes them with `doc`. */
export interface Registrar {
  app: Hono<Env>;
  doc(route: RouteDoc): void;
}

export const API_VERSION = '0.1.0';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/**
 * On a 413 the rest of the body is left unread, and the server gives up draining it soon after
 * (@hono/node-server: 500 ms): say so, or a client reusing the connection would lose its next
 * request on it.
 */
const UNREAD_BODY = { connection: 'close' };

/** The HTTP API as a Hono app, with no port of its own (tests call `app.request()`). */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const routes: RouteDoc[] = [];
  const registrar: Registrar = { app, doc: (r) => routes.push(r) };

  app.onError((err, c) => {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      const reason =
        err.status === 403
          ? 'forbidden'
          : c.req.header('authorization')
            ? 'invalid_token'
            : 'missing_token';
      deps.telemetry.httpAuthFailures.inc({ reason });
    }
    if (err instanceof ServiceError) {
      const status = err.kind === 'not_found' ? 404 : err.kind === 'conflict' ? 409 : 400;
      const message =
        err.field && err.kind === 'invalid' && !err.message.startsWith(`${err.field}:`)
          ? `${err.field}: ${err.message}`
          : err.message;
      return c.json(
        {
          error: {
            code: err.kind === 'invalid' ? 'invalid_request' : err.kind,
            message,
            details: err.field ? [{ path: err.field, message: err.detail }] : null,
          },
        },
        status,
      );
    }
    if (err instanceof BrokerAdminError) {
      // 409 a login of that name exists on the broker, 503 no answer, 502 the broker refused.
      const status = err.code === 'conflict' ? 409 : err.code === 'unavailable' ? 503 : 502;
      return c.json(
        { error: { code: `broker_${err.code}`, message: err.message, details: null } },
        status,
      );
    }
    if (err instanceof ApiError) {
      return c.json(
        { error: { code: err.code, message: err.message, details: err.details } },
        err.status,
        err.status === 413 ? UNREAD_BODY : {},
      );
    }
    if (err instanceof EngineStoreError) {
      const status = err.code === 'too_large' ? 413 : err.code === 'not_found' ? 404 : 400;
      return c.json(
        { error: { code: err.code, message: err.message, details: null } },
        status,
        status === 413 ? UNREAD_BODY : {},
      );
    }
    if (err instanceof HTTPException) {
      return c.json(
        { error: { code: `http_${err.status}`, message: err.message || 'error', details: null } },
        err.status,
      );
    }
    deps.log.error({ err, path: c.req.path }, 'unhandled API error');
    return c.json({ error: { code: 'internal', message: 'internal error', details: null } }, 500);
  });
  app.notFound((c) =>
    c.json(
      {
        error: {
          code: 'not_found',
          message: `no route ${c.req.method} ${c.req.path}`,
          details: null,
        },
      },
      404,
    ),
  );

  app.use('/api/*', async (c, next) => {
    const header = c.req.header('authorization');
    let principal = await authenticateRequest(header, deps);
    if (!header) {
      const cookie = getCookie(c, SESSION_COOKIE);
      principal = cookie ? await authenticateSession(cookie, deps) : undefined;
      // A signed-in browser's request that changes something must prove it came from the
      // dashboard's own script (see auth/sessions.ts).
      if (principal && !SAFE_METHODS.has(c.req.method) && !c.req.header(CSRF_HEADER)) {
        throw new ApiError(
          403,
          'forbidden',
          `a request signed in by cookie must carry the ${CSRF_HEADER} header`,
        );
      }
    }
    c.set('principal', principal);
    await next();
  });
  // Bodies are read whole (JSON): cap them. Engine uploads stream to disk under their own limit.
  const limitBody = bodyLimit({
    maxSize: deps.maxBodyBytes,
    onError: () => {
      throw new ApiError(413, 'too_large', `request body larger than ${deps.maxBodyBytes} bytes`);
    },
  });
  app.use('/api/*', (c, next) =>
    c.req.method === 'POST' && c.req.path === '/api/v1/engines' ? next() : limitBody(c, next),
  );

  app.get('/healthz', async (c) =>
    c.json({
      ok: await deps.store.ping(),
      connectedDevices: deps.broker.connectedDevices(),
      ...deps.health?.(),
    }),
  );
  app.get('/metrics', async (c) =>
    c.text(await deps.telemetry.collect(), 200, { 'content-type': 'text/plain; version=0.0.4' }),
  );
  app.get('/openapi.json', (c) => c.json(openApiDocument(routes, API_VERSION) as object));
  app.get('/docs', (c) => c.html(DOCS_HTML));

  deviceRoutes(registrar, deps);
  engineRoutes(registrar, deps);
  rolloutRoutes(registrar, deps);
  alertRoutes(registrar, deps);
  fleetRoutes(registrar, deps);
  adminRoutes(registrar, deps);
  sessionRoutes(registrar, deps);
  liveRoutes(registrar, deps);
  ingestRoutes(registrar, deps);
  meRoutes(registrar, deps);
  dashboardRoutes(app, deps.dashboard);
  return app;
}
