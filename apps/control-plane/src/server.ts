import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openStore, type Store } from '@facefleet/store';
import { type ServerType, serve } from '@hono/node-server';
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
import { createBlobStore } from './engines/blob-store.js';
import { loadOrCreateFleetKey } from './engines/fleet-key.js';
import { type CommittedMessage, createIngest } from './ingest/ingest.js';
import { createEventBus } from './live/bus.js';
import { createLiveFeed } from './live/feed.js';
import { createLiveHub } from './live/hub.js';
import { createDesiredPublisher } from './rollouts/desired.js';
import { createRolloutExecutor } from './rollouts/executor.js';
import { createAlertRuleService } from './services/alert-rules.js';
import { createChangeFeed } from './services/changes.js';
import { createDeviceService } from './services/devices.js';
import { createEngineService } from './services/engines.js';
import { createSubscriberService } from './services/subscribers.js';
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
  store: Store;
  ingest: ReturnType<typeof createIngest>;
  rollouts: ReturnType<typeof createRolloutExecutor>;
  alerts: Awaited<ReturnType<typeof createAlertExecutor>>;
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
  const store = await openStore(config.store, {
    synchronous: config.db.synchronous,
    writer: config.ingest.writer,
    poolSize: config.db.poolSize,
    onError: (err) => log.error({ err }, 'store: a background connection failed'),
  });
  log.info({ store: store.location, kind: store.kind }, 'store open');
  const telemetry = createTelemetry();
  const cache = createVerifiedCache();
  const tokens = createApiTokens(store, cache);
  const fleetKey = loadOrCreateFleetKey(config.keyFile);
  if (fleetKey.created) log.info({ keyFile: config.keyFile }, 'generated the fleet signing key');
  const blobs = createBlobStore(join(config.dataDir, 'engines'));
  const changes = createChangeFeed();

  let firstAdminToken: string | null = null;
  if ((await tokens.count()) === 0) {
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
    committer: store.ingest,
    telemetry,
    log: log.child({ part: 'ingest' }),
    // Behind an external broker messages arrive one at a time (see broker/external.ts).
    batchMs: external ? 0 : config.ingest.batchMs,
    batchRows: config.ingest.batchRows,
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
        known: async () => ({
          devices: new Set(await store.devices.ids()),
          subscribers: new Set(await store.credentials.subscriberNames()),
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
    // Messages arrive one at a time here: enrolled devices are remembered (until they change) so
    // that each message does not wait for a query.
    const enrolled = new Set<string>();
    changes.subscribe((change) => {
      if (change.kind === 'device') enrolled.delete(change.id);
    });
    const isEnrolled = async (id: string) => {
      if (enrolled.has(id)) return true;
      const known = await store.devices.exists(id);
      if (known) enrolled.add(id);
      return known;
    };
    const connecting = createExternalBroker({
      url: config.mqtt.broker,
      password,
      // Stable, so the broker keeps this session's subscription and queued messages across restarts.
      clientId: 'facefleet-control-plane',
      ingest,
      telemetry,
      log: log.child({ part: 'mqtt' }),
      isEnrolled,
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
      authenticate: createMqttAuthenticator({ store, cache }),
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
  const live = createLiveFeed({ store, bus: events, log: log.child({ part: 'live' }) });
  const hub = createLiveHub({
    bus: events,
    flushMs: config.live.flushMs,
    heartbeatMs: config.live.heartbeatMs,
  });
  const setDesired = createDesiredPublisher({ store, broker });
  const rollouts = createRolloutExecutor({
    store,
    setDesired,
    log: log.child({ part: 'rollouts' }),
    events,
  });
  const alerts = await createAlertExecutor({
    store,
    broker,
    log: log.child({ part: 'alerts' }),
    events,
  });
  changes.subscribe(async (change) => {
    if (change.kind === 'rules') await alerts.rulesChanged();
    if (change.kind === 'device') {
      live.deviceChanged(change.id);
      await alerts.devicesChanged();
    }
  });
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
  let rolloutCounts: Record<string, number> = {};
  telemetry.beforeScrape(async () => {
    rolloutCounts = await rollouts.countByState();
  });
  telemetry.gauge('facefleet_rollouts', 'Rollouts by state.', () =>
    Object.entries(rolloutCounts).map(([state, n]) => [{ state }, n]),
  );

  const dashboard = loadDashboard(config.http.dashboardDir);
  if (dashboard.reason) log.warn({ dir: dashboard.dir }, dashboard.reason);
  else log.info({ dir: dashboard.dir, files: dashboard.files?.size }, 'serving the dashboard at /');
  const serviceLog = log.child({ part: 'api' });
  const app = createApp({
    store,
    broker,
    blobs,
    fleetKey,
    tokens,
    cache,
    devices: createDeviceService({ store, cache, credentials, broker, changes, log: serviceLog }),
    engines: createEngineService({ store, blobs, fleetKey, maxBytes: config.engines.maxBytes }),
    subscribers: createSubscriberService({ store, cache, credentials, log: serviceLog }),
    alertRules: createAlertRuleService({ store, changes }),
    rollouts,
    telemetry,
    log: serviceLog,
    maxEngineBytes: config.engines.maxBytes,
    maxBodyBytes: config.http.maxBodyBytes,
    sessions: createSessions({
      key: loadOrCreateSessionKey(join(config.dataDir, 'session-key')),
      ttlS: config.http.sessionTtlS,
    }),
    hub,
    dashboard,
    health: () => ({ broker: external ? 'external' : 'embedded', ingestPending: ingest.pending }),
  });

  const retention = async () => {
    try {
      const removed = await store.retention(
        Date.now(),
        config.retention.rawDays,
        config.retention.rollupDays,
      );
      if (removed.faces + removed.metrics > 0) log.info(removed, 'retention: raw rows rolled up');
    } catch (err) {
      log.error({ err }, 'retention failed');
    }
  };
  let retentionRun = retention();
  const retentionTimer = setInterval(() => {
    retentionRun = retentionRun.then(retention);
  }, 3_600_000);
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
    store,
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
        await retentionRun;
        // The event streams ended above; their keep-alive sockets are idle only now.
        if ('closeIdleConnections' in http) http.closeIdleConnections();
        const force = setTimeout(() => {
          if ('closeAllConnections' in http) http.closeAllConnections();
        }, 2000);
        await httpClosed;
        clearTimeout(force);
        await store.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
