import { type ChildProcess, spawn } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { scriptNodeFlags } from '../node-flags.js';
import { repoRoot } from './fixtures.js';

/** The agent as it ships (scripts/bundle.mjs, part of `pnpm build`). */
export const AGENT_BUNDLE = join(repoRoot, 'apps/agent/dist/facefleet-agent.js');

export interface AgentProcessOptions {
  deviceId: string;
  token: string;
  brokerUrl: string;
  controlPlaneUrl: string;
  dataDir: string;
  publicKey: KeyObject;
  runnerBin: string;
  model: string;
  source: string;
  /** Extra FACEFLEET_* settings. */
  env?: Record<string, string>;
  /** Node.js flags instead of those the bundle's first line names (the benchmark compares them). */
  nodeArgs?: string;
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/**
 * The shipped agent (apps/agent/dist/facefleet-agent.js) as a real child process with the Node
 * flags its first line names, as the bin and the systemd unit run it; configured through its
 * environment.
 */
export function startAgent(o: AgentProcessOptions) {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    FACEFLEET_DEVICE_ID: o.deviceId,
    FACEFLEET_DEVICE_TOKEN: o.token,
    FACEFLEET_BROKER_URL: o.brokerUrl,
    FACEFLEET_CONTROL_PLANE_URL: o.controlPlaneUrl,
    FACEFLEET_DATA_DIR: o.dataDir,
    FACEFLEET_FLEET_PUBLIC_KEY: o.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    FACEFLEET_RUNNER_BIN: o.runnerBin,
    FACEFLEET_RUNNER_BOOTSTRAP_MODEL: o.model,
    FACEFLEET_RUNNER_SOURCE: o.source,
    FACEFLEET_RUNNER_LOOP: 'true',
    FACEFLEET_RUNNER_PACE: 'true',
    FACEFLEET_RUNNER_STATS_INTERVAL_S: '1',
    FACEFLEET_PUBLISH_FACES_WINDOW_S: '0.25',
    FACEFLEET_PUBLISH_METRICS_INTERVAL_S: '1',
    FACEFLEET_MQTT_RECONNECT_MS: '200',
    FACEFLEET_SUPERVISOR_BACKOFF_INITIAL_MS: '100',
    FACEFLEET_SUPERVISOR_BACKOFF_MAX_MS: '500',
    FACEFLEET_LOG_LEVEL: 'debug',
    // a /proc-only health collector: no Jetson here
    FACEFLEET_HEALTH_DEVICE_TREE_MODEL: join(o.dataDir, 'no-device-tree-model'),
    ...o.env,
  };
  const nodeArgs =
    o.nodeArgs === undefined
      ? scriptNodeFlags(AGENT_BUNDLE)
      : o.nodeArgs.split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, AGENT_BUNDLE], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  /** stdout's lines as written (JSON.parse hides a key written twice: the last one wins). */
  const rawLogs: string[] = [];
  const stderr: string[] = [];
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        logs.push(JSON.parse(l) as LogLine);
        rawLogs.push(l);
      } catch {
        stderr.push(l);
      }
    });
  }
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  // 'close': after the exit and after the last line of its output was read, so `logs` is complete
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    rawLogs,
    stderr,
    exited,
    /** SIGTERM and wait for the exit status. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      child.kill('SIGKILL');
      return exited;
    },
    has: (msg: string) => logs.some((l) => l.msg === msg),
  };
}
