import {
  cameraCounts,
  cameraIdSchema,
  DEVICE_STATES,
  deviceClassSchema,
  deviceIdSchema,
} from '@facefleet/protocol';
import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { deviceView } from '../../views.js';
import type { AppDeps } from '../deps.js';
import { type Env, parseDuration } from '../http.js';
import { doc } from '../openapi.js';
import { jsonBody, query } from '../validate.js';

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
    .max(16)
    .refine((b) => {
      const ms = parseDuration(b);
      return ms !== undefined && ms >= 1000 && ms <= 366 * 86_400_000;
    }, 'must be a duration from 1s to 366d, like 60s, 5m, 1h')
    .default('60s'),
});

const facesQuery = seriesQuery.extend({
  /** One camera's windows; omitted: every camera of the device together. */
  camera: cameraIdSchema.optional(),
});

/** Resolves from/to/bucket, refusing more than 10,000 buckets. */
export function seriesRange(q: z.infer<typeof seriesQuery>, now: number) {
  const to = q.to ?? now;
  const from = q.from ?? to - 3_600_000;
  const bucketMs = parseDuration(q.bucket)!;
  if (from >= to) {
    throw new ApiError('invalid_request', 'from: must be before to', {
      details: [{ path: 'from', message: 'must be before to' }],
    });
  }
  if ((to - from) / bucketMs > 10_000) {
    throw new ApiError('invalid_request', 'bucket: more than 10000 buckets in the range', {
      details: [{ path: 'bucket', message: 'more than 10000 buckets in the range' }],
    });
  }
  return { from, to, bucketMs };
}

const tagsBody = z.strictObject({ tags: tagsSchema });
const historyQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});

/** A camera id in the path, checked like the body's (400 naming `camera`). */
function cameraParam(camera: string): string {
  const parsed = cameraIdSchema.safeParse(camera);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? 'invalid';
    throw new ApiError('invalid_request', `camera: ${message}`, {
      details: [{ path: 'camera', message }],
    });
  }
  return parsed.data;
}

