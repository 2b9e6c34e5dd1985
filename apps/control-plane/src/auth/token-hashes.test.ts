import { openStore, type Store } from '@facefleet/store';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, startTestServer } from '../testing.js';
import { createTokenHashCache } from './token-hashes.js';

const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function storeWith(devices: Record<string, string>): Promise<Store> {
  const store = await openStore(':memory:', { writer: 'inline' });
  stores.push(store);
  for (const [id, tokenHash] of Object.entries(devices)) {
    await store.devices.insert({
      id,
      deviceClass: 'jetson-nano',
      tags: [],
      tokenHash,
      createdAt: 1,
    });
  }
  return store;
}

describe('device token hashes in memory', () => {
  it('loads every hash at start and reads an id it does not hold from the store', async () => {
    const store = await storeWith({ a: 'ha', b: 'hb' });
    const cache = createTokenHashCache(store);
    expect(await cache.preload()).toBe(2);
    await store.devices.insert({
      id: 'c',
      deviceClass: 'jetson-nano',
      tags: [],
      tokenHash: 'hc',
      createdAt: 1,
    });
    expect(await cache.get('c')).toBe('hc');
    expect(await cache.get('nobody')).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('never keeps a hash read before the token changed', async () => {
    const store = await storeWith({ a: 'old' });
    const cache = createTokenHashCache(store);
    // a read under way when the token is rotated (its answer is the old hash)…
    const reading = cache.get('a');
    await store.devices.setTokenHash('a', 'new');
    cache.forget('a');
    expect(await reading).toBe('old');
    // …does not put that answer in the cache: the next read asks the store
    expect(await cache.get('a')).toBe('new');
  });
});

describe('embedded broker logins through it', () => {
  it('a rotated token stops working at once, the new one works, a deleted device is refused', async () => {
    const t = await startTestServer();
    try {
      const old = await t.enroll('rot-1');
      const login = (password: string) =>
        connectClient(t.mqttUrl, {
          username: 'rot-1',
          password,
          clientId: `rot-${Math.random()}`,
        }).then(
          async (c) => {
            await c.endAsync();
            return true;
          },
          () => false,
        );
      expect(await login(old)).toBe(true);
      const rotated = (await (await t.api('POST', '/api/v1/devices/rot-1/token')).json()) as {
        token: string;
      };
      expect(await login(old)).toBe(false);
      expect(await login(rotated.token)).toBe(true);
      expect((await t.api('DELETE', '/api/v1/devices/rot-1')).status).toBe(200);
      expect(await login(rotated.token)).toBe(false);
    } finally {
      await t.close();
    }
  });
});
