import { startMosquitto } from '@facefleet/test-support';

/** A real Mosquitto broker on an ephemeral loopback port, with a generated config; restartable. */
export interface Broker {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The harness's Mosquitto with persistent sessions and unbounded queues, so a broker restart loses
 * nothing a test subscriber or the agent had queued.
 */
export async function createBroker(): Promise<Broker> {
  // no limit on queued messages: an outage test queues thousands for a subscriber that is away
  const broker = await startMosquitto({ persistence: true, config: ['max_queued_messages 0'] });
  return {
    port: broker.port,
    url: broker.url,
    start: () => broker.start(),
    async stop() {
      await broker.stop();
    },
  };
}
