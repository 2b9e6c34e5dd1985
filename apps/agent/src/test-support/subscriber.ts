import mqtt, { type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

/**
 * A real MQTT subscriber with a persistent session (clean: false, QoS 1), as the control plane's
 * ingest would be: messages published while it is away are queued for it by the broker.
 */
export async function subscribe(
  url: string,
  filter: string,
  clientId = `test-sub-${process.pid}-${Math.random().toString(36).slice(2)}`,
) {
  const received: Received[] = [];
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId,
    clean: false,
    reconnectPeriod: 100,
    protocolVersion: 4,
  });
  await client.subscribeAsync(filter, { qos: 1 });
  client.on('message', (topic, payload, packet) => {
    if (payload.length === 0) return;
    received.push({ topic, payload: JSON.parse(payload.toString('utf8')), retain: packet.retain });
  });
  return {
    client,
    received,
    /** Seqs received on topics ending in `/kind`, in arrival order (duplicates kept). */
    seqs(kind: string): number[] {
      return received
        .filter((r) => r.topic.endsWith(`/${kind}`))
        .map((r) => r.payload.seq as number);
    },
    async close() {
      await client.endAsync(true);
    },
  };
}
