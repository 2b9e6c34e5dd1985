import { TopicError } from './errors.js';
import { HA_DEFAULT_PREFIX, haPrefixProblem, haStatusTopic } from './home-assistant.js';
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
 * - a read-only subscriber (mosquitto_sub, Node-RED, Home Assistant): reads alerts, face counts, status, metrics;
 * - the control plane itself: publishes desired state and alerts, reads everything of the contract.
 */
export type Principal =
  | { kind: 'device'; deviceId: string }
  | { kind: 'subscriber' }
  | { kind: 'control-plane' };

const DEVICE_PUBLISHES = new Set(['status', 'faces', 'metrics', 'reported']);

/** What the rules depend on beyond the protocol itself. */
export interface AclOptions {
  /**
   * Home Assistant's discovery prefix, or null with discovery off. With it, the control plane
   * publishes below it and reads Home Assistant's birth message (`<prefix>/status`); subscribers
   * read below it and may publish that birth message (Home Assistant sends it at every start).
   */
  haPrefix: string | null;
}
export const DEFAULT_ACL_OPTIONS: AclOptions = { haPrefix: HA_DEFAULT_PREFIX };

/** The prefix the rules use: none when unset or unusable (one overlapping facefleet's topics). */
function haPrefix(options: AclOptions): string | null {
  const prefix = options.haPrefix;
  return prefix !== null && haPrefixProblem(prefix) === null ? prefix : null;
}

/** Whether `principal` may publish to `topic`. Anything not explicitly allowed is denied. */
export function mayPublish(
  principal: Principal,
  topic: string,
  options: AclOptions = DEFAULT_ACL_OPTIONS,
): boolean {
  let parsed: ReturnType<typeof parseTopic>;
  try {
    assertTopicName(topic);
    const ha = haPrefix(options);
    if (ha !== null && topic.startsWith(`${ha}/`)) {
      if (principal.kind === 'control-plane') return true;
      return principal.kind === 'subscriber' && topic === haStatusTopic(ha);
    }
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

/**
 * The filters each principal may subscribe to; a requested filter must be covered by one of them.
 * A subscriber reads alerts, face counts, status and metrics (what a dashboard or Home Assistant
 * shows), never desired state or reports.
 */
export function allowedFilters(
  principal: Principal,
  options: AclOptions = DEFAULT_ACL_OPTIONS,
): string[] {
  const ha = haPrefix(options);
  switch (principal.kind) {
    case 'device':
      return isValidId(principal.deviceId)
        ? [`${TOPIC_ROOT}/devices/${principal.deviceId}/desired`]
        : [];
    case 'subscriber':
      return [
        `${TOPIC_ROOT}/alerts/#`,
        `${TOPIC_ROOT}/devices/+/faces`,
        `${TOPIC_ROOT}/devices/+/status`,
        `${TOPIC_ROOT}/devices/+/metrics`,
        ...(ha !== null ? [`${ha}/#`] : []),
      ];
    case 'control-plane':
      return [`${TOPIC_ROOT}/#`, ...(ha !== null ? [haStatusTopic(ha)] : [])];
    default:
      return [];
  }
}

/** Whether `principal` may subscribe to the topic filter `filter`. `$` topics are never allowed. */
export function maySubscribe(
  principal: Principal,
  filter: string,
  options: AclOptions = DEFAULT_ACL_OPTIONS,
): boolean {
  try {
    assertTopicFilter(filter);
  } catch (err) {
    if (err instanceof TopicError) return false;
    throw err;
  }
  if (filter.startsWith('$')) return false;
  return allowedFilters(principal, options).some((allowed) => filterCovers(allowed, filter));
}
