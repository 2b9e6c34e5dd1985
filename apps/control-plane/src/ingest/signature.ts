import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HTTP ingest deliveries (a broker's rule engine or webhook, a forwarder) are signed with a secret
 * they share with the control plane: `x-facefleet-timestamp: <unix ms>` and
 * `x-facefleet-signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. The timestamp is
 * inside the MAC, so a captured delivery cannot be re-sent later than `maxAgeMs`; within that
 * window a re-sent one stores nothing new (ingest is idempotent on deviceId and seq).
 */
export const SIGNATURE_HEADER = 'x-facefleet-signature';
export const TIMESTAMP_HEADER = 'x-facefleet-timestamp';

export function signDelivery(secret: string, timestamp: number, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

export function checkDelivery(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: Uint8Array,
  now: number,
  maxAgeMs = 300_000,
): SignatureCheck {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp) return { ok: false, reason: 'missing' };
  if (!/^\d{1,16}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/.test(signature)) {
    return { ok: false, reason: 'malformed' };
  }
  const ts = Number(timestamp);
  if (Math.abs(now - ts) > maxAgeMs) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signDelivery(secret, ts, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
