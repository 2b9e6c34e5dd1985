import { type Faces, facesSchema, topics } from '@facefleet/protocol';
import {
  type Agent,
  type ControlPlane,
  hostDeviceClass,
  type MosquittoSub,
  megamind,
  mosquittoSub,
  type RtspServer,
  startAgent,
  startControlPlane,
  startRtspServer,
  vtest,
  waitFor,
} from '@facefleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDb } from './fleet.js';

/**
 * One device with three cameras, all real: the built control plane (embedded broker, SQLite), the
 * built agent supervising one real runner (BlazeFace on OpenCV DNN) that serves two video files
 * and a live RTSP camera (GStreamer's RTSP server, the runner's own test server), and an outside
 * mosquitto_sub with read-only subscriber credentials. The RTSP server is killed: the camera's
 * `camera_offline` alert reaches the subscriber, and resolves when a new server comes up on the
 * same port; the two file cameras go on without a gap in their windows.
 */
const DEVICE = 'e2e-cams';
const TAG = 'e2e-cams';
const RULE = 'e2e-camera-down';
/**
 * The agent's face window. A camera's windows join end to start as long as each has a frame: 2 s
 * (4 frames a second) keeps a loaded CI machine's short stalls from reading as a gap.
 */
const WINDOW_S = 2;
/**
 * The camera_offline threshold: seconds a camera must be down before the alert fires. More than two
 * windows, so that the outage holds a whole window with no frame of the camera wherever it falls.
 */
const DOWN_S = 5;
const FILES = ['door', 'hall'] as const;
const LIVE = 'yard';

interface Parts {
  cp: ControlPlane;
  sub: MosquittoSub;
  agent: Agent;
  rtsp: RtspServer;
}
let parts: Partial<Parts> = {};
const get = (): Parts => {
  const { cp, sub, agent, rtsp } = parts;
  if (!cp || !sub || !agent || !rtsp) throw new Error('the device did not start');
  return { cp, sub, agent, rtsp };
};

type CamerasDoc = {
  counts: { total: number; online: number; reconnecting: number; offline: number };
  cameras: { id: string; state: string | null; reason: string | null }[];
};
const cameras = (cp: ControlPlane) =>
  cp.json<CamerasDoc>('GET', `/api/v1/devices/${DEVICE}/cameras`);

