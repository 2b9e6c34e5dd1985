import type { Store } from '@facefleet/store';

/**
 * The token hashes of the devices, in memory, for the embedded broker's logins: after a restart
 * every device logs in again at once, and reading each hash from the database cost more than the
 * rest of the login (10,000 devices: ~0.9 s of a 2-core machine's CPU). Loaded in one query at
 * start; an id not found is read from the database.
 *
 * It is right only while every change of a device's token goes through `forget` before the change
 * is acted on (services/devices.ts calls it after each write, before the broker drops the old
 * sessions), and only in the one process that owns the embedded broker: the HTTP API, and other
 * instances, read the database. A read that started before a `forget` of its id does not put its
 * (possibly old) answer in the cache.
 */
export function createTokenHashCache(store: Store, options: { maxEntries?: number } = {}) {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const hashes = new Map<string, string>();
  /** How often each id was forgotten: a read that saw another count does not fill the cache. */
  const forgotten = new Map<string, number>();
  const put = (id: string, hash: string) => {
    if (!hashes.has(id) && hashes.size >= maxEntries) return;
    hashes.set(id, hash);
  };
  return {
    /** Loads every device's hash (at start). */
    async preload(): Promise<number> {
      for (const [id, hash] of await store.devices.tokenHashes()) put(id, hash);
      return hashes.size;
    },
    /** The stored hash of the device's token; undefined for no such device. */
    async get(id: string): Promise<string | undefined> {
      const hit = hashes.get(id);
      if (hit !== undefined) return hit;
      const seen = forgotten.get(id) ?? 0;
      const hash = await store.devices.tokenHash(id);
      if (hash !== undefined && (forgotten.get(id) ?? 0) === seen) put(id, hash);
      return hash;
    },
    /** The device's token changed in the database (enrolled, rotated, upgraded, deleted). */
    forget(id: string): void {
      hashes.delete(id);
      forgotten.set(id, (forgotten.get(id) ?? 0) + 1);
    },
    get size(): number {
      return hashes.size;
    },
  };
}
export type TokenHashCache = ReturnType<typeof createTokenHashCache>;
