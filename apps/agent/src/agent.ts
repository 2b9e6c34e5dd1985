import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
  cameraField,
  type Desired,
  desiredSchema,
  type EngineRef,
  facesSchema,
  MAX_PAYLOAD_BYTES,
  metricsSchema,
  PayloadError,
  parseJsonPayload,
  parsePayload,
  type Status,
  statusSchema,
  topics,
} from '@facefleet/protocol';
import type { Logger } from 'pino';
import { type AgentConfig, configuredCameras } from './config.js';
import { AbortedError, UpdateError } from './errors.js';
import {
  createHealthCollector,
  detectTrtVersion,
  type HealthCollector,
  identifyDevice,
} from './health/collector.js';
import { createMqttLink, type MqttLink } from './mqtt/link.js';
import { type Outbox, openOutbox } from './outbox/outbox.js';
import { runnerRunArgs } from './runner/run-args.js';
import {
  createRunnerSupervisor,
  type RunnerExit,
  type RunnerSupervisor,
} from './runner/supervisor.js';
import { createCameraTelemetry } from './telemetry/cameras.js';
import { createRunnerMetrics } from './telemetry/runner-metrics.js';
import { createStatsHistory } from './telemetry/stats-history.js';
import { openEngineStore } from './update/engine-store.js';
import type { GoldenSet } from './update/eval-run.js';
import { createExecutors, type GateProbe } from './update/executors.js';
import type { StatsWindow } from './update/fps-gate.js';
import { createReconciler } from './update/reconciler.js';
import type { InstalledEngine } from './update/state.js';
import { sha256FileSync } from './update/verify.js';

export interface AgentOptions {
  config: AgentConfig;
  /** Names the device in every line already (main.ts's pino base, the simulator's child). */
  log: Logger;
  version: string;
  arch?: string;
  /** How long shutdown waits for the outbox to drain (ms). */
  flushTimeoutMs?: number;
  /**
   * Where detections come from. Default: the supervised runner process (`config.runner`). The fleet
   * simulator passes a synthetic source with the same events (hello, frame, stats, exit, state), so
   * everything downstream — telemetry, status, the health gate, rollback — is the agent's own code.
   * Called once with a getter of the current engine, which (like the runner's `--model` argument)
   * the source reads at every (re)start.
   */
  source?: (engine: () => EngineRef) => DetectionSource;
  /** The outbox. Default: the SQLite file `<dataDir>/agent.db`. The simulator passes `:memory:` ones. */
  outbox?: Outbox;
  /** Device health for metrics. Default: tegrastats on a Jetson, /proc elsewhere. */
  health?: HealthCollector;
}

/** What the agent needs of a detection source: the runner supervisor's interface and events. */
export type DetectionSource = RunnerSupervisor;

export interface Agent {
  start(): void;
  /** Whether the MQTT link is up now. */
  connected(): boolean;
  /** SIGTERM path: stop the runner, flush the outbox as far as the link allows, publish offline, close. */
  stop(): Promise<void>;
}

const BOOTSTRAP_ID = 'bootstrap';

/** Seconds of runner stats windows kept as the running engine's FPS record. */
const STATS_HISTORY_S = 300;
/** How often that record is written to the outbox database. */
const STATS_SAVE_EVERY_MS = 30_000;
const RUNNER_STATS_STATE = 'runner-stats';
interface RunnerStatsRecord {
  engine: EngineRef;
  windows: StatsWindow[];
}

/** The engine from the config (the model the device shipped with), current until an update. */
function bootstrapEngine(config: AgentConfig): InstalledEngine {
  const path = config.runner.bootstrapModel;
  const sha256 = existsSync(path) ? sha256FileSync(path) : '0'.repeat(64);
  return {
    ref: { id: BOOTSTRAP_ID, sha256, backend: config.runner.backend, model: config.runner.model },
    path,
    format: extname(path).toLowerCase() === '.onnx' ? 'onnx' : 'plan',
  };
}

/** The device's golden set from the config; null when none is configured. */
function goldenSet(config: AgentConfig): GoldenSet | null {
  const g = config.accuracyGate;
  return g.images && g.labels
    ? { images: g.images, labels: g.labels, apMode: g.apMode, iou: g.iou }
    : null;
}

function describeExit(e: RunnerExit): string {
  const how = e.signal ? `signal ${e.signal}` : `exit ${e.code}`;
  return e.error ? `${how} (${e.error.code}: ${e.error.message})` : how;
}

/**
 * The device agent: supervises the runner, turns its output into faces windows and metrics, keeps
 * status and reported state current, and applies engine updates from the desired state. Every
 * message goes through the durable outbox.
 */
