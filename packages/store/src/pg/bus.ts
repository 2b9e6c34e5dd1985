import pg from 'pg';
import { type ClusterBus, createListeners } from '../bus.js';

/** The NOTIFY channel of the instances sharing a database. */
export const BUS_CHANNEL = 'facefleet_bus';
/** NOTIFY payloads must be shorter than 8,000 bytes. */
export const PG_MAX_MESSAGE_BYTES = 7_900;

export interface PgBusOptions {
  url: string;
  pool: pg.Pool;
  onError?: (err: unknown) => void;
  /** Told when the listening connection is lost and when it is back (messages in between are missed). */
  onState?: (state: 'listening' | 'lost') => void;
}

/**
 * LISTEN on a connection of its own (reconnected with backoff when it drops; what was sent in the
 * meantime is missed, and said so through `onState`), NOTIFY through the pool.
 */
export interface PgBus extends ClusterBus {
  /** Connects and LISTENs; rejects when the first connection fails (later ones are retried). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function pgBus(options: PgBusOptions): PgBus {
  const listeners = createListeners(options.onError);
  let client: pg.Client | undefined;
  let closed = false;
  let backoffMs = 250;
  let retry: NodeJS.Timeout | undefined;

  async function listen(): Promise<void> {
    const c = new pg.Client({ connectionString: options.url });
    c.on('notification', (n) => {
      if (n.channel === BUS_CHANNEL && n.payload !== undefined) listeners.deliver(n.payload);
    });
    const lost = (err?: unknown) => {
      if (client !== c) return;
      client = undefined;
      if (err) options.onError?.(err);
      c.end().catch(() => {});
      if (closed) return;
      options.onState?.('lost');
      retry = setTimeout(() => {
        listen().catch(() => {});
      }, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 10_000);
    };
    c.on('error', lost);
    c.on('end', () => lost());
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${BUS_CHANNEL}`);
      backoffMs = 250;
      options.onState?.('listening');
    } catch (err) {
      lost(err);
      throw err;
    }
  }

  return {
    start: listen,
    async publish(message) {
      await options.pool.query('SELECT pg_notify($1, $2)', [BUS_CHANNEL, message]);
    },
    subscribe: listeners.subscribe,
    maxMessageBytes: PG_MAX_MESSAGE_BYTES,
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
