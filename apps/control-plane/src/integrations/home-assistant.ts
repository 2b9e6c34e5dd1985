import { readFileSync } from 'node:fs';
import {
  cameraOf,
  deviceCameras,
  haDiscoveryMessages,
  haDiscoveryTopics,
  haStatusTopic,
  type Status,
} from '@facefleet/protocol';
import type { DeviceRow, Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { Broker } from '../broker/types.js';
import type { CommittedMessage } from '../ingest/ingest.js';

export interface HaDiscoveryOptions {
  /** Home Assistant's discovery prefix (`homeassistant`). */
  prefix: string;
  broker: Broker;
  store: {
    devices: Pick<Store['devices'], 'get' | 'list'>;
    telemetry: Pick<Store['telemetry'], 'lastCameraFacesAll'>;
  };
  log: Logger;
  /** Whether this instance does the fleet-wide publishing (the leader; one process: always). */
  leading: () => boolean;
  /**
   * Devices a second when every device's configs are published (start, leadership, Home
   * Assistant's birth message); default REPUBLISH_DEVICES_PER_S. A single device's change is
   * published at once.
   */
  republishDevicesPerS?: number;
}

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Devices whose configs are published at once (each is a handful of retained messages). */
const CONCURRENCY = 64;

/**
 * How fast every device's configs are published again: 10,000 devices in 20 s. They are needed
 * at once only where a broker lost its retained messages (the embedded broker keeps them in
 * memory), and that is when the control plane starts: when the whole fleet logs in again. At full
 * speed the 50,000 retained messages of 10,000 devices took ~1 s of the event loop in the middle
 * of those logins (the ingest bench's reconnect: 4.7-4.9 s with it, 4.1 s without).
 */
export const REPUBLISH_DEVICES_PER_S = 500;

/**
 * A device's cameras as discovery shows them: those of its newest status, then any camera whose
 * newest window or metrics sample is newer than that status (it sent since, or the device never
 * sent a status); `gone` are the cameras the store has figures of that are not among them (a newer
 * status no longer lists them), whose configs are cleared. Nothing else in the store removes a
 * camera: cameras are configured on the device, and its status says which it has. (The newest
 * figures: every camera's newest window in the store, read for the fleet in one query when all
 * configs are published, and what committed windows and metrics named since.)
 */
export function haCameras(
  status: Pick<Status, 'state' | 'ts' | 'cameras'> | null,
  newest: ReadonlyMap<string, number>,
): { cameras: string[]; gone: string[] } {
  const cameras = deviceCameras(status).map((c) => c.id);
  const since = status?.ts ?? Number.NEGATIVE_INFINITY;
  for (const [camera, ts] of newest) {
    if (ts > since && !cameras.includes(camera)) cameras.push(camera);
  }
  return { cameras, gone: [...newest.keys()].filter((c) => !cameras.includes(c)) };
}

/**
 * Home Assistant MQTT discovery from the control plane (the payloads: protocol's
 * home-assistant.ts). Every enrolled device's configs are published retained when the leader
 * starts (the embedded broker keeps retained messages in memory only), when a device is enrolled
 * or changed, when a device's cameras change (a status lists other cameras, or a window or metrics
 * sample names a camera not seen yet), and again whenever Home Assistant announces itself on
 * `<prefix>/status` (its birth message after a restart, when it may have lost them). Configs that
 * are no longer wanted — all of a deleted device's, a camera's that the newest status no longer
 * lists, the device-level Faces of a device that now has several cameras — are cleared with empty
 * retained payloads, which makes Home Assistant remove those entities.
 */
export function createHaDiscovery(options: HaDiscoveryOptions) {
  const { prefix, broker, store, log } = options;
  const perS = options.republishDevicesPerS ?? REPUBLISH_DEVICES_PER_S;
  /** The cameras each device's published configs are of (its topics follow from them). */
  const published = new Map<string, Set<string>>();
  const publish = (topic: string, payload: string) =>
    broker.publish(topic, payload, { retain: true, qos: 1 });

  // When each device was last asked to sync on its own (a change): publishAll's snapshot of the
  // store is not used for a device asked after the snapshot was taken.
  let clock = 0;
  const asked = new Map<string, number>();

  /**
   * Cameras that committed windows or metrics named while the device's configs did not have them,
   * with their newest time (device clock), until a newer status settles whether they are the
   * device's: what the store has of them, without a query per device.
   */
  const seen = new Map<string, Map<string, number>>();

  /** A device as the store has it: its row (undefined: deleted) and its cameras' newest windows. */
  interface Loaded {
    device: DeviceRow | undefined;
    newest: ReadonlyMap<string, number>;
  }
  const load = async (id: string): Promise<Loaded> => ({
    device: await store.devices.get(id),
    newest: new Map(),
  });

  /** Publishes a device's configs as loaded and clears the ones it no longer has. */
  async function apply(id: string, loaded: Loaded): Promise<void> {
    const { device } = loaded;
    const before = published.get(id);
    const newest = new Map(loaded.newest);
    for (const [camera, ts] of seen.get(id) ?? []) {
      newest.set(camera, Math.max(ts, newest.get(camera) ?? ts));
    }
    // Validated against the protocol's schema before it was stored.
    const status = device?.statusJson ? (JSON.parse(device.statusJson) as Status) : null;
    const { cameras, gone } = device
      ? haCameras(status, newest)
      : { cameras: [], gone: [...newest.keys()] };
    for (const camera of gone) seen.get(id)?.delete(camera);
    const messages = device
      ? haDiscoveryMessages(prefix, { id, deviceClass: device.deviceClass, cameras }, version)
      : [];
    const keep = new Set(messages.map((m) => m.topic));
    // Every config it may have had, less those it has now: the device's (Faces included), the
    // per-camera ones published here before, and, once a camera is gone (it had several, perhaps
    // before this process started), those of the gone and the remaining cameras.
    const had = [
      ...(before && before.size > 1 ? before : []),
      ...(gone.length > 0 ? [...gone, ...cameras] : []),
    ];
    const clear = haDiscoveryTopics(prefix, id, [...new Set(had)]).filter((t) => !keep.has(t));
    await Promise.all([
      ...messages.map((m) => publish(m.topic, JSON.stringify(m.payload))),
      ...clear.map((topic) => publish(topic, '')),
    ]);
    if (device) published.set(id, new Set(cameras));
    else {
      published.delete(id);
      asked.delete(id);
      seen.delete(id);
    }
  }

  // One sync per device at a time; a request while one runs makes it run once more afterwards,
  // reading the store again. `loaded`: what publishAll read for it (used for the first run only).
  const syncing = new Map<string, { again: boolean; done: Promise<void> }>();
  function sync(id: string, loaded?: Loaded): Promise<void> {
    const running = syncing.get(id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      let first = loaded;
      do {
        entry.again = false;
        await apply(id, first ?? (await load(id)));
        first = undefined;
      } while (entry.again);
    })().finally(() => syncing.delete(id));
    syncing.set(id, entry);
    return entry.done;
  }

  const syncChanged = (id: string) => {
    asked.set(id, ++clock);
    return sync(id);
  };

  let running: Promise<number> | undefined;
  let again = false;
  // Shutting down: a fleet-wide publish stops between chunks (the next leader publishes them all).
  let stopped = false;
  let wake: (() => void) | undefined;
  /**
   * Every device's configs, CONCURRENCY devices at a time at `perS` devices a second; a call while
   * one runs makes it run once more afterwards. The store is read in two queries (devices with
   * their status, every camera's newest window), not per device: at 10,000 devices per-device
   * reads kept the event loop for seconds.
   */
  function publishAll(): Promise<number> {
    if (stopped) return Promise.resolve(0);
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let count = 0;
      do {
        again = false;
        count = 0;
        const stamp = clock;
        const [devices, windows] = await Promise.all([
          store.devices.list(),
          store.telemetry.lastCameraFacesAll(),
        ]);
        const started = Date.now();
        for (let i = 0; i < devices.length; i += CONCURRENCY) {
          if (i > 0) {
            // Ingest, logins and the API get their turn between chunks, and the chunks keep to
            // the rate.
            const due = started + (i / perS) * 1000;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, Math.max(0, due - Date.now()));
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = undefined;
            // shutting down, or another instance leads now (and publishes them all itself)
            if (stopped || !options.leading()) break;
          }
          const chunk = devices.slice(i, i + CONCURRENCY);
          await Promise.all(
            chunk.map((device) => {
              if ((asked.get(device.id) ?? 0) > stamp) return sync(device.id);
              const newest = new Map<string, number>();
              for (const [camera, w] of windows.get(device.id) ?? []) newest.set(camera, w.ts);
              return sync(device.id, { device, newest });
            }),
          );
          count += chunk.length;
        }
        if (stopped || !options.leading()) {
          log.info(
            { devices: count, of: devices.length, prefix },
            'home assistant: discovery stopped',
          );
          return count;
        }
      } while (again);
      log.info({ devices: count, prefix }, 'home assistant: discovery published');
      return count;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }
  const logFailure = (what: string) => (err: unknown) =>
    log.warn({ err }, `home assistant: ${what} failed`);
  const syncOrLog = (id: string) => syncChanged(id).catch(logFailure(`discovery of ${id}`));

  /**
   * Whether a committed message shows cameras of its device that its configs do not have (the
   * cameras a window or metrics sample names are noted in `seen`).
   */
  function camerasChanged({ message }: CommittedMessage): boolean {
    const id = message.data.deviceId;
    const known = published.get(id) ?? new Set<string>();
    let named: string[];
    switch (message.kind) {
      case 'status': {
        const listed = deviceCameras(message.data).map((c) => c.id);
        return listed.length !== known.size || !listed.every((c) => known.has(c));
      }
      case 'faces':
        named = [cameraOf(message.data)];
        break;
      case 'metrics':
        named = (message.data.runner?.cameras ?? []).map((c) => c.id);
        break;
      default:
        return false;
    }
    const unknown = named.filter((c) => !known.has(c));
    if (unknown.length === 0) return false;
    const cams = seen.get(id) ?? new Map<string, number>();
    for (const c of unknown) cams.set(c, Math.max(message.data.ts, cams.get(c) ?? 0));
    seen.set(id, cams);
    return true;
  }

  return {
    publishAll,

    /** A device was enrolled, changed or deleted (here or on another instance). */
    async deviceChanged(id: string): Promise<void> {
      if (!options.leading()) return;
      await syncOrLog(id);
    },

    /**
     * A committed ingest batch (this instance's or another's): devices whose cameras changed get
     * their configs again (read from the store, so an out-of-order status cannot undo a newer one).
     * Replays the database already held are not news.
     */
    onCommit(batch: CommittedMessage[]): void {
      if (!options.leading()) return;
      const changed = new Set<string>();
      for (const m of batch) {
        if (m.stored && camerasChanged(m)) changed.add(m.message.data.deviceId);
      }
      for (const id of changed) void syncOrLog(id);
    },

    /**
     * Shutting down: a fleet-wide publish in progress stops after its current chunk and no new one
     * starts; a single device's changes are still published (until the broker closes).
     */
    stop(): void {
      stopped = true;
      wake?.();
    },

    /** Settles when no device's configs are being published (tests, shutdown). */
    async idle(): Promise<void> {
      while (syncing.size > 0 || running) {
        await Promise.allSettled([running, ...[...syncing.values()].map((s) => s.done)]);
      }
    },

    /** Listens for Home Assistant's birth message on the broker. */
    start(): void {
      broker.watch?.(haStatusTopic(prefix), (payload) => {
        if (payload.toString('utf8').trim() !== 'online' || !options.leading()) return;
        log.info('home assistant came online: discovery published again');
        publishAll().catch(logFailure('discovery'));
      });
    },
  };
}
export type HaDiscovery = ReturnType<typeof createHaDiscovery>;
