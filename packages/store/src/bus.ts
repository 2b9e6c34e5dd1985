/**
 * A message bus between the control-plane instances that share a store: what one instance stored or
 * changed, the others hear (the alert and rollout leaders, every instance's live feed, caches). On
 * SQLite there is one instance and the bus is in-process; on PostgreSQL it is LISTEN/NOTIFY, and an
 * ingest batch's message is sent inside the batch's own transaction, so it is heard if and only if
 * the batch committed.
 */
export interface ClusterBus {
  /** Sends `message` to every instance's listeners, this instance's too (asynchronously). */
  publish(message: string): Promise<void>;
  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (message: string) => void): () => void;
  /** The largest message `publish` takes, in UTF-8 bytes (PostgreSQL's NOTIFY: under 8,000). */
  readonly maxMessageBytes: number;
}

/** Listeners of a bus, each called in turn; one that throws does not stop the others. */
export function createListeners(onError: (err: unknown) => void = () => {}) {
  const listeners = new Set<(message: string) => void>();
  return {
    deliver(message: string): void {
      for (const listener of listeners) {
        try {
          listener(message);
        } catch (err) {
          onError(err);
        }
      }
    },
    subscribe(listener: (message: string) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The bus of a single process. */
export function localBus(onError?: (err: unknown) => void): ClusterBus {
  const listeners = createListeners(onError);
  return {
    async publish(message) {
      queueMicrotask(() => listeners.deliver(message));
    },
    subscribe: listeners.subscribe,
    maxMessageBytes: Number.POSITIVE_INFINITY,
  };
}

/**
 * Packs items into as few messages as fit `maxBytes` each (`[item, item, …]` as JSON), for a bus
 * whose messages are small. An item larger than `maxBytes` on its own is left out and counted.
 */
export function packMessages<T>(
  items: T[],
  maxBytes: number,
): { messages: string[]; dropped: number } {
  const messages: string[] = [];
  let dropped = 0;
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    const bytes = Buffer.byteLength(json) + 1;
    if (bytes + 2 > maxBytes) {
      dropped++;
      continue;
    }
    if (size + bytes > maxBytes) {
      messages.push(`[${current.join(',')}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += bytes;
  }
  if (current.length > 0) messages.push(`[${current.join(',')}]`);
  return { messages, dropped };
}
