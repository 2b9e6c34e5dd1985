import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError, IngestError } from '../../errors.js';
import { decodeDeviceMessage } from '../../ingest/decode.js';
import { checkDelivery, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../ingest/signature.js';
import type { AppDeps } from '../deps.js';
import type { Env } from '../http.js';
import { doc } from '../openapi.js';

/** One device message as a broker's rule engine or webhook forwards it. */
const deliveredMessage = z.strictObject({
  /** The MQTT topic it was published on (`facefleet/v1/devices/{id}/{kind}`). */
  topic: z.string().min(1).max(256),
  /** Its payload: the JSON object, or its text. */
  payload: z.union([z.string().max(1_000_000), z.record(z.string(), z.unknown())]),
});
const deliverySchema = z.union([
  deliveredMessage,
  z.strictObject({ messages: z.array(deliveredMessage).min(1).max(1000) }),
]);

export type IngestResult =
  | { status: 'stored' }
  | { status: 'duplicate' }
  | { status: 'refused'; reason: string; message: string };

/**
 * `POST /api/v1/ingest`: device messages delivered over HTTP by a broker's rule engine or webhook
 * (EMQX webhooks, AWS IoT rules → HTTPS, a forwarder), for deployments whose control plane does not
 * hold MQTT sessions (serverless). Signed with the shared ingest secret (ingest/signature.ts);
 * validated and stored exactly as messages taken over MQTT (idempotent on deviceId and seq); the
 * answer comes only after the commit, with one result per message. Off unless a secret is set
 * (`--ingest-http-secret`).
 */
export function ingestRoutes(deps: Pick<AppDeps, 'httpIngest' | 'ingest' | 'telemetry' | 'log'>) {
  return new Hono<Env>().post(
    '/ingest',
    doc({
      summary:
        'Store device messages forwarded by a broker (HMAC-signed: x-facefleet-timestamp, x-facefleet-signature); answers after the commit',
      tag: 'ingest',
      auth: 'public',
      // Validated in the handler, after the signature over the raw body.
      body: deliverySchema,
      ok: [200, 'One result per message: stored, duplicate or refused (with the reason)'],
    }),
    async (c) => {
      const http = deps.httpIngest;
      if (!http) throw new ApiError('not_found', 'HTTP ingest is off (--ingest-http-secret)');
      const raw = new Uint8Array(await c.req.arrayBuffer());
      const check = checkDelivery(
        http.secret,
        { signature: c.req.header(SIGNATURE_HEADER), timestamp: c.req.header(TIMESTAMP_HEADER) },
        raw,
        Date.now(),
      );
      if (!check.ok) {
        deps.telemetry.httpAuthFailures.inc({ reason: `ingest_signature_${check.reason}` });
        throw new ApiError('unauthorized', `ingest signature ${check.reason}`);
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(raw).toString('utf8'));
      } catch (err) {
        throw new ApiError('invalid_request', `body: not JSON (${(err as Error).message})`);
      }
      const parsed = deliverySchema.safeParse(body);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({
          path: i.path.join('.') || '(body)',
          message: i.message,
        }));
        throw new ApiError(
          'invalid_request',
          `invalid body: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          { details: issues },
        );
      }
      const messages = 'messages' in parsed.data ? parsed.data.messages : [parsed.data];
      const results = messages.map(async ({ topic, payload }): Promise<IngestResult> => {
        try {
          const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
          const message = decodeDeviceMessage(topic, Buffer.from(text, 'utf8'));
          if (!(await http.isEnrolled(message.data.deviceId))) {
            throw new IngestError(
              'unknown_device',
              `device ${message.data.deviceId} is not enrolled`,
            );
          }
          return (await deps.ingest.submit(message))
            ? { status: 'stored' }
            : { status: 'duplicate' };
        } catch (err) {
          if (!(err instanceof IngestError)) throw err;
          deps.telemetry.rejected.inc({ reason: err.reason });
          return { status: 'refused', reason: err.reason, message: err.message };
        }
      });
      try {
        return c.json({ results: await Promise.all(results) });
      } catch (err) {
        // Not stored: the sender delivers again (nothing of it was acknowledged).
        deps.log.error({ err }, 'HTTP ingest: batch not committed');
        throw new ApiError('unavailable', 'the batch was not stored; deliver it again');
      }
    },
  );
}
