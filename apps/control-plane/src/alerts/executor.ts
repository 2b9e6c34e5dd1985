import { randomBytes } from 'node:crypto';
import {
  type Alert,
  type AlertKind,
  alertSchema,
  cameraField,
  cameraOf,
  deviceCameras,
  lastFaces,
  parsePayload,
  referenceFps,
  type SEVERITIES,
  type Status,
  tempMaxC,
  topics,
} from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { Broker } from '../broker/types.js';
import type { CommittedMessage } from '../ingest/ingest.js';
import type { EventBus } from '../live/bus.js';
import type { Selector } from '../rollouts/executor.js';
import {
  type CameraFacts,
  type DeviceFacts,
  describe,
  evaluate,
  idleTracker,
  perCamera,
  type RuleSpec,
  readCondition,
  type Tracker,
  unknownCamera,
} from './rules.js';
import { postWebhook, type WebhookPolicy } from './webhook.js';

type Severity = (typeof SEVERITIES)[number];

/** An alert rule's selector: devices as a rollout names them, and optionally some of their cameras. */
export interface AlertSelector extends Selector {
  cameras?: string[] | undefined;
}

interface Rule extends RuleSpec {
  severity: Severity;
  selector: AlertSelector;
  webhookUrl: string | null;
}

interface DeviceInfo {
  deviceClass: string;
  tags: string[];
}

export interface AlertExecutorOptions {
  store: Store;
  broker: Broker;
  log: Logger;
  now?: () => number;
  /** Webhook delivery; defaults to postWebhook under `webhooks`. */
  post?: (url: string, body: string) => Promise<void>;
  /** Which webhook hosts may be posted to (internal addresses are not, unless listed). */
  webhooks?: WebhookPolicy;
  /** Where alerts are announced as they fire and resolve (the dashboard's live feed). */
  events?: EventBus;
}

const emptyFacts = (): DeviceFacts => ({
  lastSeen: null,
  deviceState: null,
  cameras: new Map(),
  inferFps: null,
  referenceFps: null,
  tempMaxC: null,
  updateState: null,
});

/**
 * Takes what a device's status says: its state and its cameras' states. A camera the status no
 * longer lists is forgotten, but returned, so that the rules see it once more (a camera_offline
 * alert of a camera that was removed resolves).
 */
function applyStatus(f: DeviceFacts, status: Status): string[] {
  f.deviceState = status.state;
  const listed = deviceCameras(status);
  const ids = new Set(listed.map((c) => c.id));
  const dropped = [...f.cameras.keys()].filter((id) => !ids.has(id));
  for (const id of dropped) f.cameras.delete(id);
  for (const c of listed) {
    const cam = cameraFacts(f, c.id);
    cam.state = c.state;
    cam.reason = c.reason;
  }
  return dropped;
}

function cameraFacts(f: DeviceFacts, camera: string): CameraFacts {
  let c = f.cameras.get(camera);
  if (!c) {
    c = unknownCamera();
    f.cameras.set(camera, c);
  }
  return c;
}

function matches(selector: Selector, deviceId: string, info: DeviceInfo): boolean {
  if (selector.deviceIds && !selector.deviceIds.includes(deviceId)) return false;
  if (selector.tag && !info.tags.includes(selector.tag)) return false;
  if (selector.deviceClass && info.deviceClass !== selector.deviceClass) return false;
  return true;
}

/**
 * Keeps what is known of each device, evaluates the rules after every ingest commit and on a
 * clock tick, and on each transition stores the alert, publishes it retained to
 * `alerts/{ruleId}/{deviceId}` and posts it to the rule's webhook.
 */
