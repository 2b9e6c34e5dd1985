import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../db/open.js';
import { createTelemetry } from '../telemetry.js';
import { facesMessage } from '../testing.js';
import { createIngest } from './ingest.js';

describe.each(['inline', 'worker'] as const)('ingest (%s writer): last-seen times', (writer) => {
  let dir: string;
  let database: DatabaseHandle;
  afterEach(() => {
    database.sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function setup() {
    dir = mkdtempSync(join(tmpdir(), 'ff-ingest-'));
    database = openDatabase(join(dir, 'f.db'));
    database.sqlite
      .prepare(
        "INSERT INTO devices (id, device_class, tags, token_hash, created_at) VALUES ('cam-1', 'jetson-nano', '[]', 'x', 1)",
      )
      .run();
    let clock = 1_800_000_000_000;
    const ingest = createIngest({
      database,
      telemetry: createTelemetry(),
      log: pino({ level: 'silent' }),
      batchMs: 1_000_000,
      batchRows: 1_000_000,
      lastSeenMs: 1000,
      writer,
      now: () => clock,
    });
    const lastSeen = () =>
      (
        database.sqlite.prepare("SELECT last_seen AS t FROM devices WHERE id = 'cam-1'").get() as {
          t: number | null;
        }
      ).t;
    const send = async (seq: number, at: number) => {
      clock = at;
      const done = ingest.submit({ kind: 'faces', data: facesMessage('cam-1', seq) });
      await ingest.flush();
      await done;
    };
    return { ingest, lastSeen, send, t0: clock };
  }

  it('writes the first message at once, then at most once per interval, and the last on close', async () => {
    const { ingest, lastSeen, send, t0 } = setup();
    expect(lastSeen()).toBeNull();
    await send(0, t0);
    expect(lastSeen()).toBe(t0);
    await send(1, t0 + 400); // within the interval: not written yet
    expect(lastSeen()).toBe(t0);
    await send(2, t0 + 1000); // the written time is now an interval old
    expect(lastSeen()).toBe(t0 + 1000);
    await send(3, t0 + 1500);
    expect(lastSeen()).toBe(t0 + 1000);
    await ingest.close(); // a device gone quiet, or a shutdown: nothing is left behind
    expect(lastSeen()).toBe(t0 + 1500);
    const rows = database.sqlite.prepare('SELECT count(*) AS n FROM face_windows').get() as {
      n: number;
    };
    expect(rows.n).toBe(4);
  });
});

describe('ingest (worker writer): a batch that cannot commit', () => {
  it('fails only that batch, acknowledges none of it, and keeps the writer for the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-ingest-'));
    const database = openDatabase(join(dir, 'f.db'));
    const telemetry = createTelemetry();
    const ingest = createIngest({
      database,
      telemetry,
      log: pino({ level: 'silent' }),
      batchMs: 1_000_000,
      batchRows: 1_000_000,
      writer: 'worker',
    });
    try {
      await ingest.submit({ kind: 'faces', data: facesMessage('cam-1', 0) });
      // The writer's connection finds the table gone when it next writes to it.
      database.sqlite.exec('ALTER TABLE face_windows RENAME TO face_windows_away');
      const failing = ingest.submit({ kind: 'faces', data: facesMessage('cam-1', 1) });
      const flushed = ingest.flush();
      expect(ingest.pending).toBe(1); // sent to the writer, not committed
      await flushed;
      expect(ingest.pending).toBe(0);
      await expect(failing).rejects.toThrow(/face_windows/);
      database.sqlite.exec('ALTER TABLE face_windows_away RENAME TO face_windows');
      await ingest.submit({ kind: 'faces', data: facesMessage('cam-1', 2) });
      const seqs = database.sqlite
        .prepare('SELECT seq FROM face_windows ORDER BY seq')
        .all()
        .map((r) => (r as { seq: number }).seq);
      expect(seqs).toEqual([0, 2]);
      expect(telemetry.ingested.get({ kind: 'faces' })).toBe(2);
    } finally {
      await ingest.close();
      database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
