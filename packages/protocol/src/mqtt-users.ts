import type { Principal } from './acl.js';
import { isValidId } from './ids.js';

/**
 * MQTT usernames. A device logs in as its device id (password: its device token). A read-only
 * subscriber logs in as `subscriber@NAME` (password: a subscriber token). The control plane's own
 * client, when it uses an external broker, logs in as `control-plane`. Device ids cannot contain
 * `@` and `control-plane` is reserved, so the forms never collide. (`@`, not `:`: Mosquitto's
 * password file cannot hold a username with a colon, and an external Mosquitto must accept these.)
 */
export const SUBSCRIBER_PREFIX = 'subscriber@';
export const CONTROL_PLANE_USERNAME = 'control-plane';

export type MqttUser =
  | { principal: Extract<Principal, { kind: 'device' }> }
  | { principal: Extract<Principal, { kind: 'subscriber' }>; name: string }
  | { principal: Extract<Principal, { kind: 'control-plane' }> };

/** Who a username claims to be (the password still has to prove it); undefined when malformed. */
export function parseMqttUsername(username: string | undefined): MqttUser | undefined {
  if (!username) return undefined;
  if (username === CONTROL_PLANE_USERNAME) return { principal: { kind: 'control-plane' } };
  if (username.startsWith(SUBSCRIBER_PREFIX)) {
    const name = username.slice(SUBSCRIBER_PREFIX.length);
    return isValidId(name) ? { principal: { kind: 'subscriber' }, name } : undefined;
  }
  return isValidId(username) ? { principal: { kind: 'device', deviceId: username } } : undefined;
}

export function subscriberUsername(name: string): string {
  return `${SUBSCRIBER_PREFIX}${name}`;
}

/**
 * MQTT client ids of device agents: `facefleet-agent-<deviceId>`. The prefix is reserved: a login
 * may use such an id only for its own device, so no device can take over, or sit on, the session
 * of another device's agent (the embedded broker enforces it).
 */
export const AGENT_CLIENT_ID_PREFIX = 'facefleet-agent-';

export function agentClientId(deviceId: string): string {
  return `${AGENT_CLIENT_ID_PREFIX}${deviceId}`;
}

/** Whether `username` may connect with `clientId` as far as the reserved agent ids go. */
export function mayUseClientId(username: string | undefined, clientId: string): boolean {
  return !clientId.startsWith(AGENT_CLIENT_ID_PREFIX) || clientId === agentClientId(username ?? '');
}
