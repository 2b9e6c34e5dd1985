import { DEFAULT_CAMERA_ID } from './cameras.js';
import { TopicError } from './errors.js';
import { ID_PATTERN, idRule, isValidId } from './ids.js';

/** Every topic of the contract lives below this root. */
export const TOPIC_ROOT = 'facefleet/v1';

/** Kinds of message a device publishes or receives under `devices/{id}/…`. */
export const DEVICE_TOPIC_KINDS = ['status', 'faces', 'metrics', 'desired', 'reported'] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPIC_KINDS)[number];

export type ParsedTopic =
  | { kind: DeviceTopicKind; deviceId: string }
  /** `camera`: the alert of one camera other than "0" (`alerts/{ruleId}/{deviceId}/{camera}`). */
  | { kind: 'alert'; ruleId: string; deviceId: string; camera?: string };

function checkId(what: string, id: string): string {
  if (!isValidId(id)) {
    throw new TopicError(`${TOPIC_ROOT}/…/${id}`, `${what} ${JSON.stringify(id)} ${idRule}`);
  }
  return id;
}

function checkCameraId(id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new TopicError(`${TOPIC_ROOT}/…/${id}`, `camera id ${JSON.stringify(id)} ${idRule}`);
  }
  return id;
}

function deviceTopic(kind: DeviceTopicKind) {
  return (deviceId: string): string =>
    `${TOPIC_ROOT}/devices/${checkId('device id', deviceId)}/${kind}`;
}

/** Topic builders. Each validates its ids, so a built topic is always a valid, wildcard-free name. */
export const topics = {
  status: deviceTopic('status'),
  faces: deviceTopic('faces'),
  metrics: deviceTopic('metrics'),
  desired: deviceTopic('desired'),
  reported: deviceTopic('reported'),
  /**
   * A rule's alert for a device, or for one camera of it. Camera "0" (and no camera) is the device's
   * topic, so a one-camera device's alerts are where they were before cameras existed.
   */
  alert: (ruleId: string, deviceId: string, camera?: string): string =>
    `${TOPIC_ROOT}/alerts/${checkId('rule id', ruleId)}/${checkId('device id', deviceId)}${
      camera === undefined || camera === DEFAULT_CAMERA_ID ? '' : `/${checkCameraId(camera)}`
    }`,
} as const;

/** Topic filters that subscribers use. */
export const filters = {
  /** Face counts of every device. */
  allFaces: `${TOPIC_ROOT}/devices/+/faces`,
  /** Status of every device (the control plane reads these). */
  allStatus: `${TOPIC_ROOT}/devices/+/status`,
  /** Every message every device sends (the control plane's ingest). */
  allDevices: `${TOPIC_ROOT}/devices/#`,
  /** Every alert, firing or resolved. */
  allAlerts: `${TOPIC_ROOT}/alerts/#`,
  /** Alerts of one rule, for every device and camera. */
  ruleAlerts: (ruleId: string): string => `${TOPIC_ROOT}/alerts/${checkId('rule id', ruleId)}/#`,
} as const;

/** Checks that a string may be used as a topic *name* (what a client publishes to). */
export function assertTopicName(topic: string): void {
  if (topic.length === 0) throw new TopicError(topic, 'empty');
  if (Buffer.byteLength(topic, 'utf8') > 65535)
    throw new TopicError(topic, 'longer than 65535 bytes');
  if (topic.includes('\u0000')) throw new TopicError(topic, 'contains a NUL character');
  if (topic.includes('+') || topic.includes('#')) {
    throw new TopicError(topic, 'wildcards (+, #) are not allowed in a topic name');
  }
  if (topic.startsWith('$')) throw new TopicError(topic, '$-topics are reserved for the broker');
}

/**
 * Parses a topic name of the contract.
 * `parseTopic('facefleet/v1/devices/cam-7/faces')` → `{ kind: 'faces', deviceId: 'cam-7' }`.
 * Throws TopicError for anything else: other roots, wildcards, `$` topics, bad ids, extra levels.
 */
