import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Agent, configSchema, createAgent, openOutbox } from '@facefleet/agent';
import { type DeviceClass, modelCardFps } from '@facefleet/protocol';
import type { Logger } from 'pino';
import type { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { createSyntheticHealth } from './device-health.js';
import type { PlannedDevice } from './fleet-plan.js';
import {
  createFrameClock,
  createSyntheticSource,
  type SyntheticProfile,
} from './synthetic-source.js';

/** Camera ids of a simulated device with `k` cameras: "0", "1", … */
export const cameraIds = (k: number): string[] => Array.from({ length: k }, (_, i) => String(i));

/**
 * TensorRT version per class, as the JetPack each runs ships it: JetPack 4.6.1 (L4T R32.7.1, the
 * last for the Nano) has TensorRT 8.2.1; JetPack 5.1.2 (L4T R35.4.1) has TensorRT 8.5.2.
 */
export const CLASS_TRT: Partial<Record<DeviceClass, string>> = {
  'jetson-nano': '8.2.1',
  'jetson-xavier-nx': '8.5.2',
  'jetson-agx-xavier': '8.5.2',
};

/** Share of full inference speed a throttled device keeps. */
export const THROTTLE = 0.3;

export interface SimulatorOptions {
  client: ApiClient;
  devices: PlannedDevice[];
  /** Credentials, bootstrap engines, trtexec stand-ins and each device's downloads live here. */
  dataDir: string;
  mqttUrl: string;
  publicKeyPem: string;
  log: Logger;
  /** Mean faces in view per frame. */
  facesRate: number;
  cameraFps: number;
  /** Cameras per device (1: one camera "0", configured as `runner.source`, as before cameras). */
  camerasPerDevice?: number;
  /** The schedule of the flaky-camera devices' last camera: offline the last `forMs` of every `everyMs`. */
  cameraOutage?: { everyMs: number; forMs: number };
  /** When `throttle` devices slow down: from the start, or under the first engine an update brings. */
  throttleFrom: 'start' | 'update';
  facesWindowS: number;
  metricsIntervalS: number;
  /** TensorRT version for every device (default: by class, CLASS_TRT). */
  trt?: string | undefined;
  /** Devices connecting at once (first connections cost the server an scrypt each). */
  connectConcurrency: number;
  enrollConcurrency: number;
  signal: AbortSignal;
  progress: (line: string) => void;
  random?: () => number;
}

export interface SimulatorStats {
  devices: number;
  started: number;
  connected: number;
  /**
   * Devices whose runner has counted a stats window since it last started (the first is warm-up):
   * an update's FPS gate there has the running engine's figures to compare with.
   */
  measured: number;
  cpuPct: number;
  rssMb: number;
  heapMb: number;
}

interface Credentials {
  server: string;
  devices: Record<string, { token: string; deviceClass: string }>;
}

/** Runs `fn` over `items` with at most `limit` at a time; stops early when the signal aborts. */
async function pool<T>(
  items: T[],
  limit: number,
  signal: AbortSignal,
  fn: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** trtexec's performance summary for an engine of this class (the recorded real output's format). */
function trtexecScript(deviceClass: DeviceClass, trt: string): string {
  const fps = modelCardFps(deviceClass) ?? 100;
  const ms = 1000 / fps;
  const f = (x: number) => x.toFixed(4);
  // NvInferVersion's encoding up to TensorRT 8: major·1000 + minor·100 + patch (8.5.2 → 8502)
  const [major = 8, minor = 0, patch = 0] = trt.split('.').map(Number);
  const tag = major * 1000 + minor * 100 + patch;
  return [
    '#!/bin/sh',
    `# trtexec stand-in for simulated ${deviceClass} devices (TensorRT cannot run here): it prints`,
    "# trtexec's performance summary, in the format of recorded real output, with the class's",
    '# model-card throughput.',
    'for a in "$@"; do case "$a" in --saveEngine=*) printf simulated-plan > "$(echo "$a" | cut -d= -f2-)";; esac; done',
    "cat <<'EOF'",
    '[I] === Performance summary ===',
    `[I] Throughput: ${fps.toFixed(2)} qps`,
    `[I] Latency: min = ${f(ms * 0.96)} ms, max = ${f(ms * 1.12)} ms, mean = ${f(ms)} ms, median = ${f(ms * 0.99)} ms, percentile(90%) = ${f(ms * 1.03)} ms, percentile(95%) = ${f(ms * 1.05)} ms, percentile(99%) = ${f(ms * 1.09)} ms`,
    `&&&& PASSED TensorRT.trtexec [TensorRT v${tag}] # trtexec --loadEngine=model.plan`,
    'EOF',
    '',
  ].join('\n');
}

/**
 * The fleet simulator: enrolls its devices through the API (reusing earlier enrollments), then runs
 * one agent per device in this process — the agent's own config validation, outbox, MQTT link,
 * desired-state reconciler, engine download and verification, and reported state — with a synthetic
 * detection source and device health in place of the runner and tegrastats. Frames come from one
 * shared clock; outboxes are in-memory SQLite databases.
 */
export function createSimulator(options: SimulatorOptions) {
  const { client, log, devices } = options;
  const clock = createFrameClock(100);
  const agents = new Map<string, Agent>();
  let pid = 10_000;
  const measured = new Set<string>();
  let lastCpu = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  const credsFile = join(options.dataDir, 'credentials.json');

  function readCredentials(): Credentials {
    try {
      const c = JSON.parse(readFileSync(credsFile, 'utf8')) as Credentials;
      if (c.server === client.server && c.devices) return c;
    } catch {
      /* none yet */
    }
    return { server: client.server, devices: {} };
  }

  /** Enrolls what is missing; returns each device's token. */
  async function enroll(): Promise<Map<string, string>> {
    const creds = readCredentials();
    const onServer = new Map(
      (await client.listDevices({ tag: 'simulated' })).map((d) => [d.id, d]),
    );
    const tokens = new Map<string, string>();
    const todo: PlannedDevice[] = [];
    for (const d of devices) {
      const known = creds.devices[d.id];
      const server = onServer.get(d.id);
      const sameTags = server && [...server.tags].sort().join() === [...d.tags].sort().join();
      if (known && server && server.deviceClass === d.deviceClass && sameTags)
        tokens.set(d.id, known.token);
      else todo.push(d);
    }
    if (todo.length > 0) {
      options.progress(
        `enrolling ${todo.length} devices${tokens.size ? ` (${tokens.size} enrolled before)` : ''}`,
      );
    }
    let done = 0;
    await pool(todo, options.enrollConcurrency, options.signal, async (d) => {
      if (onServer.has(d.id)) await client.deleteDevice(d.id);
      const res = await client.enroll({ id: d.id, deviceClass: d.deviceClass, tags: d.tags });
      tokens.set(d.id, res.token);
      creds.devices[d.id] = { token: res.token, deviceClass: d.deviceClass };
      done += 1;
      if (done % 100 === 0) options.progress(`enrolled ${done}/${todo.length}`);
    });
    mkdirSync(options.dataDir, { recursive: true });
    writeFileSync(credsFile, `${JSON.stringify(creds)}\n`, { mode: 0o600 });
    chmodSync(credsFile, 0o600);
    return tokens;
  }

  function prepareFiles(classes: Set<DeviceClass>) {
    mkdirSync(options.dataDir, { recursive: true });
    for (const cls of classes) {
      writeFileSync(
        join(options.dataDir, `bootstrap-${cls}.plan`),
        `facefleet simulated bootstrap engine for ${cls}\n`,
      );
      const script = join(options.dataDir, `trtexec-${cls}.sh`);
      writeFileSync(script, trtexecScript(cls, options.trt ?? CLASS_TRT[cls] ?? '8.5.2'));
      chmodSync(script, 0o755);
    }
  }

  function createDevice(d: PlannedDevice, token: string): Agent {
    const trtVersion = options.trt ?? CLASS_TRT[d.deviceClass] ?? null;
    const cameras = cameraIds(options.camerasPerDevice ?? 1);
    const parsed = configSchema.safeParse({
      deviceId: d.id,
      deviceToken: token,
      brokerUrl: options.mqttUrl,
      controlPlaneUrl: client.server,
      dataDir: join(options.dataDir, 'devices', d.id),
      fleetPublicKey: options.publicKeyPem,
      deviceClass: d.deviceClass,
      trtVersion,
      logLevel: 'warn',
      runner: {
        bin: 'simulated',
        backend: 'tensorrt',
        model: 'detectnet_v2',
        bootstrapModel: join(options.dataDir, `bootstrap-${d.deviceClass}.plan`),
        ...(cameras.length === 1 ? { source: 'simulated camera' } : {}),
      },
      ...(cameras.length > 1
        ? { cameras: cameras.map((id) => ({ id, source: `simulated camera ${id}` })) }
        : {}),
      publish: {
        facesWindowS: options.facesWindowS,
        metricsIntervalS: options.metricsIntervalS,
        boxes: false,
      },
      supervisor: {
        backoffInitialMs: 250,
        backoffMaxMs: 4000,
        crashLoopExits: 3,
        crashLoopWindowS: 30,
      },
      outbox: { maxMessages: 2000, inflight: 8 },
      trtexec: { bin: join(options.dataDir, `trtexec-${d.deviceClass}.sh`) },
      mqtt: { keepaliveS: 60, reconnectMs: 2000 },
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CliError(`agent config for ${d.id}: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    const config = parsed.data;
    const card = modelCardFps(d.deviceClass) ?? 100;
    const random = options.random ?? Math.random;
    // device-to-device spread of a few percent (power supply, thermals, memory clocks)
    const spread = Math.min(
      1.05,
      Math.max(0.9, 1 + 0.03 * (random() + random() + random() - 1.5) * 2),
    );
    const profile: SyntheticProfile = {
      inferFps: card * spread,
      cameraFps: options.cameraFps,
      facesRate: options.facesRate,
      crash: d.role === 'crash',
      failGate: d.role === 'fail-gate',
      throttle: d.role === 'throttle' ? { factor: THROTTLE, from: options.throttleFrom } : null,
      width: 1280,
      height: 720,
      cameras,
      outage:
        d.role === 'flaky-camera'
          ? {
              camera: cameras[cameras.length - 1]!,
              everyMs: options.cameraOutage?.everyMs ?? 60_000,
              forMs: options.cameraOutage?.forMs ?? 20_000,
            }
          : null,
    };
    const agentLog = log.child({ deviceId: d.id });
    return createAgent({
      config,
      log: agentLog,
      version: '0.1.0-sim',
      flushTimeoutMs: 2000,
      outbox: openOutbox({
        path: ':memory:',
        // seqs from the clock: a later run never reuses one the control plane stored (it would
        // drop the message as a duplicate); ~1 message a second per device stays far below 1/ms
        firstSeq: Date.now(),
        maxMessages: config.outbox.maxMessages,
        onDrop: (m) => agentLog.warn(m, 'outbox full: dropped a message'),
      }),
      health: createSyntheticHealth(d.deviceClass, {
        busy: Math.min(
          1,
          profile.cameraFps /
            (profile.inferFps * (profile.throttle?.from === 'start' ? THROTTLE : 1)),
        ),
        random,
      }),
      source: (engine) => {
        const source = createSyntheticSource({
          profile,
          clock,
          engine,
          random,
          nextPid: () => ++pid,
          statsIntervalS: config.runner.statsIntervalS,
          ...config.supervisor,
        });
        // as the agent's stats history counts them: the first window after a start is warm-up
        let windows = 0;
        source.on('spawn', () => {
          windows = 0;
          measured.delete(d.id);
        });
        source.on('stats', () => {
          if (++windows >= 2) measured.add(d.id);
        });
        return source;
      },
    });
  }

  return {
    /** Enrolls, then starts every device, at most `connectConcurrency` connecting at a time. */
    async start(): Promise<void> {
      const tokens = await enroll();
      if (options.signal.aborted) return;
      prepareFiles(new Set(devices.map((d) => d.deviceClass)));
      options.progress(`starting ${devices.length} devices`);
      let started = 0;
      await pool(devices, options.connectConcurrency, options.signal, async (d) => {
        const agent = createDevice(d, tokens.get(d.id)!);
        agents.set(d.id, agent);
        agent.start();
        started += 1;
        const deadline = Date.now() + 20_000;
        while (!agent.connected() && Date.now() < deadline && !options.signal.aborted) {
          await new Promise((r) => setTimeout(r, 50));
        }
        if (started % 100 === 0) options.progress(`started ${started}/${devices.length}`);
      });
    },
    stats(): SimulatorStats {
      const cpu = process.cpuUsage(lastCpu);
      const now = process.hrtime.bigint();
      const elapsedUs = Number(now - lastAt) / 1000;
      lastCpu = process.cpuUsage();
      lastAt = now;
      const mem = process.memoryUsage();
      let connected = 0;
      for (const a of agents.values()) if (a.connected()) connected += 1;
      return {
        devices: devices.length,
        started: agents.size,
        connected,
        measured: measured.size,
        cpuPct: elapsedUs > 0 ? Math.round(((cpu.user + cpu.system) / elapsedUs) * 1000) / 10 : 0,
        rssMb: Math.round(mem.rss / 2 ** 20),
        heapMb: Math.round(mem.heapUsed / 2 ** 20),
      };
    },
    /** Stops every agent (each publishes offline and closes its link), then the clock. */
    async stop(): Promise<void> {
      await Promise.all([...agents.values()].map((a) => a.stop().catch(() => undefined)));
      agents.clear();
      clock.stop();
    },
    /**
     * Deletes the simulated devices from the server and the simulator's files. Takes its own client:
     * it runs after the command's signal was aborted.
     */
    async cleanup(api: ApiClient): Promise<number> {
      let deleted = 0;
      const never = new AbortController().signal;
      await pool(devices, options.enrollConcurrency, never, async (d) => {
        try {
          await api.deleteDevice(d.id);
          deleted += 1;
        } catch (err) {
          if (!(err instanceof CliError && err.exitCode === EXIT.notFound)) throw err;
        }
      });
      rmSync(options.dataDir, { recursive: true, force: true });
      return deleted;
    },
  };
}
export type Simulator = ReturnType<typeof createSimulator>;
