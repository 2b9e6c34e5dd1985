import { type Principal, parseMqttUsername } from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { PeerCertificate } from '../tls/peer.js';
import type { Secrets } from './secrets.js';
import type { TokenHashCache } from './token-hashes.js';

/** What a CONNECT offers to prove who it is. */
export interface MqttLogin {
  username: string | undefined;
  password: Uint8Array | undefined;
  /** The client certificate of a TLS connection, verified by the handshake (tls/peer.ts). */
  certificate?: PeerCertificate | undefined;
}

export interface MqttAuthOptions {
  store: Store;
  secrets: Secrets;
  /** Device token hashes in memory (the embedded broker's); without it, each login reads the store. */
  tokenHashes?: TokenHashCache;
}

/**
 * Who an MQTT login is: a device (its id + device token, or its enrolled client certificate), a
 * read-only subscriber (`subscriber@NAME` + subscriber token) or nobody (undefined). Deny by
 * default.
 *
 * An unknown id does the same hashing as a known one (Secrets.verify), and an old scrypt hash that
 * verifies is replaced by the keyed hash (only if the device's token did not change meanwhile).
 *
 * A trusted client certificate decides alone, the password unread: its subject CN must be the
 * username, and it must be enrolled for that device and not revoked. (One the TLS handshake could
 * not verify never gets here: the broker refuses it first, whatever the password.)
 */
export function createMqttAuthenticator(options: MqttAuthOptions) {
  const { store, secrets } = options;

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
        const hash = await (options.tokenHashes?.get(id) ?? store.devices.tokenHash(id));
        const verdict = await secrets.verify(secret, hash);
        if (!verdict.ok || hash === undefined) return undefined;
        if (verdict.rehash) {
          await store.devices.upgradeTokenHash(id, hash, verdict.rehash);
          options.tokenHashes?.forget(id);
        }
        return user.principal;
      }
      case 'subscriber': {
        if (!('name' in user)) return undefined;
        const row = await store.credentials.subscriber(user.name);
        const verdict = await secrets.verify(secret, row?.hash);
        if (!verdict.ok || !row) return undefined;
        if (verdict.rehash) {
          await store.credentials.upgradeSubscriberHash(user.name, row.hash, verdict.rehash);
        }
        return user.principal;
      }
      case 'control-plane':
        // Inside the embedded broker the control plane publishes directly; no login is needed.
        return undefined;
    }
  };
}
export type MqttAuthenticator = ReturnType<typeof createMqttAuthenticator>;