export function parseTopic(topic: string): ParsedTopic {
  assertTopicName(topic);
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) throw new TopicError(topic, `not below ${TOPIC_ROOT}/`);
  const levels = topic.slice(prefix.length).split('/');
  const [section, a, b, ...rest] = levels;
  if (section === 'alerts' && a !== undefined && b !== undefined && rest.length === 1) {
    const camera = rest[0]!;
    if (!isValidId(a)) throw new TopicError(topic, `rule id ${JSON.stringify(a)} ${idRule}`);
    if (!isValidId(b)) throw new TopicError(topic, `device id ${JSON.stringify(b)} ${idRule}`);
    if (!ID_PATTERN.test(camera) || camera === DEFAULT_CAMERA_ID) {
      throw new TopicError(
        topic,
        camera === DEFAULT_CAMERA_ID
          ? 'camera "0" alerts are on the device\'s topic'
          : `camera id ${JSON.stringify(camera)} ${idRule}`,
      );
    }
    return { kind: 'alert', ruleId: a, deviceId: b, camera };
  }
  if (rest.length > 0) throw new TopicError(topic, 'too many levels');
  if (section === 'devices' && a !== undefined && b !== undefined) {
    if (!isValidId(a)) throw new TopicError(topic, `device id ${JSON.stringify(a)} ${idRule}`);
    const kind = DEVICE_TOPIC_KINDS.find((k) => k === b);
    if (!kind) throw new TopicError(topic, `unknown device topic kind ${JSON.stringify(b)}`);
    return { kind, deviceId: a };
  }
  if (section === 'alerts' && a !== undefined && b !== undefined) {
    if (!isValidId(a)) throw new TopicError(topic, `rule id ${JSON.stringify(a)} ${idRule}`);
    if (!isValidId(b)) throw new TopicError(topic, `device id ${JSON.stringify(b)} ${idRule}`);
    return { kind: 'alert', ruleId: a, deviceId: b };
  }
  throw new TopicError(
    topic,
    'not a facefleet topic (expected devices/{id}/{kind} or alerts/{ruleId}/{deviceId}[/{camera}])',
  );
}

/** Builds the topic a parsed topic came from (the inverse of parseTopic). */
export function formatTopic(parsed: ParsedTopic): string {
  return parsed.kind === 'alert'
    ? topics.alert(parsed.ruleId, parsed.deviceId, parsed.camera)
    : topics[parsed.kind](parsed.deviceId);
}

/**
 * Checks a topic *filter* (what a client subscribes to) for MQTT 3.1.1/5 validity:
 * `#` only as the last level and alone in it, `+` alone in its level, no NUL, not empty.
 */
export function assertTopicFilter(filter: string): void {
  if (filter.length === 0) throw new TopicError(filter, 'empty filter');
  if (filter.includes('\u0000')) throw new TopicError(filter, 'contains a NUL character');
  const levels = filter.split('/');
  levels.forEach((level, i) => {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      throw new TopicError(filter, '# must be alone in the last level');
    }
    if (level.includes('+') && level !== '+') {
      throw new TopicError(filter, '+ must be alone in its level');
    }
  });
}

/** Whether `filter` matches the topic name `topic` by MQTT rules (`$` topics never match a leading wildcard). */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic that `inner` can match is also matched by `outer`:
 * the basis of filter ACLs (a client may subscribe to `inner` only when an allowed `outer` covers it).
 */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  for (let i = 0; i < o.length; i++) {
    const ol = o[i];
    const nl = n[i];
    if (ol === '#') return true;
    if (nl === undefined) return false;
    if (nl === '#') return false;
    if (ol === '+') continue;
    if (nl === '+' || nl !== ol) return false;
  }
  return o.length === n.length;
}
