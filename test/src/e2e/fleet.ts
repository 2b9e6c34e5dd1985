import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Agent,
  blazefaceModel,
  type ControlPlane,
  hostDeviceClass,
  type Mosquitto,
  type MosquittoSub,
  mosquittoSub,
  repoRoot,
  startAgent,
  startControlPlane,
  startMosquitto,
  waitFor,
} from '@facefleet/test-support';
import Database from 'better-sqlite3';

/**
 * A whole fleet on this machine: the built control plane, three built agents each supervising the
 * real runner (BlazeFace on OpenCV DNN, Debian's Megamind.avi looping at its own pace, at most 4
 * frames a second), and an outside subscriber (Debian's mosquitto_sub) logged in with read-only
 * credentials made through the API. With `external`, the broker is Debian's mosquitto with the
 * shipped ACL and a password file the test keeps in step with enrollment, as
 * infra/brokers/mosquitto/README.md tells an operator to.
 */

export const DEVICE_IDS = ['e2e-cam-1', 'e2e-cam-2', 'e2e-cam-3'] as const;
export const TAG = 'e2e';
export const SUBSCRIBER = 'e2e-watcher';

export interface Fleet {
  cp: ControlPlane;
  agents: Agent[];
  /** The external broker, in external mode. */
  broker: Mosquitto | undefined;
  subscriber: { username: string; password: string };
  /** mosquitto_sub on faces and alerts with the subscriber's credentials, started before the agents. */
  sub: MosquittoSub;
  /** Stops everything, the subscriber and agents first; every exit code, by name. */
  stop(): Promise<Record<string, number | null>>;
}