export async function createAlertExecutor(options: AlertExecutorOptions) {
  const { store, broker, log } = options;
  const now = options.now ?? Date.now;
  const webhooks = options.webhooks ?? { allowHosts: [] };
  const post = options.post ?? ((url: string, body: string) => postWebhook(url, body, webhooks));
  const facts = new Map<string, DeviceFacts>();
  const info = new Map<string, DeviceInfo>();
  /** By `rule \0 device \0 camera` (camera empty for device-wide rules). */
  const trackers = new Map<string, Tracker & { alertId?: string }>();
  /** Cameras a status dropped since the last evaluation of their device. */
  const droppedCameras = new Map<string, string[]>();
  let rules: Rule[] = [];
  const pending = new Set<Promise<void>>();

  async function reloadDevices(): Promise<void> {
    const rows = await store.devices.list();
    info.clear();
    for (const d of rows) {
      info.set(d.id, { deviceClass: d.deviceClass, tags: JSON.parse(d.tags) as string[] });
      let f = facts.get(d.id);
      if (!f) {
        // what the database knows: the last status's camera states (validated when stored)
        f = emptyFacts();
        if (d.statusJson) applyStatus(f, JSON.parse(d.statusJson) as Status);
      }
      if (f.lastSeen === null && d.lastSeen !== null) f.lastSeen = d.lastSeen;
      facts.set(d.id, f);
    }
    for (const id of facts.keys()) if (!info.has(id)) facts.delete(id);
  }

  async function reloadRules(): Promise<void> {
    rules = (await store.alerts.enabledRules()).map((r) => ({
      id: r.id,
      kind: r.kind as AlertKind,
      threshold: r.threshold,
      forS: r.forS,
      severity: r.severity as Severity,
      selector: JSON.parse(r.selector) as AlertSelector,
      webhookUrl: r.webhookUrl,
    }));
    const ruleIds = new Set(rules.map((r) => r.id));
    for (const key of trackers.keys())
      if (!ruleIds.has(key.split('\u0000')[0]!)) trackers.delete(key);
  }

  async function restoreFiring(): Promise<void> {
    for (const a of await store.alerts.firing()) {
      trackers.set(`${a.ruleId}\u0000${a.deviceId}\u0000${a.camera ?? ''}`, {
        since: a.firedAt,
        firing: true,
        alertId: a.id,
      });
    }
  }

  function emit(
    rule: Rule,
    deviceId: string,
    camera: string | undefined,
    state: 'firing' | 'resolved',
    value: number | null,
    alertId: string,
    reason: string | null,
  ): void {
    const t = now();
    const alert: Alert = parsePayload(
      alertSchema,
      {
        v: 1,
        alertId,
        ruleId: rule.id,
        deviceId,
        ...(camera === undefined ? {} : cameraField(camera)),
        kind: rule.kind,
        state,
        severity: rule.severity,
        message: describe(rule, deviceId, state, value, camera, reason),
        value,
        threshold:
          rule.kind === 'no_faces' || rule.kind === 'engine_rolled_back' ? null : rule.threshold,
        ts: t,
      },
      'alert',
    );
    log.info({ ruleId: rule.id, deviceId, camera, state, value }, alert.message);
    options.events?.publish({ type: 'alert', alert });
    const body = JSON.stringify(alert);
    const delivery = (async () => {
      // Stored first: what subscribers receive is in the database (the API lists it).
      if (state === 'firing') {
        await store.alerts.insertFiring({
          id: alertId,
          ruleId: rule.id,
          deviceId,
          camera: camera ?? null,
          kind: rule.kind,
          severity: rule.severity,
          message: alert.message,
          value,
          threshold: alert.threshold,
          firedAt: t,
        });
      } else await store.alerts.resolve(alertId, t);
      await broker.publish(topics.alert(rule.id, deviceId, camera), body, {
        retain: true,
        qos: 1,
      });
      if (rule.webhookUrl) await post(rule.webhookUrl, body);
    })().catch((err: unknown) =>
      log.warn({ err, ruleId: rule.id, deviceId, camera }, 'alert delivery failed'),
    );
    pending.add(delivery);
    void delivery.finally(() => pending.delete(delivery));
  }

  /** One step of one rule for a device (`camera` undefined) or one of its cameras. */
  function step(
    rule: Rule,
    deviceId: string,
    f: DeviceFacts,
    camera: string | undefined,
    t: number,
  ) {
    const key = `${rule.id}\u0000${deviceId}\u0000${camera ?? ''}`;
    const tracker = trackers.get(key) ?? idleTracker;
    const reading = readCondition(rule, f, t, camera);
    const next = evaluate(rule, tracker, reading, t);
    let alertId = trackers.get(key)?.alertId;
    // camera_offline's value: seconds the camera has been (or was) down
    const downS = (since: number | null) =>
      rule.kind === 'camera_offline' && since !== null ? Math.round((t - since) / 1000) : null;
    const reason = camera === undefined ? null : (f.cameras.get(camera)?.reason ?? null);
    if (next.transition === 'firing') {
      alertId = `al-${randomBytes(6).toString('hex')}`;
      const value = reading.value ?? downS(next.tracker.since);
      emit(rule, deviceId, camera, 'firing', value, alertId, reason);
    } else if (next.transition === 'resolved' && alertId) {
      const value = reading.value ?? downS(tracker.since);
      emit(rule, deviceId, camera, 'resolved', value, alertId, reason);
      alertId = undefined;
    }
    if (!next.tracker.firing && next.tracker.since === null) trackers.delete(key);
    else trackers.set(key, { ...next.tracker, ...(alertId ? { alertId } : {}) });
  }

  function evaluateDevice(deviceId: string, t: number): void {
    const f = facts.get(deviceId);
    const i = info.get(deviceId);
    if (!f || !i) return;
    const dropped = droppedCameras.get(deviceId) ?? [];
    droppedCameras.delete(deviceId);
    for (const rule of rules) {
      if (!matches(rule.selector, deviceId, i)) continue;
      if (!perCamera(rule.kind)) {
        step(rule, deviceId, f, undefined, t);
        continue;
      }
      const only = rule.selector.cameras;
      for (const camera of [...f.cameras.keys(), ...dropped]) {
        if (only && !only.includes(camera)) continue;
        step(rule, deviceId, f, camera, t);
      }
    }
  }

  await reloadDevices();
  await reloadRules();
  await restoreFiring();
  // Reloads run one after another, so the last change always wins.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (fn: () => Promise<void>) => {
    reloading = reloading
      .then(fn)
      .catch((err: unknown) => log.error({ err }, 'alert executor: reload failed'));
    return reloading;
  };

  return {
    /** Updates facts from a committed ingest batch and evaluates the devices in it. */
    onCommit(batch: CommittedMessage[]): void {
      const touched = new Set<string>();
      for (const { message, stored, receivedAt } of batch) {
        const id = message.data.deviceId;
        if (!info.has(id)) continue;
        const f = facts.get(id) ?? emptyFacts();
        f.lastSeen = Math.max(f.lastSeen ?? 0, receivedAt);
        if (stored) {
          if (message.kind === 'faces') {
            cameraFacts(f, cameraOf(message.data)).lastFaces = lastFaces(message.data);
          }
          if (message.kind === 'status') {
            const dropped = applyStatus(f, message.data);
            if (dropped.length > 0) {
              droppedCameras.set(id, [...(droppedCameras.get(id) ?? []), ...dropped]);
            }
          }
          if (message.kind === 'metrics') {
            const d = message.data;
            if (d.runner) f.inferFps = d.runner.inferFps;
            f.referenceFps = referenceFps(d.device.deviceClass);
            f.tempMaxC = tempMaxC(d.device.tempsC);
          }
          if (message.kind === 'reported') f.updateState = message.data.update.state;
        }
        facts.set(id, f);
        touched.add(id);
      }
      if (rules.length === 0) return;
      const t = now();
      for (const id of touched) evaluateDevice(id, t);
    },
    /** Evaluates every device (time-driven conditions: offline, held thresholds). */
    tick(): void {
      const t = now();
      for (const id of info.keys()) evaluateDevice(id, t);
    },
    /** Reads the rules again (one was created or deleted). */
    rulesChanged: () => reload(reloadRules),
    /** Reads the devices again (enrolled, retagged, deleted). */
    devicesChanged: () => reload(reloadDevices),
    /** Waits for reloads, stores, publishes and webhooks in flight. */
    async idle(): Promise<void> {
      await reloading;
      await Promise.all([...pending]);
    },
  };
}
export type AlertExecutor = Awaited<ReturnType<typeof createAlertExecutor>>;
