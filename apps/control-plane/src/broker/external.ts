import { CONTROL_PLANE_USERNAME, filters } from '@facefleet/protocol';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { IngestError } from '../errors.js';
import { decodeDeviceMessage } from '../ingest/decode.js';
import type { Ingest } from '../ingest/ingest.js';
import { createLogLimiter } from '../log-limit.js';
import type { Telemetry } from '../telemetry.js';
import type { Broker } from './types.js';

export interface ExternalBrokerOptions {
  url: string;
  password: string | null;
  /** A stable client id: the broker keeps the session (and queued QoS 1 messages) across restarts. */
  clientId: string;
  ingest: Ingest;
  telemetry: Telemetry;
  log: Logger;
  /** Whether a device id is enrolled; messages from others are dropped. */
  isEnrolled: (deviceId: string) => Promise<boolean>;
}

/**
 * The control plane as a client of an external broker (Mosquitto, EMQX): it logs in as
 * `control-plane`, subscribes to every device topic with QoS 1 on a persistent session, and runs
 * the same ingest. Ack semantics differ from the embedded broker: the device's PUBACK comes from the
 * external broker when *it* has the message. Our PUBACK to the broker is sent only after the
 * message's batch committed (mqtt.js's handleMessage hook), and the session is persistent, so a
 * message the broker holds is redelivered after a control-plane crash and stored once (the ingest
 * is idempotent on deviceId+seq). Device authentication and the ACL are the external broker's job
 * (infra/ ships configs); the control plane still validates every payload and drops messages from
 * devices it has not enrolled.
 */
export async function createExternalBroker(options: ExternalBrokerOptions): Promise<Broker> {
  const { ingest, telemetry, log } = options;
  const refusals = createLogLimiter(log);
  const client: MqttClient = mqtt.connect(options.url, {
    username: CONTROL_PLANE_USERNAME,
    ...(options.password ? { password: options.password } : {}),
    clientId: options.clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });

  const refuse = (topic: string, err: IngestError) => {
    telemetry.rejected.inc({ reason: err.reason });
    refusals.warn(
      err.reason,
      { topic, reason: err.reason },
      `device message refused: ${err.message}`,
    );
  };
  client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void) => {
    let message: ReturnType<typeof decodeDeviceMessage>;
    try {
      message = decodeDeviceMessage(packet.topic, packet.payload as Buffer);
    } catch (err) {
      if (!(err instanceof IngestError)) return callback(err as Error);
      refuse(packet.topic, err);
      return callback();
    }
    const deviceId = message.data.deviceId;
    options.isEnrolled(deviceId).then(
      (enrolled) => {
        if (!enrolled) {
          refuse(
            packet.topic,
            new IngestError('unknown_device', `device ${deviceId} is not enrolled`),
          );
          callback();
          return;
        }
        ingest.submit(message).then(
          () => callback(),
          (err: Error) => {
            // Not acknowledged: the broker redelivers it on the next session.
            log.error({ err }, 'ingest failed; closing the session so the broker redelivers');
            client.end(true);
            callback(err);
          },
        );
      },
      (err: Error) => {
        log.error({ err }, 'enrolment check failed; closing the session so the broker redelivers');
        client.end(true);
        callback(err);
      },
    );
  };
  client.on('error', (err) => log.warn({ err: err.message }, 'external broker error'));

  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(filters.allDevices, { qos: 1 });
  let connected = true;
  client.on('connect', () => {
    connected = true;
    log.info('reconnected to the external broker');
  });
  client.on('offline', () => {
    connected = false;
  });
  log.info({ url: options.url }, 'connected to the external MQTT broker');

  return {
    ports: { mqtt: null, ws: null },
    async publish(topic, payload, { retain, qos }) {
      await client.publishAsync(topic, payload, { retain, qos });
    },
    connectedDevices: () => null,
    get connected() {
      return connected;
    },
    async close() {
      await client.endAsync();
    },
  } as Broker;
}
