import { createHash, type KeyObject, verify } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  type Desired,
  type EngineManifest,
  engineSigningPayload,
  rollbackSigningPayload,
} from '@facefleet/protocol';
import { VerifyError } from '../errors.js';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The same, synchronously, 64 KiB at a time: for the bootstrap engine at start. A TensorRT plan is
 * tens of MB; read whole, it would be the agent's peak RSS.
 */
export function sha256FileSync(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(64 * 1024);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Checks the Ed25519 signature of a manifest with the fleet public key; throws VerifyError. */
export function verifyManifestSignature(manifest: EngineManifest, publicKey: KeyObject): void {
  const signature = Buffer.from(manifest.signature, 'base64');
  let ok = false;
  try {
    ok = verify(null, engineSigningPayload(manifest), publicKey, signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new VerifyError(
      `engine ${manifest.id}: signature does not verify with the fleet public key`,
    );
}

/**
 * Checks that `desired` asks for its engine as a rollback signed with the fleet key, for this
 * device, this revision and this engine version; throws VerifyError.
 */
export function verifyRollback(desired: Desired, deviceId: string, publicKey: KeyObject): void {
  const m = desired.engine;
  let ok = false;
  try {
    ok =
      m !== null &&
      desired.rollback != null &&
      verify(
        null,
        rollbackSigningPayload({ deviceId, rev: desired.rev, engineId: m.id, version: m.version }),
        publicKey,
        Buffer.from(desired.rollback, 'base64'),
      );
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new VerifyError(
      `engine ${m?.id}: going back to version ${m?.version} needs a rollback signed by the fleet key for ${deviceId} at rev ${desired.rev}`,
    );
  }
}

/** Checks a downloaded file's size and sha256 against what the (signed) manifest says. */
export async function verifyFile(
  path: string,
  expected: { size: number; sha256: string },
  what: string,
): Promise<void> {
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size !== expected.size) {
    throw new VerifyError(`${what}: size ${size} bytes, the manifest says ${expected.size}`);
  }
  const got = await sha256File(path);
  if (got !== expected.sha256) {
    throw new VerifyError(
      `${what}: sha256 ${got} does not match the manifest's ${expected.sha256}`,
    );
  }
}
