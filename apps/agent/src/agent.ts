import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
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
import type { AgentConfig } from './config.js';
import { AbortedError, UpdateError } from './errors.js';
import {
  createHealthCollector,
  detectTrtVersion,
  type HealthCollector,
  identifyDevice,
} from './health/collector.js';
import { createMqttLink, type MqttLink } from './mqtt/link.js';
import { type Outbox, openOutbox } from './outbox/outbox.js';
import {
  createRunnerSupervisor,
  type RunnerExit,
  type RunnerSupervisor,
} from './runner/supervisor.js';
import { createFacesAggregator } from './telemetry/faces-window.js';
import { createFpsMeter } from './telemetry/fps-meter.js';
import { createRunnerMetrics } from './telemetry/runner-metrics.js';
import { openEngineStore } from './update/engine-store.js';
import { createExecutors, type GateProbe } from './update/executors.js';
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

  const runnerArgs = (): string[] => {
    const engine = store.get().current;
    const r = config.runner;
    return [
      'run',
      '--backend',
      engine.ref.backend,
      '--decoder',
      engine.ref.model,
      '--model',
      engine.path,
      '--source',
      r.source,
      ...(r.loop ? ['--loop'] : []),
      ...(r.pace ? ['--pace'] : []),
      '--stats-interval',
      String(r.statsIntervalS),
      ...(r.configFile ? ['--config', r.configFile] : []),
      ...r.extraArgs,
    ];
  };
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
  const faces = createFacesAggregator({ boxes: config.publish.boxes, now: Date.now() });
  const metrics = createRunnerMetrics({ now: Date.now() });
  const fpsMeter = createFpsMeter();
  supervisor.on('frame', (f) => {
    faces.add(f);
    metrics.frame(f);
    fpsMeter.frame(Date.now());
  });
  supervisor.on('stats', (s) => metrics.stats(s));
  supervisor.on('invalid', () => metrics.invalidLine());
  supervisor.on('spawn', () => fpsMeter.reset());
  supervisor.on('exit', (e) => {
    if (!e.requested) metrics.restart();
  });

  function publishFaces(now: number) {
    const w = faces.take(now);
    if (!w) return;
    const seq = outbox.enqueue({
      kind: 'faces',
      topic: topics.faces(deviceId),
      build: (seq) => {
        let msg = parsePayload(facesSchema, { v: 1, deviceId, seq, ts: now, ...w }, 'faces');
        if (JSON.stringify(msg).length > MAX_PAYLOAD_BYTES) {
          const { boxes: _dropped, ...rest } = msg;
          msg = rest;
        }
        return msg;
      },
    });
    // Every window the device produced, by seq: what the control plane should end up storing.
    log.debug({ seq, start: w.start, end: w.end, frames: w.frames }, 'faces window queued');
    pump();
  }

  function publishMetrics(now: number) {
    const runner = metrics.take(now);
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
            runner: runner && { ...runner, restarts: supervisor.snapshot().restarts },
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
      // while connected: the seq the broker would give the will (see the protocol's willSeq)
      ...(state !== 'offline' && link && link.willSeq() >= 0 ? { willSeq: link.willSeq() } : {}),
    };
  };
  let lastStatusKey = '';
  function publishStatus(force = false) {
    const snap = supervisor.snapshot();
    const state: Status['state'] = snap.crashLoop ? 'degraded' : 'online';
    const key = `${state}|${snap.state}|${store.get().current.ref.id}`;
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
        let frames = 0;
        let first = 0;
        let last = 0;
        const cleanup = () => {
          clearTimeout(timer);
          supervisor.off('frame', onFrame);
          supervisor.off('exit', onExit);
        };
        const onFrame = () => {
          last = Date.now();
          if (frames === 0) first = last;
          frames += 1;
        };
        const onExit = (e: RunnerExit) => {
          cleanup();
          reject(
            e.requested || stopping
              ? new AbortedError('runner stopped')
              : new UpdateError(`runner crashed during the health gate: ${describeExit(e)}`),
          );
        };
        const timer = setTimeout(() => {
          cleanup();
          if (holdMs > 0 && frames === 0) {
            reject(new UpdateError(`no frame from the runner in ${holdMs / 1000} s`));
            return;
          }
          resolve(frames > 1 && last > first ? ((frames - 1) * 1000) / (last - first) : frames);
        }, holdMs);
        supervisor.on('frame', onFrame);
        supervisor.on('exit', onExit);
      });
    },
    currentFps: () => fpsMeter.fps(Date.now()),
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
    facts: { deviceClass: identity.deviceClass, trtVersion },
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
