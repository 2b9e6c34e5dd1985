import { describe, expect, it } from 'vitest';
import { createEventBus } from './bus.js';
import { createLiveHub } from './hub.js';
import type { LiveEvent } from './types.js';

const faces = (deviceId: string, max: number): LiveEvent => ({
  type: 'faces',
  deviceId,
  camera: '0',
  ts: max,
  start: 0,
  end: 1,
  frames: 30,
  last: max,
  max,
  mean: max,
  receivedAt: 0,
});

describe('live hub', () => {
  it('sends events in order, keeping only the newest face window per device in a batch', async () => {
    const bus = createEventBus();
    const hub = createLiveHub({ bus, flushMs: 30, heartbeatMs: 10_000 });
    const conn = hub.open()!;
    const next = conn.next();
    bus.publish(faces('a', 1));
    bus.publish({ type: 'device-removed', deviceId: 'x' });
    bus.publish(faces('b', 5));
    bus.publish(faces('a', 2));
    const batch = await next;
    expect(batch).toEqual([
      faces('a', 2),
      { type: 'device-removed', deviceId: 'x' },
      faces('b', 5),
    ]);
    hub.close();
  });

  it('keeps the newest window by its timestamp when they arrive out of order (several instances)', async () => {
    const bus = createEventBus();
    const hub = createLiveHub({ bus, flushMs: 30, heartbeatMs: 10_000 });
    const conn = hub.open()!;
    const next = conn.next();
    bus.publish(faces('a', 7));
    bus.publish(faces('a', 6)); // relayed late by another instance
    expect(await next).toEqual([faces('a', 7)]);
    hub.close();
  });

  it('keeps events that arrive between batches for the next one', async () => {
    const bus = createEventBus();
    const hub = createLiveHub({ bus, flushMs: 10, heartbeatMs: 10_000 });
    const conn = hub.open()!;
    bus.publish(faces('a', 1));
    expect(await conn.next()).toEqual([faces('a', 1)]);
    bus.publish(faces('a', 3));
    expect(await conn.next()).toEqual([faces('a', 3)]);
    hub.close();
  });

  it('answers an empty batch when a heartbeat is due, and null once closed', async () => {
    const bus = createEventBus();
    const hub = createLiveHub({ bus, flushMs: 10, heartbeatMs: 20 });
    const conn = hub.open()!;
    expect(await conn.next()).toEqual([]);
    expect(hub.connections).toBe(1);
    const pending = conn.next();
    hub.close();
    expect(await pending).toBeNull();
    expect(hub.connections).toBe(0);
    expect(bus.listeners).toBe(0);
    expect(await hub.open()!.next()).toBeNull();
  });

  it('closes a connection that falls too far behind instead of buffering without bound', async () => {
    const bus = createEventBus();
    const hub = createLiveHub({ bus, flushMs: 10, heartbeatMs: 10_000, maxPending: 3 });
    const conn = hub.open()!;
    for (let i = 0; i < 5; i++) bus.publish({ type: 'device-removed', deviceId: `d${i}` });
    expect(conn.closed).toBe(true);
    expect(await conn.next()).toBeNull();
    expect(bus.listeners).toBe(0);
  });
});
