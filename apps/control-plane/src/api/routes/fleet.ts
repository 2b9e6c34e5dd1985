import { fpsRatio, referenceFps } from '@facefleet/protocol';
import type { EngineBenchmarkRow, FpsSample } from '@facefleet/store';
import { Hono } from 'hono';
import { z } from 'zod';
import { deviceView } from '../../views.js';
import type { AppDeps } from '../deps.js';
import { type Env, percentile } from '../http.js';
import { doc } from '../openapi.js';
import { query } from '../validate.js';

const fpsQuery = z.strictObject({
  /** Seconds back from now. */
  window: z.coerce
    .number()
    .int()
    .min(10)
    .max(30 * 86_400)
    .default(600),
  /** Devices whose p50 inference FPS is below this share of the model card are flagged. */
  minRatio: z.coerce.number().min(0).max(10).default(0.5),
});

const round = (n: number | null, digits = 2) =>
  n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;

/** One device's FPS figures over the window, beside its class's model card and its benchmarks. */
function deviceFps(
  deviceId: string,
  deviceClass: string,
  list: FpsSample[],
  benches: EngineBenchmarkRow[],
  minRatio: number,
) {
  const reference = referenceFps(deviceClass);
  const inferP50 = percentile(
    list.flatMap((r) => (r.inferFps === null ? [] : [r.inferFps])),
    50,
  );
  const ratio = fpsRatio(inferP50, reference);
  return {
    deviceId,
    samples: list.length,
    fps: {
      p50: round(
        percentile(
          list.map((r) => r.fps),
          50,
        ),
      ),
      p95: round(
        percentile(
          list.map((r) => r.fps),
          95,
        ),
      ),
    },
    inferFps: {
      p50: round(inferP50),
      p95: round(
        percentile(
          list.flatMap((r) => (r.inferFps === null ? [] : [r.inferFps])),
          95,
        ),
      ),
    },
    latencyMs: {
      p50: round(
        percentile(
          list.flatMap((r) => (r.p50 === null ? [] : [r.p50])),
          50,
        ),
        3,
      ),
      p95: round(
        percentile(
          list.flatMap((r) => (r.p95 === null ? [] : [r.p95])),
          95,
        ),
        3,
      ),
    },
    powerMode: list[list.length - 1]!.powerMode,
    referenceFps: reference,
    ratio: round(ratio, 3),
    belowReference: ratio !== null && ratio < minRatio,
    engineBenchmarks: benches
      .filter((b) => b.deviceId === deviceId)
      .map((b) => ({
        engineId: b.engineId,
        inferFps: b.inferFps,
        latencyMs: { p50: b.latencyP50, p95: b.latencyP95, p99: b.latencyP99 },
        trtVersion: b.trtVersion,
        ts: b.ts,
      })),
  };
}

/** The fleet at a glance: every device's last figures, and FPS against the model card; at `/api/v1`. */
export function fleetRoutes({ store }: Pick<AppDeps, 'store'>) {
  return new Hono<Env>()
    .get(
      '/fleet/overview',
      doc({
        summary:
          "Every device with its last face window, its last metrics sample and its class's model-card FPS",
        tag: 'fleet',
        auth: 'viewer',
      }),
      async (c) => {
        const [rows, lastFaces, lastMetrics] = await Promise.all([
          store.devices.list(),
          store.telemetry.lastFaces(),
          store.telemetry.lastMetrics(),
        ]);
        return c.json({
          devices: rows.map((row) => ({
            ...deviceView(row),
            lastFaces: lastFaces.get(row.id) ?? null,
            lastMetrics: lastMetrics.get(row.id) ?? null,
            referenceFps: referenceFps(row.deviceClass),
          })),
        });
      },
    )
    .get(
      '/fleet/fps',
      doc({
        summary:
          "Per-device p50/p95 FPS and inference latency over a window, grouped by device class, beside the model card's INT8 reference",
        tag: 'fleet',
        auth: 'viewer',
      }),
      query(fpsQuery),
      async (c) => {
        const q = c.req.valid('query');
        const since = Date.now() - q.window * 1000;
        const [rows, devices, benches] = await Promise.all([
          store.telemetry.fpsSamples(since),
          store.devices.list(),
          store.engines.benchmarks(),
        ]);
        const byDevice = new Map<string, typeof rows>();
        for (const r of rows) {
          const list = byDevice.get(r.deviceId) ?? [];
          list.push(r);
          byDevice.set(r.deviceId, list);
        }
        const classOf = new Map(devices.map((d) => [d.id, d.deviceClass]));
        const classes = new Map<string, ReturnType<typeof deviceFps>[]>();
        for (const [deviceId, list] of byDevice) {
          const deviceClass = classOf.get(deviceId) ?? list[list.length - 1]!.deviceClass;
          const entry = deviceFps(deviceId, deviceClass, list, benches, q.minRatio);
          const list2 = classes.get(deviceClass) ?? [];
          list2.push(entry);
          classes.set(deviceClass, list2);
        }
        return c.json({
          window: q.window,
          minRatio: q.minRatio,
          reference: 'NVIDIA FaceNet model card: pruned INT8, batch 1, trtexec inference-only FPS',
          classes: [...classes].map(([deviceClass, devicesOfClass]) => ({
            deviceClass,
            referenceFps: referenceFps(deviceClass),
            devices: devicesOfClass,
          })),
        });
      },
    );
}
