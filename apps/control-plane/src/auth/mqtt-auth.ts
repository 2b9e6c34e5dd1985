import { type Principal, parseMqttUsername } from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { PeerCertificate } from '../tls/peer.js';
import type { VerifiedCache } from './secrets.js';

/** What a CONNECT offers to prove who it is. */
export interface MqttLogin {
  username: string | undefined;
  password: Uint8Array | undefined;
  /** The client certificate of a TLS connection, verified by the handshake (tls/peer.ts). */
  certificate?: PeerCertificate | undefined;
}

export interface MqttAuthOptions {
  store: Store;
  cache: VerifiedCache;
}

/**
 * Who an MQTT login is: a device (its id + device token, or its enrolled client certificate), a
 * read-only subscriber (`subscriber@NAME` + subscriber token) or nobody (undefined). Deny by
 * default.
 *
 * A trusted client certificate decides alone, the password unread: its subject CN must be the
 * username, and it must be enrolled for that device and not revoked. (One the TLS handshake could
 * not verify never gets here: the broker refuses it first, whatever the password.)
 */
export function createMqttAuthenticator(options: MqttAuthOptions) {
  const { store, cache } = options;

  const byCertificate = async (
    certificate: PeerCertificate,
    username: string | undefined,
  ): Promise<Principal | undefined> => {
    const user = parseMqttUsername(username);
    if (!certificate.trusted || user?.principal.kind !== 'device') return undefined;
    const id = user.principal.deviceId;
    if (certificate.commonName !== id) return undefined;
    const row = await store.certificates.get(certificate.fingerprint);
    if (!row || row.deviceId !== id || row.revokedAt !== null) return undefined;
    return (await store.devices.exists(id)) ? user.principal : undefined;
  };

  return async function authenticate(login: MqttLogin): Promise<Principal | undefined> {
    const { username, password } = login;
    if (login.certificate) return byCertificate(login.certificate, username);
    const user = parseMqttUsername(username);
    if (!user || !password || password.byteLength === 0 || password.byteLength > 1024) {
      return undefined;
    }
    const secret = Buffer.from(password).toString('utf8');
    switch (user.principal.kind) {
      case 'device': {
        const id = user.principal.deviceId;
        const hash = await store.devices.tokenHash(id);
        if (hash === undefined) return undefined;
        return (await cache.verify(`device:${id}`, secret, hash)) ? user.principal : undefined;
      }
      case 'subscriber': {
        if (!('name' in user)) return undefined;
        const row = await store.credentials.subscriber(user.name);
        if (!row) return undefined;
        return (await cache.verify(`subscriber@${user.name}`, secret, row.hash))
          ? user.principal
          : undefined;
      }
      case 'control-plane':
        // Inside the embedded broker the control plane publishes directly; no login is needed.
        return undefined;
    }
  };
}
export type MqttAuthenticator = ReturnType<typeof createMqttAuthenticator>;
