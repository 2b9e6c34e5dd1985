import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Server as TlsServer } from 'node:tls';
import { CONTROL_PLANE_USERNAME } from '@facefleet/protocol';
import { openStore, type Store } from '@facefleet/store';
import { type ServerType, serve } from '@hono/node-server';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { type AlertExecutor, createAlertExecutor } from './alerts/executor.js';
import { createApp } from './api/app.js';
import { loadDashboard } from './api/dashboard.js';
import { createApiTokens } from './auth/api-tokens.js';
import { createLoginThrottle } from './auth/login-throttle.js';
import { createMqttAuthenticator } from './auth/mqtt-auth.js';
import { createSecrets, loadOrCreateKey, newSecret } from './auth/secrets.js';
import { createSessions, loadOrCreateSessionKey } from './auth/sessions.js';
import { createTokenHashCache, type TokenHashCache } from './auth/token-hashes.js';
import {
  type BrokerCredentials,
  embeddedCredentials,
  manualCredentials,
} from './broker/credentials.js';
import { connectDynsecAdmin, createDynsecCredentials } from './broker/dynsec.js';
import { createEmbeddedBroker } from './broker/embedded.js';
import { createExternalBroker } from './broker/external.js';
import type { Broker } from './broker/types.js';
import { createLeadership } from './cluster/leader.js';
import { batchMessages, changeMessage, committedOf, decodeBusMessage } from './cluster/messages.js';
import type { Config } from './config.js';
import { createBlobStore } from './engines/blob-store.js';
import { loadOrCreateFleetKey } from './engines/fleet-key.js';
import { ConfigError } from './errors.js';
import { type CommittedMessage, createIngest } from './ingest/ingest.js';
import { createHaDiscovery } from './integrations/home-assistant.js';
import { createEventBus } from './live/bus.js';
import { createLiveFeed } from './live/feed.js';
import { createLiveHub } from './live/hub.js';
import { createLogLimiter } from './log-limit.js';
import { keepPrivate } from './private-files.js';
import { createDesiredPublisher } from './rollouts/desired.js';
import { createRolloutExecutor } from './rollouts/executor.js';
import { type Change, createChangeFeed } from './services/changes.js';
import { createServices, serviceSettings } from './services/index.js';
import { createTelemetry } from './telemetry.js';
import { createServerTls, type ServerTls } from './tls/server-tls.js';

export interface ServerOptions {
  config: Config;
  log: Logger;
  /** Where the first admin token is announced (once, on a fresh database). */
  announce?: (line: string) => void;
}

export interface RunningServer {
  ports: {
    http: number;
    mqtt: number | null;
    ws: number | null;
    /** MQTT over TLS and over secure WebSocket (null: not listening). */
    tls: number | null;
    wss: number | null;
  };
  /** Whether the API is served over HTTPS. */
  https: boolean;
  /**
   * Reads the TLS certificate, key and fleet CA again and serves them on every TLS listener from
   * now on; open connections stay (SIGHUP calls it). False when the files could not be used (the
   * certificate in use stays); null without TLS.
   */
  reloadTls(reason?: string): boolean | null;
  /** The parts, for tests and embedding: `app.request()` reaches the API without a socket. */
  app: ReturnType<typeof createApp>;
  store: Store;
  ingest: ReturnType<typeof createIngest>;
  rollouts: ReturnType<typeof createRolloutExecutor>;
  telemetry: ReturnType<typeof createTelemetry>;
  /** This instance's id, and whether it leads now (does the singleton work). */
  instance: { id: string; readonly leader: boolean };
  /** The first admin token when this start created it (a fresh database), else null. */
  firstAdminToken: string | null;
  /** Stops accepting, commits the ingest batch, closes the broker and the database. */
  close(): Promise<void>;
}

/** Where the first admin token is left for the operator (FIRST_ADMIN_TOKEN_FILE in the data dir). */
export const FIRST_ADMIN_TOKEN_FILE = 'first-admin-token';

/**
 * Leaves the first admin token in `<dataDir>/first-admin-token` (0600), and returns the line that
 * announces it: the token itself only on a terminal; otherwise (a service: stdout goes to the
 * journal, which more people read than the data dir) where the file is.
 */
export function announceFirstAdminToken(token: string, dataDir: string, terminal: boolean): string {
  const file = join(dataDir, FIRST_ADMIN_TOKEN_FILE);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return terminal
    ? `first admin API token (shown once, store it now; also in ${file}): ${token}`
    : `first admin API token written to ${file} (mode 0600): read it, store it, delete the file`;
}

