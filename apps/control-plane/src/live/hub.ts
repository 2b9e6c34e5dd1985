import type { EventBus } from './bus.js';
import type { LiveEvent } from './types.js';

export interface LiveHubOptions {
  bus: EventBus;
  /** Events are sent in batches at most this often; face and metrics events of one device coalesce. */
  flushMs: number;
  /** A connection with nothing to send gets a heartbeat (and its session is checked) this often. */
  heartbeatMs: number;
  /** A connection that falls this many distinct events behind is closed (the client reloads). */
  maxPending?: number;
  /** Connections one owner (an API token) may hold open at once (default 8). */
  maxPerOwner?: number;
}

/** One subscriber's view of the bus. */
export interface LiveConnection {
  /**
   * The next batch to send: events in order, at most one face and one metrics event per device
   * (the newest); `[]` when a heartbeat is due; null once the connection is closed.
   */
  next(): Promise<LiveEvent[] | null>;
  close(): void;
  readonly closed: boolean;
}

/**
 * Coalescing key: a browser needs only the newest face window and metrics sample of a device (by
 * its timestamp) per flush, so a fleet of hundreds publishing every second costs each viewer one event per device per
 * flush at most. Everything else (alerts, rollouts, device changes) is sent as it came.
 */
function keyOf(event: LiveEvent, serial: number): string {
  if (event.type === 'faces' || event.type === 'metrics') return `${event.type}:${event.deviceId}`;
  return `#${serial}`;
}

/** Tracks the live (SSE) connections, so shutdown can end them all. */
export function createLiveHub(options: LiveHubOptions) {
  const { bus, flushMs, heartbeatMs } = options;
  const maxPending = options.maxPending ?? 10_000;
  const maxPerOwner = options.maxPerOwner ?? 8;
  const connections = new Set<LiveConnection>();
  /** Open connections by owner. */
  const owners = new Map<string, number>();
  let shut = false;

  /**
   * A new connection for `owner` (an API token's id; each dashboard tab holds one), or undefined
   * when that owner holds `maxPerOwner` open already.
   */
  function open(owner = ''): LiveConnection | undefined {
    const held = owners.get(owner) ?? 0;
    if (held >= maxPerOwner) return undefined;
    const pending = new Map<string, LiveEvent>();
    let serial = 0;
    let firstAt = 0;
    let closed = shut;
    let waiter: ((batch: LiveEvent[] | null) => void) | null = null;
    let flushTimer: NodeJS.Timeout | undefined;
    let heartbeatTimer: NodeJS.Timeout | undefined;

    const settle = (batch: LiveEvent[] | null) => {
      clearTimeout(flushTimer);
      clearTimeout(heartbeatTimer);
      flushTimer = undefined;
      heartbeatTimer = undefined;
      const w = waiter;
      waiter = null;
      w?.(batch);
    };
    const flush = () => {
      const batch = [...pending.values()];
      pending.clear();
      settle(batch);
    };
    const scheduleFlush = () => {
      if (!waiter || flushTimer) return;
      flushTimer = setTimeout(flush, Math.max(0, firstAt + flushMs - Date.now()));
    };

    const unsubscribe = bus.subscribe((event) => {
      if (closed) return;
      if (pending.size === 0) firstAt = Date.now();
      const key = keyOf(event, serial++);
      // Newest by the device's own clock: from several instances, windows may come out of order.
      const held = pending.get(key);
      if (held && 'ts' in held && 'ts' in event && held.ts > event.ts) return;
      pending.set(key, event);
      if (pending.size > maxPending) connection.close();
      else scheduleFlush();
    });

    const connection: LiveConnection = {
      next() {
        if (closed) return Promise.resolve(null);
        return new Promise((resolve) => {
          waiter = resolve;
          if (pending.size > 0) scheduleFlush();
          else heartbeatTimer = setTimeout(() => settle([]), heartbeatMs);
        });
      },
      close() {
        if (closed) return;
        closed = true;
        const n = (owners.get(owner) ?? 1) - 1;
        if (n > 0) owners.set(owner, n);
        else owners.delete(owner);
        unsubscribe();
        pending.clear();
        connections.delete(connection);
        settle(null);
      },
      get closed() {
        return closed;
      },
    };
    if (!closed) {
      connections.add(connection);
      owners.set(owner, held + 1);
    }
    return connection;
  }

  return {
    open,
    get connections(): number {
      return connections.size;
    },
    /** Ends every connection and refuses new ones (shutdown). */
    close(): void {
      shut = true;
      for (const c of [...connections]) c.close();
    },
  };
}
export type LiveHub = ReturnType<typeof createLiveHub>;
