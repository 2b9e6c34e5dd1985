import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlPlane } from './control-plane.js';
import { agentMain, blazefaceModel, megamind, requireBuilt, runnerBin } from './paths.js';
import { type RunningProcess, startProcess } from './process.js';
import { waitFor } from './wait.js';

/** The device class a CPU agent detects itself as on this machine. */
export const hostDeviceClass = process.arch === 'arm64' ? 'generic-arm64' : 'generic-x86_64';

export interface AgentOptions {
  /** Enrolls the device (unless `token` is given), serves engines, signs them. */
  controlPlane: Pick<ControlPlane, 'url' | 'mqttUrl' | 'enroll' | 'publicKey'>;
  deviceId: string;
  /** The device's token: enrollment is skipped (a restart, or a login already added to a broker). */
  token?: string;
  /** Default: this machine's generic class, which the agent then also reports. */
  deviceClass?: string;
  tags?: string[];
  /** Default: the control plane's broker. */
  brokerUrl?: string;
  /** Kept by `stop()` when given (the outbox and engines survive a restart); else a temp dir. */
  dataDir?: string;
  /** Default: Debian's Megamind.avi, looping at its own pace. */
  source?: string;
  /**
   * Several cameras (`--cameras`) instead of `source`, all served by one runner; file sources loop
   * at their own pace as `source` does.
   */
  cameras?: { id: string; source: string }[];
  /** The ONNX model to run until an engine update (default BlazeFace). */
  model?: string;
  /**
   * The runner processes at most this many frames per second (`--max-fps`; default 4): the sample
   * video at its 24 FPS would take most of a core per agent.
   */
  maxFps?: number;
  /** Default 1 s each, so tests see data quickly. */
  facesWindowS?: number;
  metricsIntervalS?: number;
  statsIntervalS?: number;
  /** Default `info`. */
  logLevel?: string;
  /** More agent flags (`--health-gate-hello-timeout-s`, …). */
  args?: string[];
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/** One line of the agent's pino log. */
export interface AgentLog {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Agent {
  deviceId: string;
  token: string;
  dataDir: string;
  process: RunningProcess;
  /** Its JSON log lines so far. */
  logs: AgentLog[];
  /** The first log line (seen or to come) whose msg is `msg` (or matches it) and passes `where`. */
  waitForLog(
    msg: string | RegExp,
    options?: { where?: (l: AgentLog) => boolean; timeoutMs?: number; since?: number },
  ): Promise<AgentLog>;
  /** SIGTERM (the agent stops its runner and publishes offline) and its exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL; keeps the data dir. */
  kill9(): Promise<void>;
  /**
   * Starts the agent again once this one has exited: the same device, token, data dir (its outbox
   * and engines) and flags. The new one owns the data dir as this one did.
   */
  restart(): Promise<Agent>;
  /** Removes a temp data dir. */
  cleanup(): void;
}

/**
 * Starts the built agent (`node apps/agent/dist/main.js`) for a device enrolled through the
 * control plane's API, supervising the real runner (BlazeFace on OpenCV DNN) on the sample video,
 * looping and paced. The same flags as scripts/start-demo.mjs, plus short windows for tests.
 */
export function startAgent(options: AgentOptions): Promise<Agent> {
  return launch(options, options.dataDir === undefined);
}

/** `ownDir`: the data dir is the harness's own, removed by `stop()` and `cleanup()`. */
async function launch(options: AgentOptions, ownDir: boolean): Promise<Agent> {
  const model = options.model ?? blazefaceModel;
  const sourceArgs = options.cameras
    ? ['--cameras', JSON.stringify(options.cameras.map((c) => `${c.id}=${c.source}`))]
    : ['--runner-source', options.source ?? megamind];
  const files = (options.cameras?.map((c) => c.source) ?? [options.source ?? megamind]).filter(
    (s) => s.startsWith('/'),
  );
  requireBuilt(agentMain, runnerBin, model, ...files);
  const cp = options.controlPlane;
  const deviceClass = options.deviceClass ?? hostDeviceClass;
  const token =
    options.token ?? (await cp.enroll(options.deviceId, { deviceClass, tags: options.tags ?? [] }));
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `ff-test-agent-`));
  const args = [
    ...(options.nodeArgs ?? []),
    agentMain,
    '--device-id',
    options.deviceId,
    '--device-class',
    deviceClass,
    '--broker-url',
    options.brokerUrl ?? cp.mqttUrl,
    '--control-plane-url',
    cp.url,
    '--fleet-public-key',
    await cp.publicKey(),
    '--data-dir',
    dataDir,
    '--log-level',
    options.logLevel ?? 'info',
    '--runner-bin',
    runnerBin,
    '--runner-backend',
    'opencv',
    '--runner-model',
    'blazeface',
    '--runner-bootstrap-model',
    model,
    ...sourceArgs,
    '--runner-loop',
    'true',
    '--runner-pace',
    'true',
    '--runner-stats-interval-s',
    String(options.statsIntervalS ?? 1),
    `--runner-extra-args=--max-fps ${options.maxFps ?? 4} --threads 1`,
    '--publish-faces-window-s',
    String(options.facesWindowS ?? 1),
    '--publish-metrics-interval-s',
    String(options.metricsIntervalS ?? 1),
    '--mqtt-reconnect-ms',
    '200',
    '--supervisor-backoff-initial-ms',
    '100',
    '--supervisor-backoff-max-ms',
    '1000',
    // no Jetson here: health from /proc only
    '--health-device-tree-model',
    join(dataDir, 'no-device-tree-model'),
    ...(options.args ?? []),
  ];
  const proc = startProcess(process.execPath, args, {
    name: `agent ${options.deviceId}`,
    // the token in the environment, as a unit's EnvironmentFile gives it: never in the arguments
    env: { FACEFLEET_DEVICE_TOKEN: token, ...options.env },
  });
  const logs: AgentLog[] = [];
  proc.onLine((line, stream) => {
    if (stream !== 'stdout' || !line.startsWith('{')) return;
    try {
      logs.push(JSON.parse(line) as AgentLog);
    } catch {
      // not a log line
    }
  });
  const cleanup = () => {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    deviceId: options.deviceId,
    token,
    dataDir,
    process: proc,
    logs,
    waitForLog(msg, o = {}) {
      const matches = (l: AgentLog) =>
        (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)) && (!o.where || o.where(l));
      return waitFor(
        () => {
          const found = logs.slice(o.since ?? 0).find(matches);
          if (found) return found;
          if (!proc.running) {
            throw new Error(
              `${proc.name} exited before logging ${msg}; its output:\n${proc.tail()}`,
            );
          }
          return undefined;
        },
        { timeoutMs: o.timeoutMs ?? 30_000, what: `${proc.name} to log ${msg}` },
      );
    },
    async stop(timeoutMs) {
      try {
        return await proc.stop(timeoutMs);
      } finally {
        cleanup();
      }
    },
    async kill9() {
      await proc.kill('SIGKILL');
    },
    async restart() {
      if (proc.running) throw new Error(`${proc.name}: restart() while it still runs`);
      if (!existsSync(dataDir)) throw new Error(`${proc.name}: its data dir was removed`);
      return launch({ ...options, token, dataDir }, ownDir);
    },
    cleanup,
  };
}
