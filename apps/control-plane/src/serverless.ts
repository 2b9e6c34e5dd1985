import { openStore, type Store } from '@facefleet/store';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { createApp } from './api/app.js';
import { loadDashboard } from './api/dashboard.js';
import type { Env } from './api/http.js';
import { createApiTokens } from './auth/api-tokens.js';
import { createLoginThrottle } from './auth/login-throttle.js';
import { createSecrets, loadOrCreateKey } from './auth/secrets.js';
import { createSessions, loadOrCreateSessionKey } from './auth/sessions.js';
import { manualCredentials } from './broker/credentials.js';
import { createLazyPublisher } from './broker/publisher.js';
import { batchMessages, changeMessage } from './cluster/messages.js';
import type { Config } from './config.js';
import { createBlobStore } from './engines/blob-store.js';
import { loadOrCreateFleetKey } from './engines/fleet-key.js';
import { ConfigError } from './errors.js';
import { type CommittedMessage, createIngest } from './ingest/ingest.js';
import { createEventBus } from './live/bus.js';
import { createLiveHub } from './live/hub.js';
import { createDesiredPublisher } from './rollouts/desired.js';
import { createRolloutExecutor } from './rollouts/executor.js';
import { createChangeFeed } from './services/changes.js';
import { createServices, serviceSettings } from './services/index.js';
import { createTelemetry } from './telemetry.js';

export interface ServerlessApp {
  /** The HTTP API as a fetch handler (`app.fetch`), and for `hono/aws-lambda`'s `handle`. */
  app: Hono<Env>;
  store: Store;
  close(): Promise<void>;
}

/**
 * The control plane's HTTP API without a process of its own: the same Hono app, services and store
 * as `createServer`, built for a serverless function (AWS Lambda behind API Gateway, or any fetch
 * runtime with Node APIs). It holds no MQTT sessions and does no singleton work: device messages
 * arrive over HTTP from the broker's rule engine (`POST /api/v1/ingest`), desired state and alerts
 * are published through a connection made on first use, and the rollout executor's ticks, alert
 * evaluation and retention run on at least one long-running instance (`facefleet-server` on the same
 * PostgreSQL store), which hears every batch stored here over the store's bus. Needs PostgreSQL (a
 * function has no disk of its own to keep SQLite on) and an external broker.
 */
export async function createServerlessApp({
  config,
  log,
}: {
  config: Config;
  log: Logger;
}): Promise<ServerlessApp> {
  if (!/^postgres(ql)?:\/\//.test(config.store)) {
    throw new ConfigError([
      { path: 'store', message: 'the serverless entry needs a postgres:// store' },
    ]);
  }
  if (!config.mqtt.broker) {
    throw new ConfigError([
      { path: 'mqtt.broker', message: 'the serverless entry needs an external broker (--broker)' },
    ]);
  }
  const instanceId = `${config.instanceId}-fn-${process.pid}`;
  const store = await openStore(config.store, {
    poolSize: config.db.poolSize,
    onError: (err) => log.error({ err }, 'store: a background connection failed'),
  });
  const telemetry = createTelemetry();
  const secrets = createSecrets(loadOrCreateKey(config.auth.tokenKeyFile, 'token key'), () =>
    log.warn('a stored token hash was made under another token key: share auth.tokenKeyFile'),
  );
  const tokens = createApiTokens(store, secrets);
  const fleetKey = loadOrCreateFleetKey(config.keyFile);
  const blobs = createBlobStore(config.engines.dir);
  const broker = createLazyPublisher({
    url: config.mqtt.broker,
    password: config.mqtt.brokerPassword,
    clientId: `facefleet-cp-${instanceId}`,
    log: log.child({ part: 'mqtt' }),
  });
  // Broker logins are the broker's business here (AWS IoT things, EMQX's own users).
  const credentials = manualCredentials(log.child({ part: 'mqtt' }));
  const changes = createChangeFeed();
  changes.subscribe((change) => store.bus.publish(changeMessage(instanceId, change)));
  const ingest = createIngest({
    committer: store.ingest,
    telemetry,
    log: log.child({ part: 'ingest' }),
    batchMs: 0,
    batchRows: config.ingest.batchRows,
    relay: (batch: CommittedMessage[]) =>
      batchMessages(instanceId, batch, store.bus.maxMessageBytes).messages,
  });
  const events = createEventBus({ log });
  const rollouts = createRolloutExecutor({
    store,
    setDesired: createDesiredPublisher({ store, broker, fleetKey }),
    log: log.child({ part: 'rollouts' }),
    events,
  });
  const enrolled = new Set<string>();
  const serviceLog = log.child({ part: 'api' });
  const services = createServices({
    store,
    secrets,
    credentials,
    broker,
    changes,
    blobs,
    fleetKey,
    ...serviceSettings(config),
    log: serviceLog,
  });
  // Engines signed before ids and versions were: signed again (devices now require it).
  await services.engines.migrateSignatures();
  const app = createApp({
    store,
    broker,
    blobs,
    fleetKey,
    tokens,
    secrets,
    // Per function instance: API Gateway's own throttling is what holds across instances.
    throttle: createLoginThrottle({
      maxFailures: config.auth.maxFailedLogins,
      windowMs: config.auth.failedLoginWindowMs,
    }),
    ...services,
    rollouts,
    ingest,
    httpIngest: config.ingest.httpSecret
      ? {
          secret: config.ingest.httpSecret,
          async isEnrolled(id) {
            if (enrolled.has(id)) return true;
            const known = await store.devices.exists(id);
            if (known) enrolled.add(id);
            return known;
          },
        }
      : null,
    telemetry,
    log: serviceLog,
    maxEngineBytes: config.engines.maxBytes,
    maxBodyBytes: config.http.maxBodyBytes,
    sessions: createSessions({
      key: loadOrCreateSessionKey(config.http.sessionKeyFile),
      ttlS: config.http.sessionTtlS,
    }),
    // Live events need a long-lived connection: served by the long-running instances.
    hub: createLiveHub({ bus: events, flushMs: 250, heartbeatMs: 15_000 }),
    liveRecheckMs: config.live.recheckMs,
    dashboard: loadDashboard(config.http.dashboardDir),
    health: () => ({
      broker: 'external',
      store: store.kind,
      instance: instanceId,
      serverless: true,
    }),
  });
  return {
    app,
    store,
    async close() {
      await ingest.close();
      await rollouts.idle();
      await broker.close();
      await store.close();
    },
  };
}