/** Devices: enrollment, tokens, tags, and what each one sent; mounted at `/api/v1`. */
export function deviceRoutes({ store, devices }: Pick<AppDeps, 'store' | 'devices'>) {
  /** 404 for a device that is not enrolled, before the request's input is read. */
  const enrolled: MiddlewareHandler<Env> = async (c, next) => {
    await devices.find(c.req.param('id')!);
    await next();
  };

  /** A device's buckets over the query's range, as the faces and metrics routes answer them. */
  const series = async <B>(
    id: string,
    q: z.infer<typeof seriesQuery>,
    read: (id: string, from: number, to: number, bucketMs: number) => Promise<B[]>,
  ) => {
    const { from, to, bucketMs } = seriesRange(q, Date.now());
    return { deviceId: id, from, to, bucketMs, buckets: await read(id, from, to, bucketMs) };
  };

  return new Hono<Env>()
    .post(
      '/devices',
      doc({
        summary: 'Enroll a device; its token is returned once and stored only as a scrypt hash',
        tag: 'devices',
        auth: 'admin',
        ok: [201, 'The device and its token'],
      }),
      jsonBody(enrollSchema),
      async (c) => {
        const body = c.req.valid('json');
        const { device, token } = await devices.enroll(body);
        return c.json(
          { device: deviceView(device), token, mqtt: { username: body.id, password: token } },
          201,
        );
      },
    )
    .get(
      '/devices',
      doc({ summary: 'List devices', tag: 'devices', auth: 'viewer' }),
      query(listQuery),
      async (c) => {
        const q = c.req.valid('query');
        let rows = await store.devices.list();
        if (q.tag) rows = rows.filter((r) => (JSON.parse(r.tags) as string[]).includes(q.tag!));
        if (q.class) rows = rows.filter((r) => r.deviceClass === q.class);
        if (q.status) rows = rows.filter((r) => (r.state ?? 'never') === q.status);
        return c.json({ devices: rows.map(deviceView) });
      },
    )
    .get(
      '/devices/:id',
      doc({
        summary:
          'Show a device, with what its seq counter says of lost messages (seqs never stored that are not unfired MQTT wills)',
        tag: 'devices',
        auth: 'viewer',
      }),
      async (c) => {
        const id = c.req.param('id');
        const device = deviceView(await devices.find(id));
        const seq = (await store.devices.seqGaps(id)) ?? null;
        return c.json({ device: { ...device, seq } });
      },
    )
    .post(
      '/devices/:id/token',
      doc({
        summary:
          "Rotate a device's token: the new one is returned once, the old one stops working and its open MQTT sessions are closed",
        tag: 'devices',
        auth: 'admin',
        ok: [200, 'The device and its new token'],
      }),
      async (c) => {
        const id = c.req.param('id');
        const { device, token } = await devices.rotateToken(id);
        return c.json({
          device: deviceView(device),
          token,
          mqtt: { username: id, password: token },
        });
      },
    )
    .put(
      '/devices/:id/tags',
      doc({ summary: "Replace a device's tags", tag: 'devices', auth: 'admin' }),
      enrolled,
      jsonBody(tagsBody),
      async (c) => {
        const { tags } = c.req.valid('json');
        return c.json({ device: deviceView(await devices.setTags(c.req.param('id'), tags)) });
      },
    )
    .delete(
      '/devices/:id',
      doc({
        summary:
          'Delete a device (its token stops working at once and its open MQTT sessions are closed)',
        tag: 'devices',
        auth: 'admin',
      }),
      async (c) => {
        const id = c.req.param('id');
        const { warning } = await devices.remove(id);
        return c.json(warning ? { deleted: id, warning } : { deleted: id });
      },
    )
    .get(
      '/devices/:id/history',
      doc({
        summary:
          "A device's engine update reports and status changes (newest first) and its latest metrics sample",
        tag: 'devices',
        auth: 'viewer',
      }),
      enrolled,
      query(historyQuery),
      async (c) => {
        const id = c.req.param('id');
        const { limit } = c.req.valid('query');
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
      },
    )
    .get(
      '/devices/:id/faces',
      doc({
        summary:
          'Face counts in buckets (windows, frames, max and mean faces per bucket): of one camera with `camera`, else of all the cameras together',
        tag: 'devices',
        auth: 'viewer',
      }),
      enrolled,
      query(facesQuery),
      async (c) => {
        const { camera, ...q } = c.req.valid('query');
        const answer = await series(c.req.param('id'), q, (id, from, to, bucketMs) =>
          store.telemetry.faceBuckets(id, from, to, bucketMs, camera),
        );
        return c.json({ ...answer, camera: camera ?? null });
      },
    )
    .get(
      '/devices/:id/cameras',
      doc({
        summary:
          "A device's cameras: each one's state (online, reconnecting, offline), why and since when, its last face window and its last FPS figures",
        tag: 'devices',
        auth: 'viewer',
      }),
      async (c) => {
        const id = c.req.param('id');
        const device = deviceView(await devices.find(id));
        const [faces, metrics] = await Promise.all([
          store.telemetry.lastCameraFaces(id),
          store.telemetry.lastCameraMetrics(id),
        ]);
        // the status's cameras in its order, then any other camera that sent something
        const ids = [
          ...new Set([...device.cameras.map((x) => x.id), ...faces.keys(), ...metrics.keys()]),
        ];
        const known = new Map(device.cameras.map((x) => [x.id, x]));
        const cameras = ids.map((camera) => {
          const s = known.get(camera);
          return {
            id: camera,
            state: s?.state ?? null,
            reason: s?.reason ?? null,
            since: s?.since ?? null,
            lastFaces: faces.get(camera) ?? null,
            lastMetrics: metrics.get(camera) ?? null,
          };
        });
        return c.json({ deviceId: id, counts: cameraCounts(device.cameras), cameras });
      },
    )
    .get(
      '/devices/:id/cameras/:camera/metrics',
      doc({
        summary:
          "One camera's figures in buckets: processed and source FPS, frames, dropped, skipped, reconnects, and the share of samples it was not online",
        tag: 'devices',
        auth: 'viewer',
      }),
      enrolled,
      query(seriesQuery),
      async (c) => {
        const camera = cameraParam(c.req.param('camera'));
        const answer = await series(c.req.param('id'), c.req.valid('query'), (id, f, t, b) =>
          store.telemetry.cameraBuckets(id, camera, f, t, b),
        );
        return c.json({ ...answer, camera });
      },
    )
    .get(
      '/devices/:id/metrics',
      doc({
        summary: 'Runner and device metrics in buckets (mean FPS, worst latency, hottest sensor)',
        tag: 'devices',
        auth: 'viewer',
      }),
      enrolled,
      query(seriesQuery),
      async (c) =>
        c.json(
          await series(c.req.param('id'), c.req.valid('query'), store.telemetry.metricBuckets),
        ),
    );
}
