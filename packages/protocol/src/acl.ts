import { TopicError } from './errors.js';
import { isValidId } from './ids.js';
import {
  assertTopicFilter,
  assertTopicName,
  filterCovers,
  parseTopic,
  TOPIC_ROOT,
} from './topics.js';

/**
 * Who is connected to the broker:
 * - a device, with its own credentials: publishes its own telemetry, reads its own desired state;
 * - a read-only subscriber (mosquitto_sub, Node-RED, Home Assistant): reads alerts and face counts;
 * - the control plane itself: publishes desired state and alerts, reads everything of the contract.
 */
export type Principal =
  | { kind: 'device'; deviceId: string }
  | { kind: 'subscriber' }
  | { kind: 'control-plane' };

const DEVICE_PUBLISHES = new Set(['status', 'faces', 'metrics', 'reported']);

/** Whether `principal` may publish to `topic`. Anything not explicitly allowed is denied. */
export function mayPublish(principal: Principal, topic: string): boolean {
  let parsed: ReturnType<typeof parseTopic>;
  try {
    assertTopicName(topic);
    parsed = parseTopic(topic);
  } catch (err) {
    if (err instanceof TopicError) return false;
    throw err;
  }
  switch (principal.kind) {
    case 'device':
      return (
        isValidId(principal.deviceId) &&
        parsed.kind !== 'alert' &&
        parsed.deviceId === principal.deviceId &&
        DEVICE_PUBLISHES.has(parsed.kind)
      );
    case 'control-plane':
      return parsed.kind === 'desired' || parsed.kind === 'alert';
    case 'subscriber':
      return false;
    default:
      return false;
  }
}

/** The filters each principal may subscribe to; a requested filter must be covered by one of them. */
export function allowedFilters(principal: Principal): string[] {
  switch (principal.kind) {
    case 'device':
      return isValidId(principal.deviceId)
        ? [`${TOPIC_ROOT}/devices/${principal.deviceId}/desired`]
        : [];
    case 'subscriber':
      return [`${TOPIC_ROOT}/alerts/#`, `${TOPIC_ROOT}/devices/+/faces`];
    case 'control-plane':
      return [`${TOPIC_ROOT}/#`];
    default:
      return [];
  }
}

/** Whether `principal` may subscribe to the topic filter `filter`. `$` topics are never allowed. */
export function maySubscribe(principal: Principal, filter: string): boolean {
  try {
    assertTopicFilter(filter);
  } catch (err) {
    if (err instanceof TopicError) return false;
    throw err;
  }
  if (filter.startsWith('$')) return false;
  return allowedFilters(principal).some((allowed) => filterCovers(allowed, filter));
}