export async function startFleet(
  options: {
    external?: boolean;
    /** More agent settings (FACEFLEET_* variables), per device. */
    agentEnv?: (deviceId: string) => Record<string, string>;
  } = {},
): Promise<Fleet> {
  const started: { name: string; stop: () => Promise<number | null> }[] = [];
  const stop = async () => {
    const codes: Record<string, number | null> = {};
    // the reverse of the start order: subscriber and agents before the control plane and broker
    for (const s of started.reverse()) {
      codes[s.name] = await s.stop().catch((err: Error) => {
        codes[`${s.name} (error)`] = -1;
        console.error(err.message);
        return null;
      });
    }
    return codes;
  };
  try {
    let broker: Mosquitto | undefined;
    let cp: ControlPlane;
    if (options.external) {
      const cpPassword = `cp-${Math.random().toString(36).slice(2)}`;
      const shipped = readFileSync(join(repoRoot, 'infra/brokers/mosquitto/facefleet.acl'), 'utf8');
      // A read-only subscriber needs its own block: Mosquitto cannot match a username prefix.
      const acl = `${shipped}\nuser subscriber@${SUBSCRIBER}\ntopic read facefleet/v1/alerts/#\ntopic read facefleet/v1/devices/+/faces\n`;
      broker = await startMosquitto({
        users: { 'control-plane': cpPassword },
        acl,
        persistence: true,
        config: ['message_size_limit 65536', 'max_inflight_messages 32'],
      });
      const b = broker;
      started.push({
        name: 'mosquitto',
        stop: async () => {
          const code = await b.stop();
          await b.close();
          return code;
        },
      });
      cp = await startControlPlane({ broker: broker.url, brokerPassword: cpPassword });
    } else {
      cp = await startControlPlane();
    }
    started.push({ name: 'control-plane', stop: () => cp.stop() });

    const subscriber = await cp.json<{ username: string; password: string }>(
      'POST',
      '/api/v1/subscribers',
      { name: SUBSCRIBER },
      { expect: 201 },
    );
    await broker?.addUsers({ [subscriber.username]: subscriber.password });
    const sub = await mosquittoSub({
      url: cp.mqttUrl,
      username: subscriber.username,
      password: subscriber.password,
      topics: ['facefleet/v1/devices/+/faces', 'facefleet/v1/alerts/#'],
    });
    started.push({ name: 'mosquitto_sub', stop: () => sub.stop() });

    const agents: Agent[] = [];
    for (const deviceId of DEVICE_IDS) {
      const token = await cp.enroll(deviceId, { deviceClass: hostDeviceClass, tags: [TAG] });
      await broker?.addUsers({ [deviceId]: token });
      const agent = await startAgent({
        controlPlane: cp,
        deviceId,
        token,
        ...(options.agentEnv ? { env: options.agentEnv(deviceId) } : {}),
      });
      agents.push(agent);
      started.push({ name: deviceId, stop: () => agent.stop() });
    }
    return { cp, agents, broker, subscriber, sub, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Reads the control plane's SQLite file, read-only, while it runs. */
export function readDb<T>(cp: ControlPlane, read: (db: Database.Database) => T): T {
  const db = new Database(cp.dbFile, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

interface DeviceDoc {
  device: {
    id: string;
    status: {
      state: string;
      runner: { state: string; pid: number | null; restarts: number };
      engine: { id: string; sha256: string } | null;
    } | null;
    reported: {
      rev: number;
      engine: { id: string; sha256: string } | null;
      update: {
        state: string;
        engineId: string | null;
        rolloutId: string | null;
        reason: string | null;
      };
    } | null;
  };
}

export async function device(cp: ControlPlane, id: string): Promise<DeviceDoc['device']> {
  return (await cp.json<DeviceDoc>('GET', `/api/v1/devices/${id}`)).device;
}

export interface Rollout {
  id: string;
  state: string;
  reason: string | null;
  targets: { deviceId: string; stage: string; state: string; rev: number | null }[];
}

export async function rollout(cp: ControlPlane, id: string): Promise<Rollout> {
  return (await cp.json<{ rollout: Rollout }>('GET', `/api/v1/rollouts/${id}`)).rollout;
}

/** Waits until rollout `id` is in state `want`; throws at once if it reaches one of `fail`. */
export function rolloutUntil(
  cp: ControlPlane,
  id: string,
  want: string,
  fail: string[],
  timeoutMs = 150_000,
): Promise<Rollout> {
  return waitFor(
    async () => {
      const r = await rollout(cp, id);
      if (fail.includes(r.state)) {
        throw new Error(`rollout ${id} ${r.state}: ${r.reason}\n${JSON.stringify(r.targets)}`);
      }
      return r.state === want ? r : null;
    },
    { timeoutMs, intervalMs: 250, what: `rollout ${id} to be ${want}` },
  );
}

export interface HistoryEntry {
  ts: number;
  rev: number;
  state: string;
  engineId: string | null;
  rolloutId: string | null;
  reason: string | null;
}

export async function updateHistory(cp: ControlPlane, id: string): Promise<HistoryEntry[]> {
  const h = await cp.json<{ updates: HistoryEntry[] }>(
    'GET',
    `/api/v1/devices/${id}/history?limit=1000`,
  );
  return h.updates;
}

/** Uploads `bytes` as an ONNX engine for the agents' class (BlazeFace on OpenCV DNN). */
export async function uploadEngine(
  cp: ControlPlane,
  id: string,
  bytes: Buffer,
): Promise<{ id: string; sha256: string }> {
  const q = new URLSearchParams({
    id,
    name: `${id}.onnx`,
    model: 'blazeface',
    backend: 'opencv',
    format: 'onnx',
    deviceClass: hostDeviceClass,
    precision: 'fp32',
    inputDims: '3,256,256',
  });
  const r = await cp.json<{ engine: { id: string; sha256: string } }>(
    'POST',
    `/api/v1/engines?${q}`,
    bytes,
    { expect: 201 },
  );
  return r.engine;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * A valid BlazeFace engine with a sha256 of its own: the same model with `label` as its ONNX
 * doc_string. (A protobuf message followed by another is their merge, so appending field 6,
 * ModelProto.doc_string, is a well-formed model that OpenCV loads like the original.)
 */
export function blazefaceVariant(label: string): Buffer {
  const doc = Buffer.from(label);
  if (doc.length > 127) throw new Error('blazefaceVariant: keep the label under 128 bytes');
  return Buffer.concat([readFileSync(blazefaceModel), Buffer.from([0x32, doc.length]), doc]);
}

/**
 * The model file that the runner process behind the device's reported status has open: its path
 * and sha256; null while no runner runs (or it restarted since the status was published).
 */
export async function runnerModel(
  cp: ControlPlane,
  id: string,
): Promise<{ pid: number; path: string; sha256: string } | null> {
  const d = await device(cp, id);
  const pid = d.status?.runner.pid;
  if (!pid || d.status?.runner.state !== 'running') return null;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null; // restarted since the status was published
  }
  const path = argv[argv.indexOf('--model') + 1];
  return path ? { pid, path, sha256: sha256(readFileSync(path)) } : null;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1), so a random test can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
