import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type ServerType, serve } from '@hono/node-server';
import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { createAlertExecutor } from './alerts/executor.js';
import { createApp } from './api/app.js';
import { loadDashboard } from './api/dashboard.js';
import { createApiTokens } from './auth/api-tokens.js';
import { createMqttAuthenticator } from './auth/mqtt-auth.js';
import { createVerifiedCache, newSecret } from './auth/secrets.js';
import { createSessions, loadOrCreateSessionKey } from './auth/sessions.js';
import {
  type BrokerCredentials,
  embeddedCredentials,
  manualCredentials,
} from './broker/credentials.js';
import { connectDynsecAdmin, createDynsecCredentials } from './broker/dynsec.js';
import { createEmbeddedBroker } from './broker/embedded.js';
import { createExternalBroker } from './broker/external.js';
import type { Broker } from './broker/types.js';
import type { Config } from './config.js';
import { openDatabase } from './db/open.js';
import { runRetention } from './db/retention.js';
import { devices, subscriberTokens } from './db/schema.js';
import { createBlobStore } from './engines/blob-store.js';
import { loadOrCreateFleetKey } from './engines/fleet-key.js';
import { type CommittedMessage, createIngest } from './ingest/ingest.js';
import { createEventBus } from './live/bus.js';
import { createLiveFeed } from './live/feed.js';
import { createLiveHub } from './live/hub.js';
import { createDesiredPublisher } from './rollouts/desired.js';
import { createRolloutExecutor } from './rollouts/executor.js';
import { createTelemetry } from './telemetry.js';

export interface ServerOptions {
  config: Config;
  log: Logger;
  /** Where the first admin token is announced (once, on a fresh database). */
  announce?: (line: string) => void;
}

export interface RunningServer {
  ports: { http: number; mqtt: number | null; ws: number | null };
  /** The parts, for tests and embedding: `app.request()` reaches the API without a socket. */
  app: ReturnType<typeof createApp>;
  database: ReturnType<typeof openDatabase>;
  ingest: ReturnType<typeof createIngest>;
  rollouts: ReturnType<typeof createRolloutExecutor>;
  alerts: ReturnType<typeof createAlertExecutor>;
  telemetry: ReturnType<typeof createTelemetry>;
  /** The first admin token when this start created it (a fresh database), else null. */
  firstAdminToken: string | null;
  /** Stops accepting, commits the ingest batch, closes the broker and the database. */
  close(): Promise<void>;
}

/**
 * Wires the control plane together: database, ingest, broker (embedded or external), executors,
 * HTTP API. Everything is built here from its dependencies; nothing lives in module state.
 */
