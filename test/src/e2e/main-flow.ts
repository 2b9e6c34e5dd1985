import { facesSchema, topics } from '@facefleet/protocol';
import { waitFor } from '@facefleet/test-support';
import { expect, it } from 'vitest';
import { DEVICE_IDS, type Fleet, readDb } from './fleet.js';

/**
 * The main flow, the same whatever carries the MQTT traffic (the embedded broker or an external
 * Mosquitto): faces from real detections reach SQLite, the API and an outside subscriber; a faces
 * rule fires an alert the subscriber receives; the FPS view lists every agent.
 */
export function mainFlowTests(fleet: () => Fleet): void {
  it('face counts from every agent reach SQLite, the face series API and the outside subscriber', async () => {
    const { cp, sub } = fleet();
    const from = Date.now() - 60_000;
    for (const id of DEVICE_IDS) {
      // Megamind.avi shows one or two faces in nearly every frame: a window with none would
      // mean the detector, not the plumbing, is broken.
      const m = await sub.waitForMessage(topics.faces(id), {
        where: (msg) => (JSON.parse(msg.payload) as { max: number }).max >= 1,
        timeoutMs: 60_000,
      });
      const seen = facesSchema.parse(JSON.parse(m.payload));
      expect(seen.deviceId).toBe(id);
      expect(seen.frames).toBeGreaterThanOrEqual(1);

      // The very window the subscriber saw is in the database, once, with the same counts.
      const row = await waitFor(
        () =>
          readDb(cp, (db) =>
            db
              .prepare(
                'SELECT seq, frames, min, max, mean, start, "end" FROM face_windows WHERE device_id = ? AND seq = ?',
              )
              .get(id, seen.seq),
          ) as { seq: number; frames: number; min: number; max: number; start: number } | undefined,
        { timeoutMs: 30_000, what: `${id} window ${seen.seq} in face_windows` },
      );
      expect(row).toMatchObject({
        seq: seen.seq,
        frames: seen.frames,
        min: seen.min,
        max: seen.max,
        start: seen.start,
      });

      // The face series endpoint counts exactly the windows the database holds in the same range
      // (read until both agree: windows keep arriving while we look).
      const to = Date.now();
      const counts = await waitFor(
        async () => {
          const stored = readDb(
            cp,
            (db) =>
              db
                .prepare(
                  'SELECT count(*) AS n, max(max) AS maxFaces FROM face_windows WHERE device_id = ? AND start >= ? AND start < ?',
                )
                .get(id, from, to) as { n: number; maxFaces: number },
          );
          const api = await cp.json<{
            buckets: { windows: number; frames: number; maxFaces: number }[];
          }>('GET', `/api/v1/devices/${id}/faces?from=${from}&to=${to}&bucket=1s`);
          const windows = api.buckets.reduce((n, b) => n + b.windows, 0);
          const maxFaces = Math.max(0, ...api.buckets.map((b) => b.maxFaces));
          return stored.n > 0 && stored.n === windows ? { stored, windows, maxFaces } : null;
        },
        { timeoutMs: 30_000, what: `${id}: the face series API to agree with SQLite` },
      );
      expect(counts.maxFaces).toBe(counts.stored.maxFaces);
      expect(counts.maxFaces).toBeGreaterThanOrEqual(1);
    }
  });

  it('a faces rule (≥ 1 face held for 2 s) fires an alert that the subscriber receives for every device', async () => {
    const { cp, sub } = fleet();
    const forS = 2;
    const created = Date.now();
    await cp.json(
      'POST',
      '/api/v1/alert-rules',
      { id: 'e2e-any-face', kind: 'faces_above', threshold: 1, forS, selector: { tag: 'e2e' } },
      { expect: 201 },
    );
    for (const id of DEVICE_IDS) {
      const m = await sub.waitForMessage(topics.alert('e2e-any-face', id), {
        where: (msg) => (JSON.parse(msg.payload) as { state: string }).state === 'firing',
        timeoutMs: 60_000,
      });
      const alert = JSON.parse(m.payload) as Record<string, unknown>;
      expect(alert).toMatchObject({
        v: 1,
        ruleId: 'e2e-any-face',
        deviceId: id,
        kind: 'faces_above',
        state: 'firing',
        threshold: 1,
      });
      expect(alert.value).toBeGreaterThanOrEqual(1);
      // It waited for the condition to hold (a clock-skew-free check: one machine, one clock).
      expect(alert.ts as number).toBeGreaterThanOrEqual(created + forS * 1000 - 250);
    }
    const listed = await cp.json<{ alerts: { ruleId: string; deviceId: string; state: string }[] }>(
      'GET',
      '/api/v1/alerts?ruleId=e2e-any-face&state=firing',
    );
    expect(new Set(listed.alerts.map((a) => a.deviceId))).toEqual(new Set(DEVICE_IDS));
  });

  it('the fleet FPS endpoint lists every agent with the FPS its runner reports', async () => {
    const { cp } = fleet();
    type FleetFps = {
      classes: {
        deviceClass: string;
        devices: { deviceId: string; samples: number; fps: { p50: number | null } }[];
      }[];
    };
    const fps = await waitFor(
      async () => {
        const r = await cp.json<FleetFps>('GET', '/api/v1/fleet/fps?window=120');
        const devices = r.classes.flatMap((c) =>
          c.devices.map((d) => ({ ...d, cls: c.deviceClass })),
        );
        return DEVICE_IDS.every((id) => devices.some((d) => d.deviceId === id)) ? devices : null;
      },
      { timeoutMs: 30_000, what: 'every agent in /api/v1/fleet/fps' },
    );
    for (const id of DEVICE_IDS) {
      const d = fps.find((x) => x.deviceId === id)!;
      expect(d.samples).toBeGreaterThanOrEqual(1);
      // The runner is capped at 4 frames a second (--max-fps 4): it shows.
      expect(d.fps.p50).toBeGreaterThan(0);
      expect(d.fps.p50).toBeLessThanOrEqual(6);
    }
    expect(fps.map((d) => d.deviceId).sort()).toEqual([...DEVICE_IDS].sort());
  });
}
