import { DEVICE_STATES, deviceClassSchema, deviceIdSchema } from '@facefleet/protocol';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { deviceView } from '../../views.js';
import type { AppDeps, Registrar } from '../app.js';
import { jsonBody, parseDuration, query, requireRole } from '../http.js';

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
  const { store, devices } = deps;

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
    const { device, token } = await devices.enroll(body);
    return c.json(
      { device: deviceView(device), token, mqtt: { username: body.id, password: token } },
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
  app.get('/api/v1/devices', async (c) => {
    requireRole(c, 'viewer');
    const q = query(c, listQuery);
    let rows = await store.devices.list();
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
  app.get('/api/v1/devices/:id', async (c) => {
    requireRole(c, 'viewer');
    return c.json({ device: deviceView(await devices.find(c.req.param('id'))) });
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
    const { device, token } = await devices.rotateToken(id);
    return c.json({ device: deviceView(device), token, mqtt: { username: id, password: token } });
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
    await devices.find(id);
    const { tags } = await jsonBody(c, tagsBody);
    return c.json({ device: deviceView(await devices.setTags(id, tags)) });
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
    const { warning } = await devices.remove(id);
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
  app.get('/api/v1/devices/:id/history', async (c) => {
    requireRole(c, 'viewer');
    const id = c.req.param('id');
    await devices.find(id);
    const { limit } = query(c, historyQuery);
    const [updates, statuses, last] = await Promise.all([
      store.telemetry.updates(id, limit),
      store.telemetry.statuses(id, limit),
      store.telemetry.latestMetrics(id),
    ]);
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
  app.get('/api/v1/devices/:id/faces', async (c) => {
    requireRole(c, 'viewer');
    const id = c.req.param('id');
    await devices.find(id);
    const { from, to, bucketMs } = seriesRange(query(c, seriesQuery), Date.now());
    const buckets = await store.telemetry.faceBuckets(id, from, to, bucketMs);
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
  app.get('/api/v1/devices/:id/metrics', async (c) => {
    requireRole(c, 'viewer');
    const id = c.req.param('id');
    await devices.find(id);
    const { from, to, bucketMs } = seriesRange(query(c, seriesQuery), Date.now());
    const buckets = await store.telemetry.metricBuckets(id, from, to, bucketMs);
    return c.json({ deviceId: id, from, to, bucketMs, buckets });
  });
}
