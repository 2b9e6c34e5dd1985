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
  /** An `mqtts://` broker's CA, and a client certificate and key to present (PEM). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /**
   * The base of this instance's stable client ids (`<base>-p` publishes; `<base>-i0…` ingest): the
   * broker keeps the ingest sessions, and the QoS 1 messages queued for them, across restarts.
   */
  clientId: string;
  /**
   * Ingest sessions of this instance on the shared subscription. mqtt.js hands a client one
   * message at a time and acknowledges it only after its batch committed, so each session has one
   * message in flight; several sessions let one instance commit them in batches.
   */
  sessions: number;
  /** The shared-subscription group every instance joins (`$share/<group>/…`). */
  shareGroup: string;
  ingest: Ingest;
  telemetry: Telemetry;
  log: Logger;
  /** Whether a device id is enrolled; messages from others are dropped. */
  isEnrolled: (deviceId: string) => Promise<boolean>;
}

/**
 * The control plane as a client of an external broker (Mosquitto, EMQX, HiveMQ): it logs in as
 * `control-plane` and takes device traffic through an MQTT shared subscription
 * (`$share/<group>/facefleet/v1/devices/#`, QoS 1, persistent sessions), so several stateless
 * instances split the fleet's messages between them — each message goes to one session of one
 * instance. Ack semantics: the device's PUBACK comes from the broker when *it* has the message;
 * our PUBACK to the broker is sent only after the message's batch committed (mqtt.js's
 * handleMessage hook), and the sessions are persistent, so a message the broker holds is
 * redelivered after a crash and stored once (the ingest is idempotent on deviceId+seq). Mosquitto
 * keeps routing a share of new messages to the sessions of an instance that is down and delivers
 * them when it is back: instances are restarted under the same id (infra/ says how). Device
 * authentication and the ACL are the broker's job (infra/ ships configs); the control plane still
 * validates every payload and drops messages from devices it has not enrolled.
 */
export async function createExternalBroker(options: ExternalBrokerOptions): Promise<Broker> {
  const { ingest, telemetry, log } = options;
  const refusals = createLogLimiter(log);
  const connectOptions = (clientId: string, clean: boolean) => ({
    ...options.tls,
    username: CONTROL_PLANE_USERNAME,
    ...(options.password ? { password: options.password } : {}),
    clientId,
    clean,
    protocolVersion: 4 as const,
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
  /** A message of one ingest session: acknowledged (callback) once stored, or refused. */
  const handleMessage =
    (client: MqttClient) => (packet: IPublishPacket, callback: (err?: Error) => void) => {
      let message: ReturnType<typeof decodeDeviceMessage>;
      try {
        message = decodeDeviceMessage(packet.topic, packet.payload as Buffer);
      } catch (err) {
        if (!(err instanceof IngestError)) return callback(err as Error);
        refuse(packet.topic, err);
        return callback();
      }
      const deviceId = message.data.deviceId;
      const notStored = (what: string) => (err: Error) => {
        // Not acknowledged: the broker redelivers it on the next session.
        log.error({ err }, `${what}; closing the session so the broker redelivers`);
        client.end(true);
        callback(err);
      };
      options.isEnrolled(deviceId).then((enrolled) => {
        if (!enrolled) {
          refuse(
            packet.topic,
            new IngestError('unknown_device', `device ${deviceId} is not enrolled`),
          );
          callback();
          return;
        }
        ingest.submit(message).then(() => callback(), notStored('ingest failed'));
      }, notStored('enrolment check failed'));
    };

  /** Resolves at the CONNACK with whether the broker still had the session (and its subscription). */
  const connected = (client: MqttClient) =>
    new Promise<boolean>((resolve, reject) => {
      client.once('connect', (connack) => resolve(connack.sessionPresent === true));
      client.once('error', reject);
    });
  const clients: MqttClient[] = [];
  const closeAll = () => Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  // Publishing (desired state, alerts) has its own session: clean, nothing to keep.
  const publisher = mqtt.connect(options.url, connectOptions(`${options.clientId}-p`, true));
  clients.push(publisher);
  const filter = `$share/${options.shareGroup}/${filters.allDevices}`;
  log.info(
    { url: options.url, sessions: options.sessions },
    'connecting to the external MQTT broker',
  );
  try {
    await connected(publisher);
    // A restart finds its sessions still subscribed, with what was queued for them while it was
    // down; that backlog starts flowing at the CONNACK (and would hold a SUBACK up behind it).
    await Promise.all(
      Array.from({ length: options.sessions }, async (_, k) => {
        const client = mqtt.connect(
          options.url,
          connectOptions(`${options.clientId}-i${k}`, false),
        );
        client.handleMessage = handleMessage(client);
        clients.push(client);
        if (!(await connected(client))) await client.subscribeAsync(filter, { qos: 1 });
      }),
    );
  } catch (err) {
    await closeAll();
    throw err;
  }
  for (const c of clients) {
    c.on('error', (err) => log.warn({ err: err.message }, 'external broker error'));
    c.on('connect', () => log.debug({ clientId: c.options.clientId }, 'reconnected'));
  }
  log.info(
    { url: options.url, sessions: options.sessions, filter },
    'connected to the external MQTT broker',
  );

  return {
    ports: { mqtt: null, ws: null, tls: null, wss: null },
    watch(topic, handler) {
      // On the publishing session: clean, so mqtt.js subscribes again after every reconnect.
      publisher.on('message', (t, payload) => {
        if (t === topic) handler(payload);
      });
      publisher.subscribe(topic, { qos: 0 }, (err, granted) => {
        if (err || granted?.[0]?.qos === 128) {
          log.warn({ err: err?.message, topic }, 'external broker: subscribe refused (its ACL?)');
        }
      });
    },
    async publish(topic, payload, { retain, qos }) {
      await publisher.publishAsync(topic, payload, { retain, qos });
    },
    connectedDevices: () => null,
    get connected() {
      return publisher.connected;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  } as Broker;
}