export async function createServer({
  config,
  log,
  announce,
}: ServerOptions): Promise<RunningServer> {
  const database = openDatabase(join(config.dataDir, 'facefleet.db'), {
    synchronous: config.db.synchronous,
  });
  const { db } = database;
  const telemetry = createTelemetry();
  const cache = createVerifiedCache();
  const tokens = createApiTokens(db, cache);
  const fleetKey = loadOrCreateFleetKey(config.keyFile);
  if (fleetKey.created) log.info({ keyFile: config.keyFile }, 'generated the fleet signing key');
  const store = createBlobStore(join(config.dataDir, 'engines'));

  let firstAdminToken: string | null = null;
  if (tokens.count() === 0) {
    const { token } = await tokens.create('admin', 'first admin');
    firstAdminToken = token;
    (announce ?? ((l) => process.stdout.write(`${l}\n`)))(
      `first admin API token (shown once, store it now): ${token}`,
    );
  }

  // The executors need the broker to publish and the ingest needs the executors: the commit hook
  // reaches them through this late-bound function.
  let onCommit: (batch: CommittedMessage[]) => void = () => {};
  const external = config.mqtt.broker !== null;
  const ingest = createIngest({
    database,
    telemetry,
    log: log.child({ part: 'ingest' }),
    // Behind an external broker messages arrive one at a time (see broker/external.ts).
    batchMs: external ? 0 : config.ingest.batchMs,
    batchRows: config.ingest.batchRows,
    writer: config.ingest.writer,
    onCommit: (batch) => onCommit(batch),
  });

  let broker: Broker;
  let credentials: BrokerCredentials;
  if (config.mqtt.broker) {
    let password = config.mqtt.brokerPassword;
    if (config.mqtt.brokerAdmin === 'dynsec') {
      const dynsecLog = log.child({ part: 'dynsec' });
      const dynsec = createDynsecCredentials({
        admin: await connectDynsecAdmin({
          url: config.mqtt.broker,
          username: config.mqtt.brokerAdminUsername,
          // Required by the config schema with brokerAdmin dynsec.
          password: config.mqtt.brokerAdminPassword ?? '',
          log: dynsecLog,
        }),
        known: () => ({
          devices: new Set(
            db
              .select({ id: devices.id })
              .from(devices)
              .all()
              .map((r) => r.id),
          ),
          subscribers: new Set(
            db
              .select({ name: subscriberTokens.name })
              .from(subscriberTokens)
              .all()
              .map((r) => r.name),
          ),
        }),
        log: dynsecLog,
      });
      // The control plane's own login: the configured password, or a fresh one this start.
      password ??= newSecret();
      try {
        await dynsec.setup(password);
      } catch (err) {
        await dynsec.close();
        throw err;
      }
      credentials = dynsec;
      dynsecLog.info('broker logins are managed through the dynamic-security plugin');
    } else credentials = manualCredentials(log.child({ part: 'mqtt' }));
    const isEnrolledQuery = db
      .select({ id: devices.id })
      .from(devices)
      .where(eq(devices.id, sql.placeholder('id')))
      .prepare();
    const connecting = createExternalBroker({
      url: config.mqtt.broker,
      password,
      // Stable, so the broker keeps this session's subscription and queued messages across restarts.
      clientId: 'facefleet-control-plane',
      ingest,
      telemetry,
      log: log.child({ part: 'mqtt' }),
      isEnrolled: (id) => isEnrolledQuery.get({ id }) !== undefined,
    });
    try {
      broker = await connecting;
    } catch (err) {
      await credentials.close();
      throw err;
    }
  } else {
    const embedded = await createEmbeddedBroker({
      host: config.mqtt.host,
      port: config.mqtt.port,
      wsPort: config.mqtt.wsPort,
      maxPacketBytes: config.mqtt.maxPacketBytes,
      ratePerSec: config.mqtt.ratePerSec,
      rateBurst: config.mqtt.rateBurst,
      drainTimeoutMs: config.mqtt.drainTimeoutMs,
      authenticate: createMqttAuthenticator({ db, cache }),
      ingest,
      telemetry,
      log: log.child({ part: 'mqtt' }),
    });
    broker = embedded;
    credentials = embeddedCredentials(
      (username, options) => embedded.disconnect(username, options),
      log.child({ part: 'mqtt' }),
    );
  }

  // What changes is announced on this bus; the live endpoint streams it to dashboards.
  const events = createEventBus({ log: log.child({ part: 'live' }) });
  const live = createLiveFeed({ db, bus: events });
  const hub = createLiveHub({
    bus: events,
    flushMs: config.live.flushMs,
    heartbeatMs: config.live.heartbeatMs,
  });
  const setDesired = createDesiredPublisher({ db, broker });
  const rollouts = createRolloutExecutor({
    db,
    setDesired,
    log: log.child({ part: 'rollouts' }),
    events,
  });
  const alerts = createAlertExecutor({ db, broker, log: log.child({ part: 'alerts' }), events });
  onCommit = (batch) => {
    live.onCommit(batch);
    alerts.onCommit(batch);
    const reports = batch.flatMap((m) =>
      m.stored && m.message.kind === 'reported' ? [m.message.data] : [],
    );
    void rollouts.onReports(reports);
  };

  telemetry.gauge(
    'facefleet_connected_devices',
    'Devices connected to the embedded broker.',
    () => [[{}, broker.connectedDevices() ?? 0]],
  );
  telemetry.gauge('facefleet_live_connections', 'Open live-event (SSE) streams.', () => [
    [{}, hub.connections],
  ]);
  telemetry.gauge(
    'facefleet_ingest_pending',
    'Device messages received and not yet committed (queued or in the commit under way).',
    () => [[{}, ingest.pending]],
  );
  // How late the event loop runs: every MQTT client, API request and commit callback waits this.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  telemetry.gauge(
    'facefleet_event_loop_delay_seconds',
    'Event-loop delay since the previous scrape: p50, p99 and max.',
    () => {
      const out: [Record<string, string>, number][] = [
        [{ quantile: '0.5' }, loopDelay.percentile(50) / 1e9],
        [{ quantile: '0.99' }, loopDelay.percentile(99) / 1e9],
        [{ quantile: '1' }, loopDelay.max / 1e9],
      ];
      loopDelay.reset();
      return out;
    },
  );
  telemetry.gauge('facefleet_rollouts', 'Rollouts by state.', () =>
    Object.entries(rollouts.countByState()).map(([state, n]) => [{ state }, n]),
  );

  const dashboard = loadDashboard(config.http.dashboardDir);
  if (dashboard.reason) log.warn({ dir: dashboard.dir }, dashboard.reason);
  else log.info({ dir: dashboard.dir, files: dashboard.files?.size }, 'serving the dashboard at /');
  const app = createApp({
    database,
    broker,
    store,
    fleetKey,
    tokens,
    cache,
    setDesired,
    rollouts,
    alerts,
    credentials,
    telemetry,
    log: log.child({ part: 'api' }),
    maxEngineBytes: config.engines.maxBytes,
    maxBodyBytes: config.http.maxBodyBytes,
    sessions: createSessions({
      key: loadOrCreateSessionKey(join(config.dataDir, 'session-key')),
      ttlS: config.http.sessionTtlS,
    }),
    live,
    hub,
    dashboard,
    health: () => ({ broker: external ? 'external' : 'embedded', ingestPending: ingest.pending }),
  });

  const retention = () => {
    try {
      const removed = runRetention(
        database,
        Date.now(),
        config.retention.rawDays,
        config.retention.rollupDays,
      );
      if (removed.faces + removed.metrics > 0) log.info(removed, 'retention: raw rows rolled up');
    } catch (err) {
      log.error({ err }, 'retention failed');
    }
  };
  retention();
  const retentionTimer = setInterval(retention, 3_600_000);
  // Snapshots for the ingest-rate gauge.
  telemetry.sampleRates();
  const rateTimer = setInterval(() => telemetry.sampleRates(), 1000);
  rateTimer.unref();
  const tickTimer = setInterval(() => {
    alerts.tick();
    void rollouts.tick();
  }, config.tickMs);

  const http: ServerType = await new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: config.http.host, port: config.http.port },
      () => resolve(server),
    );
    server.once('error', reject);
  });
  const address = http.address();
  const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
  log.info({ host: config.http.host, port: httpPort }, 'HTTP API listening');

  let closing: Promise<void> | undefined;
  return {
    ports: { http: httpPort, mqtt: broker.ports.mqtt, ws: broker.ports.ws },
    app,
    database,
    ingest,
    rollouts,
    alerts,
    telemetry,
    firstAdminToken,
    close() {
      closing ??= (async () => {
        clearInterval(retentionTimer);
        clearInterval(tickTimer);
        clearInterval(rateTimer);
        // Event streams never end by themselves: end them, or closing the HTTP server would wait.
        hub.close();
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        if ('closeIdleConnections' in http) http.closeIdleConnections();
        // Commit what is queued, then close the broker: late publishes are refused, not lost
        // (they were never acknowledged).
        await ingest.flush();
        await broker.close();
        await credentials.close();
        await ingest.close();
        await rollouts.idle();
        await alerts.idle();
        // The event streams ended above; their keep-alive sockets are idle only now.
        if ('closeIdleConnections' in http) http.closeIdleConnections();
        const force = setTimeout(() => {
          if ('closeAllConnections' in http) http.closeAllConnections();
        }, 2000);
        await httpClosed;
        clearTimeout(force);
        database.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
