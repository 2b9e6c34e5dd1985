import { CONTROL_PLANE_USERNAME } from '@facefleet/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Broker } from './types.js';

export interface LazyPublisherOptions {
  url: string;
  password: string | null;
  clientId: string;
  log: Logger;
}

/**
 * A broker the control plane only publishes to (desired state, alerts), connected on the first
 * publish and kept while the process lives: what a serverless function needs, where most
 * invocations publish nothing and the process is reused between them.
 */
export function createLazyPublisher(options: LazyPublisherOptions): Broker {
  let client: Promise<MqttClient> | undefined;
  const connect = () =>
    new Promise<MqttClient>((resolve, reject) => {
      const c = mqtt.connect(options.url, {
        username: CONTROL_PLANE_USERNAME,
        ...(options.password ? { password: options.password } : {}),
        clientId: options.clientId,
        clean: true,
        protocolVersion: 4,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
      });
      c.once('connect', () => resolve(c));
      c.once('error', (err) => {
        c.end(true);
        reject(err);
      });
      c.on('error', (err) => options.log.warn({ err: err.message }, 'broker publisher error'));
    });
  return {
    ports: { mqtt: null, ws: null, tls: null, wss: null },
    async publish(topic, payload, { retain, qos }) {
      client ??= connect().catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      await (await client).publishAsync(topic, payload, { retain, qos });
    },
    connectedDevices: () => null,
    async close() {
      const c = client;
      client = undefined;
      await (await c?.catch(() => undefined))?.endAsync();
    },
  };
}
