import {
  type Faces,
  facesSchema,
  isFacesFast,
  MAX_PAYLOAD_BYTES,
  type Metrics,
  metricsSchema,
  PayloadError,
  parseJsonPayload,
  parsePayload,
  parseTopic,
  type Reported,
  reportedSchema,
  type Status,
  statusSchema,
  TopicError,
} from '@facefleet/protocol';
import type { IngestMessage } from '@facefleet/store';
import { IngestError } from '../errors.js';

export type { IngestMessage };

const SCHEMAS = {
  faces: facesSchema,
  metrics: metricsSchema,
  status: statusSchema,
  reported: reportedSchema,
} as const;

/**
 * Turns an MQTT publish on a device topic into an IngestMessage, or throws IngestError whose reason
 * is one of: not_device_topic, too_large, invalid_payload, device_mismatch.
 */
export function decodeDeviceMessage(topic: string, payload: Uint8Array): IngestMessage {
  let parsed: ReturnType<typeof parseTopic>;
  try {
    parsed = parseTopic(topic);
  } catch (err) {
    if (err instanceof TopicError) throw new IngestError('not_device_topic', err.message);
    throw err;
  }
  if (parsed.kind === 'alert' || parsed.kind === 'desired') {
    throw new IngestError('not_device_topic', `${topic} is not published by devices`);
  }
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw new IngestError(
      'too_large',
      `payload of ${payload.byteLength} bytes exceeds ${MAX_PAYLOAD_BYTES}`,
    );
  }
  let data: Faces | Metrics | Status | Reported;
  try {
    data = parseFast(parsed.kind, payload);
  } catch (err) {
    if (err instanceof PayloadError) throw new IngestError('invalid_payload', err.message);
    throw err;
  }
  if (data.deviceId !== parsed.deviceId) {
    throw new IngestError(
      'device_mismatch',
      `deviceId: ${JSON.stringify(data.deviceId)} does not match the topic's ${JSON.stringify(parsed.deviceId)}`,
    );
  }
  return { kind: parsed.kind, data } as IngestMessage;
}

/**
 * Parses and validates a payload. Face windows, most of the traffic, first try the protocol's
 * `isFacesFast`, which accepts only what the schema would accept unchanged; anything else (and any
 * faces message it does not vouch for) goes through the zod schema, which names the wrong field.
 */
function parseFast(
  kind: keyof typeof SCHEMAS,
  payload: Uint8Array,
): Faces | Metrics | Status | Reported {
  if (kind === 'faces') {
    let json: unknown;
    try {
      json = JSON.parse(
        Buffer.isBuffer(payload) ? payload.toString('utf8') : Buffer.from(payload).toString('utf8'),
      );
    } catch {
      json = undefined;
    }
    if (isFacesFast(json)) return json;
    if (json !== undefined) return parsePayload(facesSchema, json, kind);
  }
  return parseJsonPayload(SCHEMAS[kind], payload, kind);
}