/** The windows of one camera the subscriber received, parsed, once each (QoS 1), in seq order. */
function subscriberWindows(sub: MosquittoSub, camera: string): Faces[] {
  const bySeq = new Map<number, Faces>();
  for (const m of sub.messages) {
    if (m.topic !== topics.faces(DEVICE)) continue;
    const w = facesSchema.parse(JSON.parse(m.payload));
    if (w.camera === camera) bySeq.set(w.seq, w);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

type Row = { seq: number; start: number; end: number };
const storedWindows = (cp: ControlPlane, camera: string): Row[] =>
  readDb(cp, (db) =>
    db
      .prepare(
        'SELECT seq, start, "end" FROM face_windows WHERE device_id = ? AND camera = ? ORDER BY start',
      )
      .all(DEVICE, camera),
  ) as Row[];

/** Where a camera's windows do not join: a window that starts after the one before it ended. */
function holes(rows: Pick<Row, 'start' | 'end'>[]): { after: number; ms: number }[] {
  const out: { after: number; ms: number }[] = [];
  for (let i = 1; i < rows.length; i++) {
    const ms = rows[i]!.start - rows[i - 1]!.end;
    if (ms !== 0) out.push({ after: rows[i - 1]!.end, ms });
  }
  return out;
}

describe('a device with three cameras', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    parts.cp = await startControlPlane();
    const cp = parts.cp;
    const subscriber = await cp.json<{ username: string; password: string }>(
      'POST',
      '/api/v1/subscribers',
      { name: 'e2e-cams-watcher' },
      { expect: 201 },
    );
    parts.sub = await mosquittoSub({
      url: cp.mqttUrl,
      username: subscriber.username,
      password: subscriber.password,
      topics: [topics.faces(DEVICE), 'facefleet/v1/alerts/#'],
    });
    parts.rtsp = await startRtspServer();
    parts.agent = await startAgent({
      controlPlane: cp,
      deviceId: DEVICE,
      deviceClass: hostDeviceClass,
      tags: [TAG],
      facesWindowS: WINDOW_S,
      cameras: [
        { id: 'door', source: megamind },
        { id: 'hall', source: vtest },
        { id: LIVE, source: parts.rtsp.url },
      ],
    });
  }, 120_000);

  afterAll(async () => {
    const codes: Record<string, number | null> = {};
    // subscriber and agent before the control plane; the camera last
    if (parts.sub) codes.sub = await parts.sub.stop();
    if (parts.agent) codes.agent = await parts.agent.stop();
    if (parts.cp) codes.cp = await parts.cp.stop();
    if (parts.rtsp?.process.running) codes.rtsp = await parts.rtsp.process.stop();
    parts = {};
    // SIGTERM: every process shuts down cleanly
    for (const code of Object.values(codes)) expect(code).toBe(0);
  }, 60_000);

  it('every camera comes online and sends windows of its own: in SQLite, the API and at the subscriber', async () => {
    const { cp, sub } = get();
    const up = await waitFor(
      async () => {
        const doc = await cameras(cp);
        return doc.counts.online === 3 ? doc : null;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'the three cameras online in the API' },
    );
    expect(up.cameras.map((c) => c.id)).toEqual(['door', 'hall', LIVE]);
    expect(up.counts).toEqual({ total: 3, online: 3, reconnecting: 0, offline: 0 });

    const from = Date.now() - 120_000;
    for (const camera of [...FILES, LIVE]) {
      // the subscriber's one filter on the device's faces topic takes every camera's windows
      const m = await sub.waitForMessage(topics.faces(DEVICE), {
        where: (msg) => (JSON.parse(msg.payload) as { camera?: string }).camera === camera,
        timeoutMs: 30_000,
      });
      const seen = facesSchema.parse(JSON.parse(m.payload));
      expect(seen.frames).toBeGreaterThanOrEqual(1);
      const row = await waitFor(
        () =>
          readDb(cp, (db) =>
            db
              .prepare(
                'SELECT camera, frames, max, start, "end" FROM face_windows WHERE device_id = ? AND seq = ?',
              )
              .get(DEVICE, seen.seq),
          ) as { camera: string; frames: number; max: number } | undefined,
        { timeoutMs: 30_000, what: `window ${seen.seq} of ${camera} in face_windows` },
      );
      expect(row).toEqual({
        camera,
        frames: seen.frames,
        max: seen.max,
        start: seen.start,
        end: seen.end,
      });
      // the API's series of this camera counts exactly the windows SQLite holds of it
      const counts = await waitFor(
        async () => {
          const to = Date.now();
          const stored = readDb(
            cp,
            (db) =>
              db
                .prepare(
                  'SELECT count(*) AS n FROM face_windows WHERE device_id = ? AND camera = ? AND start >= ? AND start < ?',
                )
                .get(DEVICE, camera, from, to) as { n: number },
          ).n;
          const api = await cp.json<{ camera: string | null; buckets: { windows: number }[] }>(
            'GET',
            `/api/v1/devices/${DEVICE}/faces?camera=${camera}&from=${from}&to=${to}&bucket=1s`,
          );
          const windows = api.buckets.reduce((n, b) => n + b.windows, 0);
          return stored > 0 && stored === windows ? { stored, camera: api.camera } : null;
        },
        { timeoutMs: 30_000, what: `${camera}: the face series API to agree with SQLite` },
      );
      expect(counts.camera).toBe(camera);
    }
    // Megamind.avi shows a face in nearly every frame: the door camera's detections are real
    await sub.waitForMessage(topics.faces(DEVICE), {
      where: (msg) => {
        const w = JSON.parse(msg.payload) as { camera?: string; max: number };
        return w.camera === 'door' && w.max >= 1;
      },
      timeoutMs: 30_000,
    });
  });

  it('killing the RTSP camera fires camera_offline at the subscriber; it resolves when the camera is back; the others go on without a gap', async () => {
    const { cp, sub, agent, rtsp } = get();
    await cp.json(
      'POST',
      '/api/v1/alert-rules',
      { id: RULE, kind: 'camera_offline', threshold: DOWN_S, selector: { tag: TAG } },
      { expect: 201 },
    );
    const alertTopic = topics.alert(RULE, DEVICE, LIVE);
    const runnerPid = (
      await cp.json<{ device: { status: { runner: { pid: number } } } }>(
        'GET',
        `/api/v1/devices/${DEVICE}`,
      )
    ).device.status.runner.pid;
    // every camera has sent windows for a while before the source dies
    const before = Date.now();
    await waitFor(() => FILES.every((c) => storedWindows(cp, c).length >= 3), {
      timeoutMs: 30_000,
      what: 'three windows of each file camera',
    });

    const killedAt = Date.now();
    await rtsp.process.kill('SIGKILL');

    const firing = await sub.waitForMessage(alertTopic, {
      where: (m) => (JSON.parse(m.payload) as { state: string }).state === 'firing',
      timeoutMs: 60_000,
    });
    const fired = JSON.parse(firing.payload) as Record<string, unknown>;
    expect(fired).toMatchObject({
      ruleId: RULE,
      deviceId: DEVICE,
      camera: LIVE,
      kind: 'camera_offline',
      state: 'firing',
      threshold: DOWN_S,
    });
    // it waited for the camera to be down for the threshold (one machine, one clock)
    expect(fired.ts as number).toBeGreaterThanOrEqual(killedAt + DOWN_S * 1000 - 250);
    const down = await cameras(cp);
    expect(down.cameras.find((c) => c.id === LIVE)).toMatchObject({ state: 'reconnecting' });
    expect(down.cameras.find((c) => c.id === LIVE)?.reason).toBeTruthy();
    expect(down.counts).toMatchObject({ online: 2, reconnecting: 1 });

    // the camera comes back: a new server on the same port, the same runner reconnects to it
    parts.rtsp = await startRtspServer({ port: rtsp.port });
    const resolved = await sub.waitForMessage(alertTopic, {
      where: (m) => (JSON.parse(m.payload) as { state: string }).state === 'resolved',
      timeoutMs: 90_000,
    });
    const backAt = (JSON.parse(resolved.payload) as { ts: number }).ts;
    expect(JSON.parse(resolved.payload)).toMatchObject({ camera: LIVE, kind: 'camera_offline' });
    const device = await cp.json<{ device: { status: { runner: { pid: number } } } }>(
      'GET',
      `/api/v1/devices/${DEVICE}`,
    );
    expect(device.device.status.runner.pid).toBe(runnerPid); // no runner restart
    // the live camera sends windows again
    await sub.waitForMessage(topics.faces(DEVICE), {
      where: (msg) => {
        const w = JSON.parse(msg.payload) as { camera?: string; start: number };
        return w.camera === LIVE && w.start >= backAt;
      },
      timeoutMs: 30_000,
    });
    // and a few more windows of the file cameras after it
    const after = Date.now() + 3000;
    const settle = (c: string) => storedWindows(cp, c).some((w) => w.start >= after);
    await waitFor(() => FILES.every(settle), {
      timeoutMs: 30_000,
      what: 'windows of the file cameras after the recovery',
    });

    // Over the whole outage, each file camera's windows join end to start (a window without a
    // frame is not sent, and the next one starts where it would have ended): in SQLite and at the
    // subscriber.
    for (const camera of FILES) {
      const rows = storedWindows(cp, camera).filter((w) => w.end >= before);
      expect(rows[0]!.start).toBeLessThan(killedAt);
      expect(rows.at(-1)!.end).toBeGreaterThan(backAt);
      expect({ camera, holes: holes(rows) }).toEqual({ camera, holes: [] });
      const seen = subscriberWindows(sub, camera).filter((w) => w.end >= before);
      expect({ camera, holes: holes(seen) }).toEqual({ camera, holes: [] });
      // the same windows as stored (up to the newest both have)
      const upTo = Math.min(rows.at(-1)!.end, seen.at(-1)!.end);
      expect(seen.filter((w) => w.end <= upTo).map((w) => w.seq)).toEqual(
        rows.filter((w) => w.end <= upTo).map((w) => w.seq),
      );
    }
    // the live camera's windows do have the hole: the check above can see one
    // (the outage's first window may hold frames from before the kill, its last one frames from
    // after the return: at least one whole window between them has none)
    const outage = holes(storedWindows(cp, LIVE));
    expect(outage).toHaveLength(1);
    expect(outage[0]!.ms).toBeGreaterThanOrEqual(WINDOW_S * 1000 - 100); // timer jitter
    expect(outage[0]!.after).toBeLessThanOrEqual(killedAt + WINDOW_S * 1000 + 1000);
    // no camera_offline alert for a camera that never went down
    for (const camera of FILES) {
      expect(sub.messages.some((m) => m.topic === topics.alert(RULE, DEVICE, camera))).toBe(false);
    }
    expect(agent.process.running).toBe(true);
  });
});
