import type { Store } from './store.js';
import type { LiveEvent } from './types.js';

const EVENT_TYPES = [
  'hello',
  'device',
  'device-removed',
  'faces',
  'metrics',
  'reported',
  'rollout',
  'alert',
] as const;

/**
 * Follows `GET /api/v1/events` (server-sent events; the browser sends the session cookie). The
 * browser reconnects by itself after a network error; each `hello` reloads the snapshot, so nothing
 * missed while disconnected stays missing. `onSignedOut` runs when the session ended.
 */
export function connectLive(store: Store, onSignedOut: () => void): () => void {
  const source = new EventSource('/api/v1/events');
  store.set({ connection: 'connecting' });
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (e) => {
      store.apply(JSON.parse((e as MessageEvent<string>).data) as LiveEvent);
    });
  }
  source.addEventListener('signed-out', () => {
    source.close();
    onSignedOut();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (no longer signed in): find out and show sign-in.
      store.set({ connection: 'closed' });
      onSignedOut();
    } else store.set({ connection: 'reconnecting' });
  };
  return () => {
    source.close();
    store.set({ connection: 'closed' });
  };
}
