import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  type EngineManifest,
  engineSigningPayload,
  legacyEngineSigningPayload,
  rollbackSigningPayload,
} from '@facefleet/protocol';
import { writeFileOnce } from '../private-files.js';

export interface FleetKey {
  /** Ed25519 signature (base64) over the protocol's engineSigningPayload. */
  signManifest(m: Omit<EngineManifest, 'signature' | 'url' | 'name'>): string;
  verifyManifest(m: Omit<EngineManifest, 'url' | 'name'>): boolean;
  /** Ed25519 signature (base64) over the protocol's rollbackSigningPayload. */
  signRollback(r: Parameters<typeof rollbackSigningPayload>[0]): string;
  /**
   * Whether `m.signature` is this key's signature under the first signing payload (v1: no id, no
   * version): engines uploaded before v2 carry one, and are signed again under v2 at start.
   */
  verifyLegacyManifest(m: Omit<EngineManifest, 'url' | 'name'>): boolean;
  /** The public key as SPKI PEM, for agents to pin. */
  publicKeyPem: string;
}

function fromPrivate(privateKey: KeyObject): FleetKey {
  const publicKey = createPublicKey(privateKey);
  return {
    signManifest: (m) => sign(null, engineSigningPayload(m), privateKey).toString('base64'),
    verifyManifest: (m) =>
      verify(null, engineSigningPayload(m), publicKey, Buffer.from(m.signature, 'base64')),
    signRollback: (r) => sign(null, rollbackSigningPayload(r), privateKey).toString('base64'),
    verifyLegacyManifest: (m) =>
      verify(null, legacyEngineSigningPayload(m), publicKey, Buffer.from(m.signature, 'base64')),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * Loads the fleet's Ed25519 signing key from `file` (PKCS#8 PEM), generating it on first start.
 * The file is written 0600 through a temp file and a link, so a crash never leaves half a key.
 */
export function loadOrCreateFleetKey(file: string): FleetKey & { created: boolean } {
  if (existsSync(file)) {
    const key = createPrivateKey(readFileSync(file));
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new Error(`${file}: fleet key must be an Ed25519 private key`);
    }
    return { ...fromPrivate(key), created: false };
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  // another instance sharing the folder made one first: theirs it is
  if (!writeFileOnce(file, privateKey.export({ type: 'pkcs8', format: 'pem' }))) {
    return loadOrCreateFleetKey(file);
  }
  return { ...fromPrivate(privateKey), created: true };
}
