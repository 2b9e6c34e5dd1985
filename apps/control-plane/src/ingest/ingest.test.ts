import { openStore, type Store } from '@facefleet/store';
import { query } from '@facefleet/store/testing';
import { freshStoreLocation } from '@facefleet/test-support';
import pino from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTelemetry } from '../telemetry.js';
import { facesMessage } from '../testing.js';
import { createIngest } from './ingest.js';

/** Every store the ingest runs on: SQLite with its writer on this thread or its own, PostgreSQL. */
const STORES = [
  ['sqlite, inline writer', 'sqlite', 'inline'],
  ['sqlite, writer thread', 'sqlite', 'worker'],
  ['postgres', 'postgres', undefined],
] as const;

async function openTestStore(kind: 'sqlite' | 'postgres', writer?: 'inline' | 'worker') {
  const place = freshStoreLocation(kind, inject('postgresUrl'));
  const store = await openStore(place.location, writer ? { writer } : {});
  return { store, cleanup: place.cleanup };
}

describe.each(STORES)('ingest (%s): last-seen times', (_name, kind, writer) => {
  let store: Store;
  let cleanup: () => void;
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  async function setup() {
    ({ store, cleanup } = await openTestStore(kind, writer));
    await store.devices.insert({
      id: 'cam-1',
      deviceClass: 'jetson-nano',
      tags: [],
      tokenHash: 'x',
      createdAt: 1,
    });
    let clock = 1_800_000_000_000;
    const ingest = createIngest({
      committer: store.ingest,
      telemetry: createTelemetry(),
      log: pino({ level: 'silent' }),
      batchMs: 1_000_000,
      batchRows: 1_000_000,
      lastSeenMs: 1000,
      now: () => clock,
    });
    const lastSeen = async () => (await store.devices.get('cam-1'))?.lastSeen;
    const send = async (seq: number, at: number) => {
      clock = at;
      const done = ingest.submit({ kind: 'faces', data: facesMessage('cam-1', seq) });
      await ingest.flush();
      await done;
    };
    return { ingest, lastSeen, send, t0: clock };
  }

  it('writes the first message at once, then at most once per interval, and the last on close', async () => {
    const { ingest, lastSeen, send, t0 } = await setup();
    expect(await lastSeen()).toBeNull();
    await send(0, t0);
    expect(await lastSeen()).toBe(t0);
    await send(1, t0 + 400); // within the interval: not written yet
    expect(await lastSeen()).toBe(t0);
    await send(2, t0 + 1000); // the written time is now an interval old
    expect(await lastSeen()).toBe(t0 + 1000);
    await send(3, t0 + 1500);
    expect(await lastSeen()).toBe(t0 + 1000);
    await ingest.close(); // a device gone quiet, or a shutdown: nothing is left behind
    expect(await lastSeen()).toBe(t0 + 1500);
    expect(await query(store, 'SELECT count(*) AS n FROM face_windows')).toEqual([{ n: 4 }]);
  });
});

// (An inline SQLite writer commits synchronously: nothing is ever pending to look at.)
describe.each(STORES.filter(([, , writer]) => writer !== 'inline'))(
  'ingest (%s): a batch that cannot commit',
  (_name, kind, writer) => {
    it('fails only that batch, acknowledges none of it, and keeps the writer for the next', async () => {
      const { store, cleanup } = await openTestStore(kind, writer);
      const telemetry = createTelemetry();
      const ingest = createIngest({
        committer: store.ingest,
        telemetry,
        log: pino({ level: 'silent' }),
        batchMs: 1_000_000,
        batchRows: 1_000_000,
      });
      try {
        await ingest.submit({ kind: 'faces', data: facesMessage('cam-1', 0) });
        // The writer's connection finds the table gone when it next writes to it.
        await query(store, 'ALTER TABLE face_windows RENAME TO face_windows_away');
        const failing = ingest.submit({ kind: 'faces', data: facesMessage('cam-1', 1) });
        const flushed = ingest.flush();
        expect(ingest.pending).toBe(1); // sent to the writer, not committed
        await flushed;
        expect(ingest.pending).toBe(0);
        await expect(failing).rejects.toThrow(/face_windows/);
        await query(store, 'ALTER TABLE face_windows_away RENAME TO face_windows');
        await ingest.submit({ kind: 'faces', data: facesMessage('cam-1', 2) });
        const seqs = await query<{ seq: number }>(
          store,
          'SELECT seq FROM face_windows ORDER BY seq',
        );
        expect(seqs.map((r) => r.seq)).toEqual([0, 2]);
        expect(telemetry.ingested.get({ kind: 'faces' })).toBe(2);
      } finally {
        await ingest.close();
        await store.close();
        cleanup();
      }
    });
  },
);
