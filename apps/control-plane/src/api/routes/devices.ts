import { DEVICE_STATES, deviceClassSchema, deviceIdSchema, topics } from '@facefleet/protocol';
import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { hashSecret, newSecret } from '../../auth/secrets.js';
import {
  devices,
  faceRollups,
  faceWindows,
  metricRollups,
  metrics,
  reportedHistory,
  statusHistory,
} from '../../db/schema.js';
import { deviceView } from '../../db/views.js';
import { ApiError } from '../../errors.js';
import type { AppDeps, Registrar } from '../app.js';
import {
  brokerApiError,
  jsonBody,
  parseDuration,
  query,
  requireRole,
  revokeOrWarn,
} from '../http.js';

const tagSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'tags are 1-64 characters of A-Z a-z 0-9 . _ : -');
const tagsSchema = z.array(tagSchema).max(32);

export const enrollSchema = z.strictObject({
  id: deviceIdSchema,
  deviceClass: deviceClassSchema,
  tags: tagsSchema.default([]),
});

const listQuery = z.strictObject({
  tag: tagSchema.optional(),
  class: deviceClassSchema.optional(),
  status: z.enum([...DEVICE_STATES, 'never']).optional(),
});

export const seriesQuery = z.strictObject({
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
  bucket: z
    .string()
    .refine(
      (b) => (parseDuration(b) ?? 0) >= 1000,
      'must be a duration of at least 1s, like 60s, 5m, 1h',
    )
    .default('60s'),
});

/** Resolves from/to/bucket, refusing more than 10,000 buckets. */
export function seriesRange(q: z.infer<typeof seriesQuery>, now: number) {
  const to = q.to ?? now;
  const from = q.from ?? to - 3_600_000;
  const bucketMs = parseDuration(q.bucket)!;
  if (from >= to) {
    throw new ApiError(400, 'invalid_request', 'from: must be before to', [
      { path: 'from', message: 'must be before to' },
    ]);
  }
  if ((to - from) / bucketMs > 10_000) {
    throw new ApiError(400, 'invalid_request', 'bucket: more than 10000 buckets in the range', [
      { path: 'bucket', message: 'more than 10000 buckets in the range' },
    ]);
  }
  return { from, to, bucketMs };
}

