import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { AlertExecutor } from '../alerts/executor.js';
import type { ApiTokens } from '../auth/api-tokens.js';
import type { VerifiedCache } from '../auth/secrets.js';
import type { Broker } from '../broker/types.js';
import type { DatabaseHandle } from '../db/open.js';
import type { BlobStore } from '../engines/blob-store.js';
import type { FleetKey } from '../engines/fleet-key.js';
import { ApiError, EngineStoreError } from '../errors.js';
import type { SetDesired } from '../rollouts/desired.js';
import type { RolloutExecutor } from '../rollouts/executor.js';
import type { Telemetry } from '../telemetry.js';
import { authenticateRequest } from './authenticate.js';
import type { Env } from './http.js';
import { DOCS_HTML, openApiDocument, type RouteDoc } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { engineRoutes } from './routes/engines.js';
import { fleetRoutes } from './routes/fleet.js';
import { meRoutes } from './routes/me.js';
import { rolloutRoutes } from './routes/rollouts.js';

export interface AppDeps {
  database: DatabaseHandle;
  broker: Broker;
  store: BlobStore;
  fleetKey: FleetKey;
  tokens: ApiTokens;
  cache: VerifiedCache;
  setDesired: SetDesired;
  rollouts: RolloutExecutor;
  alerts: AlertExecutor;
  telemetry: Telemetry;
  log: Logger;
  maxEngineBytes: number;
  /** Extra health facts for /healthz (ingest queue, broker mode). */
  health?: () => Record<string, unknown>;
}

/** A route module: registers its handlers on `app` and describes them with `doc`. */
export interface Registrar {
  app: Hono<Env>;
  doc(route: RouteDoc): void;
}

export const API_VERSION = '0.1.0';

/** The HTTP API as a Hono app, with no port of its own (tests call `app.request()`). */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const routes: RouteDoc[] = [];
  const registrar: Registrar = { app, doc: (r) => routes.push(r) };

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      return c.json(
        { error: { code: err.code, message: err.message, details: err.details } },
        err.status,
      );
    }
    if (err instanceof EngineStoreError) {
      const status = err.code === 'too_large' ? 413 : err.code === 'not_found' ? 404 : 400;
      return c.json({ error: { code: err.code, message: err.message, details: null } }, status);
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
    c.set('principal', await authenticateRequest(c.req.header('authorization'), deps));
    await next();
  });

  app.get('/healthz', (c) =>
    c.json({
      ok: deps.database.sqlite.open,
      connectedDevices: deps.broker.connectedDevices(),
      ...deps.health?.(),
    }),
  );
  app.get('/metrics', (c) =>
    c.text(deps.telemetry.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }),
  );
  app.get('/openapi.json', (c) => c.json(openApiDocument(routes, API_VERSION) as object));
  app.get('/docs', (c) => c.html(DOCS_HTML));

  deviceRoutes(registrar, deps);
  engineRoutes(registrar, deps);
  rolloutRoutes(registrar, deps);
  alertRoutes(registrar, deps);
  fleetRoutes(registrar, deps);
  adminRoutes(registrar, deps);
  meRoutes(registrar, deps);
  return app;
}