/** Whether the control-plane login with `password` is accepted by the broker at `url`. */
async function canLogin(url: string, password: string, tls: BrokerTls): Promise<boolean> {
  const client = mqtt.connect(url, {
    ...tls,
    username: CONTROL_PLANE_USERNAME,
    password,
    clientId: `facefleet-cp-probe-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  const ok = await new Promise<boolean>((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('error', () => resolve(false));
    client.once('close', () => resolve(false));
  });
  await client.endAsync(true).catch(() => {});
  return ok;
}

/** What the control plane presents to an external `mqtts://` broker: its CA, a client certificate. */
export type BrokerTls = { ca?: Buffer; cert?: Buffer; key?: Buffer };

function brokerTls(mqttConfig: Config['mqtt']): BrokerTls {
  const read = (path: string | null, field: string) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError([
        { path: field, message: `cannot read ${path}: ${(err as Error).message}` },
      ]);
    }
  };
  const ca = read(mqttConfig.brokerCaFile, 'mqtt.brokerCaFile');
  const cert = read(mqttConfig.brokerCertFile, 'mqtt.brokerCertFile');
  const key = read(mqttConfig.brokerKeyFile, 'mqtt.brokerKeyFile');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
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
  const instanceId = config.instanceId;
  // Keys, the database and engines live here: no other local user reads any of it.
  keepPrivate(config.dataDir);
  // The certificate of every TLS listener, read first: a file that cannot be used stops the start.
  let tlsReloads: ReturnType<ReturnType<typeof createTelemetry>['counter']> | undefined;
  const serverTls: ServerTls | undefined =
    config.tls.certFile && config.tls.keyFile
      ? createServerTls({
          certFile: config.tls.certFile,
          keyFile: config.tls.keyFile,
          clientCaFile: config.tls.clientCaFile,
          watchMs: config.tls.watchMs,
          log: log.child({ part: 'tls' }),
          onReload: (ok) => tlsReloads?.inc({ result: ok ? 'ok' : 'failed' }),
        })
      : undefined;
  // Set once the leader lease exists (below): what to do when the bus is back after a loss.
  let busBack: () => void = () => {};
  const store = await openStore(config.store, {
    synchronous: config.db.synchronous,
    // (an in-memory database has no file for a writer thread to open)
    writer: config.store === ':memory:' ? 'inline' : config.ingest.writer,
    poolSize: config.db.poolSize,
    onError: (err) => log.error({ err }, 'store: a background connection failed'),
    onBusState: (state) => {
      if (state === 'lost') log.warn('store bus: listening connection lost; reconnecting');
      else busBack();
    },
  });
  log.info({ store: store.location, kind: store.kind, instance: instanceId }, 'store open');
  const clustered = store.kind === 'postgres';
  const telemetry = createTelemetry();
  tlsReloads = telemetry.counter(
    'facefleet_tls_reloads_total',
    'Reloads of the TLS certificate and key (SIGHUP or a file change), by result.',
  );
  const tlsHandshakeFailures = telemetry.counter(
    'facefleet_tls_handshake_failures_total',
    'TLS handshakes that failed (the client does not trust the certificate, TLS below 1.2, not TLS), by listener.',
  );
  if (serverTls) {
    telemetry.gauge(
      'facefleet_tls_certificate_expiry_seconds',
      'Seconds until the served TLS certificate expires.',
      () => [[{}, (serverTls.notAfter.getTime() - Date.now()) / 1000]],
    );
  }
  const keyLog = createLogLimiter(log);
  const secrets = createSecrets(loadOrCreateKey(config.auth.tokenKeyFile, 'token key'), () =>
    keyLog.warn(
      'foreign-token-key',
      { tokenKeyFile: config.auth.tokenKeyFile },
      'a stored token hash was made under another token key: instances sharing a store must share auth.tokenKeyFile (--token-key-file)',
    ),
  );
  const throttle = createLoginThrottle({
    maxFailures: config.auth.maxFailedLogins,
    windowMs: config.auth.failedLoginWindowMs,
  });
  const tokens = createApiTokens(store, secrets);
  const fleetKey = loadOrCreateFleetKey(config.keyFile);
  if (fleetKey.created) log.info({ keyFile: config.keyFile }, 'generated the fleet signing key');
  const blobs = createBlobStore(config.engines.dir);
  const changes = createChangeFeed();

  // The first admin token, made by one instance only when several start on an empty store.
  let firstAdminToken: string | null = null;
  while (!(await store.leases.acquire('bootstrap', instanceId, 30_000))) {
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    if ((await tokens.count()) === 0) {
      const { token } = await tokens.create('admin', 'first admin');
      firstAdminToken = token;
      (announce ?? ((l) => process.stdout.write(`${l}\n`)))(
        announceFirstAdminToken(token, config.dataDir, Boolean(process.stdout.isTTY)),
      );
    }
  } finally {
    await store.leases.release('bootstrap', instanceId);
  }

  // The executors need the broker to publish and the ingest needs the executors: the commit hook
  // reaches them through this late-bound function.
  let onCommit: (batch: CommittedMessage[]) => void = () => {};
  const external = config.mqtt.broker !== null;
  const ingest = createIngest({
    committer: store.ingest,
    telemetry,
    log: log.child({ part: 'ingest' }),
    // Behind an external broker each ingest session has one message in flight (see
    // broker/external.ts): what arrives while a batch commits is the next batch.
    batchMs: external ? 0 : config.ingest.batchMs,
    batchRows: config.ingest.batchRows,
    onCommit: (batch) => onCommit(batch),
    // Several instances: the others hear of every batch (inside its transaction).
    ...(clustered
      ? {
          relay: (batch: CommittedMessage[]) => {
            const { messages, dropped } = batchMessages(
              instanceId,
              batch,
              store.bus.maxMessageBytes,
            );
            if (dropped > 0) log.warn({ dropped }, 'bus: messages too large to relay left out');
            return messages;
          },
        }
      : {}),
  });

  let broker: Broker;
  let credentials: BrokerCredentials;
  // The embedded broker's logins read device token hashes from memory (one process owns it).
  let tokenHashes: TokenHashCache | undefined;
  const haPrefix = config.homeAssistant.discovery === 'on' ? config.homeAssistant.prefix : null;
  let reconcileBroker: () => Promise<void> = async () => {};
  // Messages taken from an external broker or over HTTP wait for this check: enrolled devices are
  // remembered (until they change; the embedded broker checks logins instead).
  const enrolled = new Set<string>();
  const forgetEnrolled = (id: string) => enrolled.delete(id);
  const isEnrolled = async (id: string) => {
    if (enrolled.has(id)) return true;
    const known = await store.devices.exists(id);
    if (known) enrolled.add(id);
    return known;
  };
  // One embedded broker per store: a second instance would hold devices the first cannot reach.
  const embeddedLease = external
    ? undefined
    : createLeadership({
        store,
        holder: instanceId,
        lease: 'embedded-broker',
        ttlMs: config.leaseMs,
        log: log.child({ part: 'cluster' }),
        onChange: (held) => {
          if (!held && !closingStarted) {
            log.error('another instance took the embedded-broker lease: use an external broker');
          }
        },
      });
  let closingStarted = false;
  if (embeddedLease) {
    await embeddedLease.start();
    if (!embeddedLease.leader) {
      await embeddedLease.stop();
      await store.close();
      throw new Error(
        `another control-plane instance with an embedded MQTT broker runs on this store (${store.location}): several instances need an external broker (--broker)`,
      );
    }
  }
  if (config.mqtt.broker) {
    const tls = brokerTls(config.mqtt);
    let password = config.mqtt.brokerPassword;
    if (config.mqtt.brokerAdmin === 'dynsec') {
      const dynsecLog = log.child({ part: 'dynsec' });
      const dynsec = createDynsecCredentials({
        admin: await connectDynsecAdmin({
          url: config.mqtt.broker,
          username: config.mqtt.brokerAdminUsername,
          // Required by the config schema with brokerAdmin dynsec.
          password: config.mqtt.brokerAdminPassword ?? '',
          tls,
          log: dynsecLog,
        }),
        known: async () => ({
          devices: new Set(await store.devices.ids()),
          subscribers: new Set(await store.credentials.subscriberNames()),
        }),
        log: dynsecLog,
        acl: { haPrefix },
      });
      // The control plane's own login: the configured password, or a fresh one this start. When
      // the broker already takes the configured one (another instance set it), it is left as it
      // is: setting it again would drop that instance's sessions. The leader reconciles.
      const setPassword = password === null || !(await canLogin(config.mqtt.broker, password, tls));
      password ??= newSecret();
      try {
        await dynsec.setup(password, { setPassword, reconcile: false });
      } catch (err) {
        await dynsec.close();
        throw err;
      }
      credentials = dynsec;
      dynsecLog.info('broker logins are managed through the dynamic-security plugin');
      reconcileBroker = () =>
        dynsec.reconcile().then(
          () => {},
          (err: unknown) => dynsecLog.warn({ err }, 'dynamic-security: reconcile failed'),
        );
    } else credentials = manualCredentials(log.child({ part: 'mqtt' }));
    const connecting = createExternalBroker({
      url: config.mqtt.broker,
      password,
      tls,
      // Stable, so the broker keeps this instance's sessions and their queued messages across
      // restarts.
      clientId: `facefleet-cp-${instanceId}`,
      sessions: config.mqtt.ingestSessions,
      shareGroup: config.mqtt.shareGroup,
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
    tokenHashes = createTokenHashCache(store);
    log.info({ devices: await tokenHashes.preload() }, 'device token hashes loaded');
    const embedded = await createEmbeddedBroker({
      host: config.mqtt.host,
      port: config.mqtt.port,
      wsPort: config.mqtt.wsPort,
      tlsPort: config.mqtt.tlsPort,
      wssPort: config.mqtt.wssPort,
      tls: serverTls,
      onTlsError: (listener) => tlsHandshakeFailures.inc({ listener }),
      wsAllowedOrigins: config.mqtt.wsAllowedOrigins,
      maxPacketBytes: config.mqtt.maxPacketBytes,
      ratePerSec: config.mqtt.ratePerSec,
      rateBurst: config.mqtt.rateBurst,
      maxSessionsPerDevice: config.mqtt.maxSessionsPerDevice,
      maxSessionsPerSubscriber: config.mqtt.maxSessionsPerSubscriber,
      drainTimeoutMs: config.mqtt.drainTimeoutMs,
      authenticate: createMqttAuthenticator({ store, secrets, tokenHashes }),
      throttle,
      acl: { haPrefix },
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
    maxPerOwner: config.live.maxStreamsPerToken,
  });
  const setDesired = createDesiredPublisher({ store, broker, fleetKey });
  const rollouts = createRolloutExecutor({
    store,
    setDesired,
    log: log.child({ part: 'rollouts' }),
    events,
  });
  // Alert evaluation keeps state in memory: it exists on the leader only.
  let alerts: AlertExecutor | undefined;
  // Until the leader lease is first tried (below), this instance does no singleton work.
  let leading = () => false;
  const homeAssistant =
    haPrefix === null
      ? undefined
      : createHaDiscovery({
          prefix: haPrefix,
          broker,
          store,
          log: log.child({ part: 'home-assistant' }),
          leading: () => leading(),
        });
  homeAssistant?.start();

  /** A committed batch, this instance's or another's: live events everywhere; the leader acts. */
  function handleBatch(batch: CommittedMessage[]): void {
    live.onCommit(batch);
    if (!leading()) return;
    alerts?.onCommit(batch);
    homeAssistant?.onCommit(batch);
    const reports = batch.flatMap((m) =>
      m.stored && m.message.kind === 'reported' ? [m.message.data] : [],
    );
    void rollouts.onReports(reports);
  }
  /** What a use case changed, here or on another instance. */
  async function applyChange(change: Change): Promise<void> {
    if (change.kind === 'rules') await alerts?.rulesChanged();
    if (change.kind === 'device') {
      forgetEnrolled(change.id);
      live.deviceChanged(change.id);
      await alerts?.devicesChanged();
      void homeAssistant?.deviceChanged(change.id);
    }
  }
  changes.subscribe(async (change) => {
    await applyChange(change);
    if (clustered) await store.bus.publish(changeMessage(instanceId, change));
  });
  onCommit = handleBatch;
  store.bus.subscribe((text) => {
    const m = decodeBusMessage(text);
    // This instance handled its own already (the bus echoes them).
    if (!m || m.o === instanceId) return;
    if (m.t === 'batch') handleBatch(committedOf(m));
    else
      applyChange(m.change).catch((err: unknown) => log.error({ err }, 'bus: change not applied'));
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
  let retentionRun: Promise<void> = Promise.resolve();
  let retentionTimer: NodeJS.Timeout | undefined;

  const leadership = createLeadership({
    store,
    holder: instanceId,
    ttlMs: config.leaseMs,
    log: log.child({ part: 'cluster' }),
    async onChange(leader) {
      if (leader) {
        alerts = await createAlertExecutor({
          store,
          broker,
          log: log.child({ part: 'alerts' }),
          events,
          webhooks: { allowHosts: config.alerts.webhookAllowHosts },
        });
        // What the previous leader (if any) had not acted on yet.
        await rollouts.catchUp();
        homeAssistant
          ?.publishAll()
          .catch((err: unknown) => log.warn({ err }, 'home assistant: discovery failed'));
        void reconcileBroker();
        retentionRun = retentionRun.then(retention);
        retentionTimer = setInterval(() => {
          retentionRun = retentionRun.then(retention);
        }, 3_600_000);
      } else {
        clearInterval(retentionTimer);
        const previous = alerts;
        alerts = undefined;
        await previous?.idle();
      }
    },
  });
  // Reports heard by nobody while the bus was down: the leader catches up from the database.
  busBack = () => {
    if (leadership.leader) void rollouts.catchUp();
  };
  leading = () => leadership.leader;
  await leadership.start();

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
  let seqGaps = 0;
  telemetry.beforeScrape(async () => {
    seqGaps = await store.devices.totalSeqGaps();
  });
  telemetry.gauge(
    'facefleet_ingest_seq_gaps',
    "Device messages never stored, over every device: seqs missing from each device's counter that are not unfired MQTT wills (the device API shows them per device).",
    () => [[{}, seqGaps]],
  );

  const dashboard = loadDashboard(config.http.dashboardDir);
  if (dashboard.reason) log.warn({ dir: dashboard.dir }, dashboard.reason);
  else log.info({ dir: dashboard.dir, files: dashboard.files?.size }, 'serving the dashboard at /');
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
    fleetCa: () => serverTls?.fleetCa() ?? [],
    tokenHashes,
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
    throttle,
    ...services,
    rollouts,
    ingest,
    httpIngest: config.ingest.httpSecret ? { secret: config.ingest.httpSecret, isEnrolled } : null,
    telemetry,
    log: serviceLog,
    maxEngineBytes: config.engines.maxBytes,
    maxBodyBytes: config.http.maxBodyBytes,
    sessions: createSessions({
      key: loadOrCreateSessionKey(config.http.sessionKeyFile),
      ttlS: config.http.sessionTtlS,
    }),
    hub,
    liveRecheckMs: config.live.recheckMs,
    dashboard,
    health: () => ({
      broker: external ? 'external' : 'embedded',
      store: store.kind,
      instance: instanceId,
      leader: leadership.leader,
      ingestPending: ingest.pending,
    }),
  });

  // Snapshots for the ingest-rate gauge.
  telemetry.sampleRates();
  const rateTimer = setInterval(() => telemetry.sampleRates(), 1000);
  rateTimer.unref();
  const tickTimer = setInterval(() => {
    if (!leadership.leader) return;
    alerts?.tick();
    void rollouts.tick();
  }, config.tickMs);

  const https = config.http.tls && serverTls ? serverTls : undefined;
  const http: ServerType = await new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        hostname: config.http.host,
        port: config.http.port,
        ...(https
          ? {
              createServer: createHttpsServer,
              serverOptions: https.serverOptions({ clientCertificates: false }),
            }
          : {}),
      },
      () => resolve(server),
    );
    server.once('error', reject);
  });
  // An HTTPS server is a TLS server: reloads reach it too.
  if (https) {
    https.attach(http as TlsServer);
    http.on('tlsClientError', () => tlsHandshakeFailures.inc({ listener: 'https' }));
  }
  const address = http.address();
  const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
  log.info(
    { host: config.http.host, port: httpPort, scheme: https ? 'https' : 'http' },
    'HTTP API listening',
  );

  let closing: Promise<void> | undefined;
  return {
    ports: {
      http: httpPort,
      mqtt: broker.ports.mqtt,
      ws: broker.ports.ws,
      tls: broker.ports.tls,
      wss: broker.ports.wss,
    },
    https: https !== undefined,
    reloadTls: (reason = 'requested') => serverTls?.reload(reason) ?? null,
    app,
    store,
    ingest,
    rollouts,
    telemetry,
    instance: {
      id: instanceId,
      get leader() {
        return leadership.leader;
      },
    },
    firstAdminToken,
    close() {
      closing ??= (async () => {
        closingStarted = true;
        serverTls?.close();
        clearInterval(tickTimer);
        clearInterval(rateTimer);
        // Event streams never end by themselves: end them, or closing the HTTP server would wait.
        hub.close();
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        if ('closeIdleConnections' in http) http.closeIdleConnections();
        // Commit what is queued, then close the broker: late publishes are refused, not lost
        // (they were never acknowledged). An external broker keeps this instance's sessions
        // subscribed and queues their share of the messages until it is back: leaving the shared
        // subscription here would lose what arrives while no instance runs.
        await ingest.flush();
        // Discovery configs that the last batches called for, while the broker still takes them;
        // a paced publish of every device's stops here (the next leader publishes them all).
        homeAssistant?.stop();
        await homeAssistant?.idle();
        await broker.close();
        await credentials.close();
        await ingest.close();
        await homeAssistant?.idle();
        await rollouts.idle();
        // Another instance takes the singleton work at once, not after the lease runs out.
        await leadership.stop();
        await embeddedLease?.stop();
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
