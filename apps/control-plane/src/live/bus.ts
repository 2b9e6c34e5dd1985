import type { Logger } from 'pino';
import type { LiveEvent } from './types.js';

export type LiveListener = (event: LiveEvent) => void;

/**
 * The in-process event bus the live endpoint reads: ingest, rollouts, alerts and the API publish
 * what changed; each SSE connection subscribes. Built by the server and handed to those that
 * publish (no module state). A listener that throws is logged and does not stop the others.
 */
export function createEventBus(options: { log?: Logger } = {}) {
  const listeners = new Set<LiveListener>();
  return {
    publish(event: LiveEvent): void {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (err) {
          options.log?.error({ err, type: event.type }, 'live event listener failed');
        }
      }
    },
    /** Adds a listener; returns the function that removes it. */
    subscribe(listener: LiveListener): () => void {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    get listeners(): number {
      return listeners.size;
    },
  };
}
export type EventBus = ReturnType<typeof createEventBus>;