export function createAgent(options: AgentOptions): Agent {
  const { config, log } = options;
  const startedAt = Date.now();
  const deviceId = config.deviceId;
  const identity = identifyDevice(config.health, options.arch ?? process.arch, config.deviceClass);
  const trtVersion = config.trtVersion ?? (identity.isJetson ? detectTrtVersion() : null);
  // deviceId is in every line already (main.ts's pino base)
  log.info({ ...identity, trtVersion, node: process.version }, 'agent starting');

  const outbox =
    options.outbox ??
    openOutbox({
      path: join(config.dataDir, 'agent.db'),
      maxMessages: config.outbox.maxMessages,
      onDrop: (m) => log.warn(m, 'outbox full: dropped a message'),
    });
  // journal mode, synchronous level and which SQLite addon: what the outbox's guarantees rest on
  log.info({ storage: outbox.storage() }, 'outbox open');
  let link: MqttLink | null = null;
  const pump = () => link?.pump();
  const store = openEngineStore({
    outbox,
    deviceId,
    bootstrap: bootstrapEngine(config),
    onReported: pump,
  });

  const runnerArgs = () =>
    runnerRunArgs(store.get().current, config.runner, config.cameras ?? null);
  const supervisor: DetectionSource = options.source
    ? options.source(() => store.get().current.ref)
    : createRunnerSupervisor({
        command: config.runner.bin,
        args: runnerArgs,
        log: log.child({ component: 'runner' }),
        ...config.supervisor,
      });
  const health =
    options.health ??
    createHealthCollector({
      identity,
      paths: config.health,
      tegrastatsBin: config.health.tegrastatsBin,
      nvpmodelBin: config.health.nvpmodelBin,
      log: log.child({ component: 'health' }),
    });

  // --- telemetry ------------------------------------------------------------------------------
  const cameras = createCameraTelemetry({
    ids: configuredCameras(config).map((c) => c.id),
    boxes: config.publish.boxes,
    now: Date.now(),
  });
  const metrics = createRunnerMetrics({ now: Date.now() });
  // The running engine's runner stats windows (the FPS gate's baseline), kept across agent restarts
  // so that a gate soon after one, or a rebuild after a TensorRT upgrade, has figures to compare with.
  const persisted = outbox.getState<RunnerStatsRecord>(RUNNER_STATS_STATE);
  const same = (a: EngineRef, b: EngineRef) => a.id === b.id && a.sha256 === b.sha256;
  const statsHistory = createStatsHistory({
    maxS: STATS_HISTORY_S,
    initial: persisted && same(persisted.engine, store.get().current.ref) ? persisted.windows : [],
  });
  const windowListeners = new Set<(w: StatsWindow) => void>();
  let statsSavedAt = 0;
  supervisor.on('frame', (f) => {
    cameras.frame(f);
    metrics.frame(f);
  });
  supervisor.on('stats', (s) => {
    metrics.stats(s);
    cameras.stats(s);
    const w = statsHistory.add(s);
    if (!w) return;
    for (const l of windowListeners) l(w);
    const now = Date.now();
    if (now - statsSavedAt >= STATS_SAVE_EVERY_MS) {
      statsSavedAt = now;
      outbox.setState(RUNNER_STATS_STATE, {
        engine: store.get().current.ref,
        windows: statsHistory.windows(),
      } satisfies RunnerStatsRecord);
    }
  });
  supervisor.on('invalid', () => metrics.invalidLine());
  supervisor.on('spawn', () => {
    statsHistory.spawn();
    cameras.runnerStarting(Date.now());
  });
  supervisor.on('hello', (h) => {
    cameras.hello(h.cameras?.map((c) => c.id) ?? [], Date.now());
    publishStatus();
  });
  supervisor.on('exit', (e) => {
    if (!e.requested) metrics.restart();
    cameras.runnerDown(
      e.requested ? 'runner stopped' : `runner not running (${describeExit(e)})`,
      Date.now(),
    );
  });

  function publishFaces(now: number) {
    for (const { camera, window: w } of cameras.takeFaces(now)) {
      const seq = outbox.enqueue({
        kind: 'faces',
        topic: topics.faces(deviceId),
        build: (seq) => {
          let msg = parsePayload(
            facesSchema,
            { v: 1, deviceId, ...cameraField(camera), seq, ts: now, ...w },
            'faces',
          );
          if (JSON.stringify(msg).length > MAX_PAYLOAD_BYTES) {
            const { boxes: _dropped, ...rest } = msg;
            msg = rest;
          }
          return msg;
        },
      });
      // Every window the device produced, by seq: what the control plane should end up storing.
      log.debug(
        { seq, camera, start: w.start, end: w.end, frames: w.frames },
        'faces window queued',
      );
    }
    pump();
  }

  function publishMetrics(now: number) {
    const runner = metrics.take(now);
    const perCamera = cameras.takeMetrics(now);
    outbox.enqueue({
      kind: 'metrics',
      topic: topics.metrics(deviceId),
      build: (seq) =>
        parsePayload(
          metricsSchema,
          {
            v: 1,
            deviceId,
            seq,
            ts: now,
            intervalS: config.publish.metricsIntervalS,
            runner: runner && {
              ...runner,
              restarts: supervisor.snapshot().restarts,
              ...(perCamera.cameras.length > 0 ? { cameras: perCamera.cameras } : {}),
              ...(perCamera.batch ? { batch: perCamera.batch } : {}),
            },
            device: health.sample(),
            outbox: { pending: outbox.pending(), dropped: outbox.dropped() },
          },
          'metrics',
        ),
    });
    pump();
  }

  // --- status ---------------------------------------------------------------------------------
  const statusFor = (state: Status['state'], seq: number): Status => {
    const snap = supervisor.snapshot();
    const degraded = state === 'degraded';
    const offline = state === 'offline';
    const list = cameras
      .states()
      .map((c) =>
        offline
          ? { ...c, state: 'offline' as const, reason: 'device offline', since: Date.now() }
          : c,
      );
    return {
      v: 1,
      deviceId,
      seq,
      ts: Date.now(),
      state,
      deviceClass: identity.deviceClass,
      agent: { version: options.version, startedAt },
      runner: {
        state: state === 'offline' ? 'stopped' : snap.state,
        restarts: snap.restarts,
        pid: state === 'offline' ? null : snap.pid,
      },
      engine: store.get().current.ref,
      reason: degraded
        ? `runner crash loop: ${snap.lastExit ? describeExit(snap.lastExit) : 'repeated exits'}`.slice(
            0,
            256,
          )
        : state === 'offline'
          ? 'agent offline'
          : null,
      ...(list.length > 0 ? { cameras: list } : {}),
      // while connected: the seq the broker would give the will (see the protocol's willSeq)
      ...(state !== 'offline' && link && link.willSeq() >= 0 ? { willSeq: link.willSeq() } : {}),
    };
  };
  let lastStatusKey = '';
  function publishStatus(force = false) {
    const snap = supervisor.snapshot();
    const state: Status['state'] = snap.crashLoop ? 'degraded' : 'online';
    const key = `${state}|${snap.state}|${store.get().current.ref.id}|${cameras.key()}`;
    if (!force && key === lastStatusKey) return;
    lastStatusKey = key;
    outbox.enqueue({
      kind: 'status',
      topic: topics.status(deviceId),
      retain: true,
      build: (seq) => parsePayload(statusSchema, statusFor(state, seq), 'status'),
    });
    pump();
  }
  supervisor.on('state', () => publishStatus());
  // a camera that drops or comes back changes the status at once
  supervisor.on('camera', (line) => {
    cameras.camera(line);
    publishStatus();
  });
  supervisor.on('stats', () => publishStatus());

  // --- engine updates -------------------------------------------------------------------------
  let stopping = false;
  const gate: GateProbe = {
    waitForHello(timeoutMs) {
      return new Promise((resolve, reject) => {
        const cleanup = () => {
          clearTimeout(timer);
          supervisor.off('hello', onHello);
          supervisor.off('exit', onExit);
        };
        const onHello = () => {
          cleanup();
          resolve();
        };
        const onExit = (e: RunnerExit) => {
          cleanup();
          reject(
            e.requested || stopping
              ? new AbortedError('runner stopped')
              : new UpdateError(`runner exited before hello: ${describeExit(e)}`),
          );
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new UpdateError(`runner did not say hello within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        if (lastHelloPid !== null && lastHelloPid === supervisor.snapshot().pid) return onHello();
        supervisor.on('hello', onHello);
        supervisor.on('exit', onExit);
      });
    },
    hold(holdMs) {
      return new Promise((resolve, reject) => {
        const windows: StatsWindow[] = [];
        let covered = 0;
        const cleanup = () => {
          clearTimeout(timer);
          windowListeners.delete(onWindow);
          supervisor.off('exit', onExit);
        };
        const onWindow = (w: StatsWindow) => {
          windows.push(w);
          covered += w.windowS * 1000;
          if (covered >= holdMs) {
            cleanup();
            resolve(windows);
          }
        };
        const onExit = (e: RunnerExit) => {
          cleanup();
          reject(
            e.requested || stopping
              ? new AbortedError('runner stopped')
              : new UpdateError(`runner crashed during the health gate: ${describeExit(e)}`),
          );
        };
        // a warm-up window, then enough windows to cover the hold, and generous slack: a device whose
        // agent is starved of CPU for a while (1,000 simulated in one process while all of them verify
        // and bench an engine) gets its stats late, which is no fault of the engine
        const limitMs = holdMs + 3 * config.runner.statsIntervalS * 1000 + Math.max(60_000, holdMs);
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new UpdateError(
              `health gate: the runner's stats covered ${(covered / 1000).toFixed(1)} of ${holdMs / 1000} s in ${(limitMs / 1000).toFixed(0)} s`,
            ),
          );
        }, limitMs);
        windowListeners.add(onWindow);
        supervisor.on('exit', onExit);
      });
    },
    recentWindows: () => statsHistory.windows(),
  };
  let lastHelloPid: number | null = null;
  supervisor.on('hello', (h) => {
    lastHelloPid = supervisor.snapshot().pid ?? h.pid;
  });

  let reconciler: ReturnType<typeof createReconciler>;
  const executors = createExecutors({
    store,
    dataDir: config.dataDir,
    controlPlaneUrl: config.controlPlaneUrl,
    deviceId,
    token: config.deviceToken,
    ca: config.caFile ? readFileSync(config.caFile) : undefined,
    fleetPublicKey: config.fleetPublicKey,
    trtexecBin: config.trtexec.bin,
    trtexecBuildArgs: config.trtexec.buildArgs,
    helloTimeoutS: config.healthGate.helloTimeoutS,
    runnerBin: config.runner.bin,
    runnerConfigFile: config.runner.configFile,
    goldenSet: goldenSet(config),
    evalTimeoutS: config.accuracyGate.timeoutS,
    trtVersion,
    restartRunner: async (reason) => {
      lastHelloPid = null;
      await supervisor.restart(reason);
      publishStatus(true);
    },
    gate,
    log: log.child({ component: 'update' }),
    desired: () => reconciler.desired(),
  });
  reconciler = createReconciler({
    store,
    executors,
    facts: { deviceClass: identity.deviceClass, trtVersion, goldenSet: goldenSet(config) !== null },
    log: log.child({ component: 'update' }),
  });

  function onDesired(payload: Buffer) {
    if (payload.length === 0) return; // retained desired state cleared
    let desired: Desired;
    try {
      desired = parseJsonPayload(desiredSchema, payload, 'desired');
    } catch (err) {
      if (err instanceof PayloadError)
        return log.warn({ err: err.message }, 'ignoring invalid desired state');
      throw err;
    }
    if (desired.deviceId !== deviceId) {
      return log.warn(
        { desiredFor: desired.deviceId },
        'ignoring desired state for another device',
      );
    }
    const known = reconciler.desired();
    if (known && desired.rev < known.rev) {
      return log.warn({ rev: desired.rev, known: known.rev }, 'ignoring an older desired rev');
    }
    log.info({ rev: desired.rev, engine: desired.engine?.id ?? null }, 'desired state');
    reconciler.setDesired(desired);
  }

  const timers: NodeJS.Timeout[] = [];
  return {
    connected: () => link?.connected() ?? false,
    start() {
      link = createMqttLink({
        url: config.brokerUrl,
        deviceId,
        token: config.deviceToken,
        outbox,
        log: log.child({ component: 'mqtt' }),
        inflight: config.outbox.inflight,
        keepaliveS: config.mqtt.keepaliveS,
        reconnectMs: config.mqtt.reconnectMs,
        caFile: config.mqtt.caFile ?? config.caFile,
        certFile: config.mqtt.certFile,
        keyFile: config.mqtt.keyFile,
        will: (seq) => ({ ...statusFor('offline', seq), will: true }),
        onConnect: () => publishStatus(true),
        onDesired,
      });
      health.start();
      supervisor.start();
      // reported state after every start: what runs now and how the last update ended
      store.report();
      reconciler.kick();
      timers.push(setInterval(() => publishFaces(Date.now()), config.publish.facesWindowS * 1000));
      timers.push(
        setInterval(() => publishMetrics(Date.now()), config.publish.metricsIntervalS * 1000),
      );
    },
    async stop() {
      stopping = true;
      for (const t of timers) clearInterval(t);
      log.info('agent stopping');
      const reconciled = reconciler.stop();
      await supervisor.stop();
      await Promise.race([reconciled, new Promise((r) => setTimeout(r, 2000))]);
      publishFaces(Date.now());
      outbox.enqueue({
        kind: 'status',
        topic: topics.status(deviceId),
        retain: true,
        build: (seq) => statusFor('offline', seq),
      });
      if (link) {
        const drained = await link.drain(options.flushTimeoutMs ?? 5000);
        log.info(
          { drained, pending: outbox.pending() },
          'outbox flushed as far as the link allows',
        );
        await link.close();
      }
      await health.stop();
      outbox.close();
      log.info('agent stopped');
    },
  };
}