export function deviceRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  const { db } = deps.database;
  const find = (id: string) => {
    const row = db.select().from(devices).where(eq(devices.id, id)).get();
    if (!row) throw new ApiError(404, 'not_found', `no device ${id}`);
    return row;
  };

  doc({
    method: 'post',
    path: '/api/v1/devices',
    summary: 'Enroll a device; its token is returned once and stored only as a scrypt hash',
    tag: 'devices',
    auth: 'admin',
    body: enrollSchema,
    ok: [201, 'The device and its token'],
  });
  app.post('/api/v1/devices', async (c) => {
    requireRole(c, 'admin');
    const body = await jsonBody(c, enrollSchema);
    if (db.select({ id: devices.id }).from(devices).where(eq(devices.id, body.id)).get()) {
      throw new ApiError(409, 'conflict', `device ${body.id} exists`, [
        { path: 'id', message: 'already enrolled' },
      ]);
    }
    const token = newSecret();
    const row = db
      .insert(devices)
      .values({
        id: body.id,
        deviceClass: body.deviceClass,
        tags: JSON.stringify(body.tags),
        tokenHash: await hashSecret(token),
        createdAt: Date.now(),
      })
      .returning()
      .get();
    deps.cache.forget(`device:${body.id}`);
    try {
      // The plaintext token exists only now: an external broker's login is made with it here.
      await deps.credentials.issue({ kind: 'device', deviceId: body.id }, token);
    } catch (err) {
      db.delete(devices).where(eq(devices.id, body.id)).run();
      deps.cache.forget(`device:${body.id}`);
      throw brokerApiError(err, `device ${body.id} was not enrolled`);
    }
    deps.alerts.devicesChanged();
    deps.live.deviceChanged(body.id);
    return c.json(
      { device: deviceView(row), token, mqtt: { username: body.id, password: token } },
      201,
    );
  });

  doc({
    method: 'get',
    path: '/api/v1/devices',
    summary: 'List devices',
    tag: 'devices',
    auth: 'viewer',
    query: listQuery,
  });
  app.get('/api/v1/devices', (c) => {
    requireRole(c, 'viewer');
    const q = query(c, listQuery);
    let rows = db.select().from(devices).orderBy(devices.id).all();
    if (q.tag) rows = rows.filter((r) => (JSON.parse(r.tags) as string[]).includes(q.tag!));
    if (q.class) rows = rows.filter((r) => r.deviceClass === q.class);
    if (q.status) rows = rows.filter((r) => (r.state ?? 'never') === q.status);
    return c.json({ devices: rows.map(deviceView) });
  });

  doc({
    method: 'get',
    path: '/api/v1/devices/:id',
    summary: 'Show a device',
    tag: 'devices',
    auth: 'viewer',
  });
  app.get('/api/v1/devices/:id', (c) => {
    requireRole(c, 'viewer');
    return c.json({ device: deviceView(find(c.req.param('id'))) });
  });

  doc({
    method: 'post',
    path: '/api/v1/devices/:id/token',
    summary:
      "Rotate a device's token: the new one is returned once, the old one stops working and its open MQTT sessions are closed",
    tag: 'devices',
    auth: 'admin',
    ok: [200, 'The device and its new token'],
  });
  app.post('/api/v1/devices/:id/token', async (c) => {
    requireRole(c, 'admin');
    const id = c.req.param('id');
    const before = find(id);
    const token = newSecret();
    const tokenHash = await hashSecret(token);
    const row = db.update(devices).set({ tokenHash }).where(eq(devices.id, id)).returning().get();
    if (!row) throw new ApiError(404, 'not_found', `no device ${id}`);
    deps.cache.forget(`device:${id}`);
    try {
      await deps.credentials.issue({ kind: 'device', deviceId: id }, token);
    } catch (err) {
      db.update(devices).set({ tokenHash: before.tokenHash }).where(eq(devices.id, id)).run();
      deps.cache.forget(`device:${id}`);
      throw brokerApiError(
        err,
        `the token of ${id} was not changed (the broker may hold the new one: rotate again)`,
      );
    }
    return c.json({ device: deviceView(row), token, mqtt: { username: id, password: token } });
  });

  const tagsBody = z.strictObject({ tags: tagsSchema });
  doc({
    method: 'put',
    path: '/api/v1/devices/:id/tags',
    summary: "Replace a device's tags",
    tag: 'devices',
    auth: 'admin',
    body: tagsBody,
  });
  app.put('/api/v1/devices/:id/tags', async (c) => {
    requireRole(c, 'admin');
    const id = c.req.param('id');
    find(id);
    const { tags } = await jsonBody(c, tagsBody);
    const row = db
      .update(devices)
      .set({ tags: JSON.stringify([...new Set(tags)]) })
      .where(eq(devices.id, id))
      .returning()
      .get();
    deps.alerts.devicesChanged();
    deps.live.deviceChanged(id);
    return c.json({ device: deviceView(row!) });
  });

  doc({
    method: 'delete',
    path: '/api/v1/devices/:id',
    summary:
      'Delete a device (its token stops working at once and its open MQTT sessions are closed)',
    tag: 'devices',
    auth: 'admin',
  });
  app.delete('/api/v1/devices/:id', async (c) => {
    requireRole(c, 'admin');
    const id = c.req.param('id');
    find(id);
    db.delete(devices).where(eq(devices.id, id)).run();
    deps.cache.forget(`device:${id}`);
    deps.alerts.devicesChanged();
    deps.live.deviceChanged(id);
    const warning = await revokeOrWarn(deps, { kind: 'device', deviceId: id });
    // An empty retained message clears the device's desired state on the broker.
    await deps.broker.publish(topics.desired(id), '', { retain: true, qos: 1 });
    return c.json(warning ? { deleted: id, warning } : { deleted: id });
  });

  const historyQuery = z.strictObject({
    limit: z.coerce.number().int().min(1).max(1000).default(50),
  });
  doc({
    method: 'get',
    path: '/api/v1/devices/:id/history',
    summary:
      "A device's engine update reports and status changes (newest first) and its latest metrics sample",
    tag: 'devices',
    auth: 'viewer',
    query: historyQuery,
  });
  app.get('/api/v1/devices/:id/history', (c) => {
    requireRole(c, 'viewer');
    const id = c.req.param('id');
    find(id);
    const { limit } = query(c, historyQuery);
    const updates = db
      .select({
        ts: reportedHistory.ts,
        rev: reportedHistory.rev,
        state: reportedHistory.updateState,
        engineId: reportedHistory.engineId,
        rolloutId: reportedHistory.rolloutId,
        reason: reportedHistory.reason,
      })
      .from(reportedHistory)
      .where(eq(reportedHistory.deviceId, id))
      .orderBy(desc(reportedHistory.seq))
      .limit(limit)
      .all();
    const statuses = db
      .select({ ts: statusHistory.ts, state: statusHistory.state, reason: statusHistory.reason })
      .from(statusHistory)
      .where(eq(statusHistory.deviceId, id))
      .orderBy(desc(statusHistory.seq))
      .limit(limit)
      .all();
    const last = db
      .select()
      .from(metrics)
      .where(eq(metrics.deviceId, id))
      .orderBy(desc(metrics.seq))
      .limit(1)
      .get();
    return c.json({
      deviceId: id,
      updates,
      statuses,
      latestMetrics: last
        ? {
            ts: last.ts,
            fps: last.fps,
            inferFps: last.inferFps,
            latencyMs:
              last.latencyP50 === null
                ? null
                : { p50: last.latencyP50, p95: last.latencyP95, p99: last.latencyP99 },
            gpuPct: last.gpuPct,
            ramUsedMb: last.ramUsedMb,
            tempsC: JSON.parse(last.temps) as Record<string, number>,
            powerMode: last.powerMode,
          }
        : null,
    });
  });

  doc({
    method: 'get',
    path: '/api/v1/devices/:id/faces',
    summary: 'Face counts in buckets (windows, frames, max and mean faces per bucket)',
    tag: 'devices',
    auth: 'viewer',
    query: seriesQuery,
  });
  app.get('/api/v1/devices/:id/faces', (c) => {
    requireRole(c, 'viewer');
    const id = c.req.param('id');
    find(id);
    const { from, to, bucketMs } = seriesRange(query(c, seriesQuery), Date.now());
    const bucket = sql<number>`(${faceWindows.start} / ${bucketMs}) * ${bucketMs}`;
    const raw = db
      .select({
        t: bucket,
        windows: sql<number>`count(*)`,
        frames: sql<number>`sum(${faceWindows.frames})`,
        maxFaces: sql<number>`max(${faceWindows.max})`,
        meanSum: sql<number>`sum(${faceWindows.mean})`,
      })
      .from(faceWindows)
      .where(
        and(eq(faceWindows.deviceId, id), gte(faceWindows.start, from), lt(faceWindows.start, to)),
      )
      .groupBy(bucket)
      .all();
    const rbucket = sql<number>`(${faceRollups.minute} / ${bucketMs}) * ${bucketMs}`;
    const rolled = db
      .select({
        t: rbucket,
        windows: sql<number>`sum(${faceRollups.windows})`,
        frames: sql<number>`sum(${faceRollups.frames})`,
        maxFaces: sql<number>`max(${faceRollups.maxFaces})`,
        meanSum: sql<number>`sum(${faceRollups.meanSum})`,
      })
      .from(faceRollups)
      .where(
        and(
          eq(faceRollups.deviceId, id),
          gte(faceRollups.minute, from),
          lt(faceRollups.minute, to),
        ),
      )
      .groupBy(rbucket)
      .all();
    const merged = new Map<
      number,
      { windows: number; frames: number; maxFaces: number; meanSum: number }
    >();
    for (const r of [...raw, ...rolled]) {
      const m = merged.get(r.t);
      merged.set(
        r.t,
        m
          ? {
              windows: m.windows + r.windows,
              frames: m.frames + r.frames,
              maxFaces: Math.max(m.maxFaces, r.maxFaces),
              meanSum: m.meanSum + r.meanSum,
            }
          : { ...r },
      );
    }
    const buckets = [...merged]
      .sort(([a], [b]) => a - b)
      .map(([t, v]) => ({
        t,
        windows: v.windows,
        frames: v.frames,
        maxFaces: v.maxFaces,
        meanFaces: v.windows > 0 ? v.meanSum / v.windows : 0,
      }));
    return c.json({ deviceId: id, from, to, bucketMs, buckets });
  });

  doc({
    method: 'get',
    path: '/api/v1/devices/:id/metrics',
    summary: 'Runner and device metrics in buckets (mean FPS, worst latency, hottest sensor)',
    tag: 'devices',
    auth: 'viewer',
    query: seriesQuery,
  });
  app.get('/api/v1/devices/:id/metrics', (c) => {
    requireRole(c, 'viewer');
    const id = c.req.param('id');
    find(id);
    const { from, to, bucketMs } = seriesRange(query(c, seriesQuery), Date.now());
    const bucket = sql<number>`(${metrics.ts} / ${bucketMs}) * ${bucketMs}`;
    const raw = db
      .select({
        t: bucket,
        samples: sql<number>`count(*)`,
        fpsSum: sql<number>`coalesce(sum(${metrics.fps}), 0)`,
        fpsMin: sql<number | null>`min(${metrics.fps})`,
        inferFpsSum: sql<number>`coalesce(sum(${metrics.inferFps}), 0)`,
        latencyP95Max: sql<number | null>`max(${metrics.latencyP95})`,
        tempMaxC: sql<number | null>`max(${metrics.tempMaxC})`,
      })
      .from(metrics)
      .where(and(eq(metrics.deviceId, id), gte(metrics.ts, from), lt(metrics.ts, to)))
      .groupBy(bucket)
      .all();
    const rbucket = sql<number>`(${metricRollups.minute} / ${bucketMs}) * ${bucketMs}`;
    const rolled = db
      .select({
        t: rbucket,
        samples: sql<number>`sum(${metricRollups.samples})`,
        fpsSum: sql<number>`sum(${metricRollups.fpsSum})`,
        fpsMin: sql<number | null>`min(${metricRollups.fpsMin})`,
        inferFpsSum: sql<number>`sum(${metricRollups.inferFpsSum})`,
        latencyP95Max: sql<number | null>`max(${metricRollups.latencyP95Max})`,
        tempMaxC: sql<number | null>`max(${metricRollups.tempMaxC})`,
      })
      .from(metricRollups)
      .where(
        and(
          eq(metricRollups.deviceId, id),
          gte(metricRollups.minute, from),
          lt(metricRollups.minute, to),
        ),
      )
      .groupBy(rbucket)
      .all();
    const byT = new Map<number, (typeof raw)[number]>();
    const maxN = (a: number | null, b: number | null) =>
      a === null ? b : b === null ? a : Math.max(a, b);
    const minN = (a: number | null, b: number | null) =>
      a === null ? b : b === null ? a : Math.min(a, b);
    for (const r of [...raw, ...rolled]) {
      const m = byT.get(r.t);
      byT.set(
        r.t,
        m
          ? {
              t: r.t,
              samples: m.samples + r.samples,
              fpsSum: m.fpsSum + r.fpsSum,
              fpsMin: minN(m.fpsMin, r.fpsMin),
              inferFpsSum: m.inferFpsSum + r.inferFpsSum,
              latencyP95Max: maxN(m.latencyP95Max, r.latencyP95Max),
              tempMaxC: maxN(m.tempMaxC, r.tempMaxC),
            }
          : r,
      );
    }
    const buckets = [...byT.values()]
      .sort((a, b) => a.t - b.t)
      .map((b) => ({
        t: b.t,
        samples: b.samples,
        fps: b.fpsSum / b.samples,
        fpsMin: b.fpsMin,
        inferFps: b.inferFpsSum / b.samples,
        latencyP95Max: b.latencyP95Max,
        tempMaxC: b.tempMaxC,
      }));
    return c.json({ deviceId: id, from, to, bucketMs, buckets });
  });
}
