import { describe, expect, it } from 'vitest';
import { openDatabase } from './open.js';
import { runRetention } from './retention.js';

const DAY = 86_400_000;

describe('retention', () => {
  it('folds old raw rows into 1-minute rollups, deletes them, and keeps recent rows raw', () => {
    const database = openDatabase(':memory:');
    const now = 100 * DAY;
    const insert = database.sqlite.prepare(
      `INSERT INTO face_windows (device_id, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at)
       VALUES ('cam', ?, ?, ?, ?, 30, 1, 0, ?, ?, NULL, ?)`,
    );
    const old = now - 10 * DAY;
    insert.run(1, old + 1000, old, old + 1000, 2, 1.5, old);
    insert.run(2, old + 2000, old + 1000, old + 2000, 4, 2.5, old);
    insert.run(3, old + 61_000, old + 60_000, old + 61_000, 1, 1, old);
    insert.run(4, now - 1000, now - 2000, now - 1000, 3, 3, now);
    const removed = runRetention(database, now, 7, 90);
    expect(removed.faces).toBe(3);
    const raw = database.sqlite.prepare('SELECT seq FROM face_windows').all();
    expect(raw).toEqual([{ seq: 4 }]);
    const rollups = database.sqlite
      .prepare(
        'SELECT minute, windows, frames, max_faces, mean_sum FROM face_rollups ORDER BY minute',
      )
      .all();
    const minute = Math.floor(old / 60_000) * 60_000;
    expect(rollups).toEqual([
      { minute, windows: 2, frames: 60, max_faces: 4, mean_sum: 4 },
      { minute: minute + 60_000, windows: 1, frames: 30, max_faces: 1, mean_sum: 1 },
    ]);
    // Rollups past their own retention go too.
    runRetention(database, now + 100 * DAY, 7, 90);
    expect(database.sqlite.prepare('SELECT count(*) AS n FROM face_rollups').get()).toEqual({
      n: 0,
    });
    database.close();
  });
});
