import {
  type Faces,
  facesSchema,
  MAX_PAYLOAD_BYTES,
  type Metrics,
  metricsSchema,
  PayloadError,
  parseJsonPayload,
  parseTopic,
  type Reported,
  reportedSchema,
  type Status,
  statusSchema,
  TopicError,
} from '@facefleet/protocol';
import { IngestError } from '../errors.js';

/** A validated device message, ready to store. */
export type IngestMessage =
  | { kind: 'faces'; data: Faces }
  | { kind: 'metrics'; data: Metrics }
  | { kind: 'status'; data: Status }
  | { kind: 'reported'; data: Reported };

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
    data = parseJsonPayload(SCHEMAS[parsed.kind], payload, parsed.kind);
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
