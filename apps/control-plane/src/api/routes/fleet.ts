import { cameraCounts, facesNow, fpsRatio, referenceFps } from '@facefleet/protocol';
import type { CameraFpsSample, EngineBenchmarkRow, FpsSample } from '@facefleet/store';
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

function groupInto<T>(groups: Map<string, T[]>, key: string, item: T): void {
  const list = groups.get(key);
  if (list) list.push(item);
  else groups.set(key, [item]);
}

/** The median and 95th percentile of `values`, rounded (null for none). */
function medianAndP95(values: number[]) {
  return { p50: round(percentile(values, 50)), p95: round(percentile(values, 95)) };
}

/** One camera's FPS figures over the window. */
function cameraFps(camera: string, list: CameraFpsSample[]) {
  const last = list[list.length - 1]!;
  return {
    camera,
    samples: list.length,
    fps: medianAndP95(list.map((r) => r.fps)),
    cameraFps: {
      p50: round(
        percentile(
          list.map((r) => r.cameraFps),
          50,
        ),
      ),
    },
    dropped: list.reduce((n, r) => n + r.dropped, 0),
    skipped: list.reduce((n, r) => n + r.skipped, 0),
    /** Share of the samples in which the camera was not online. */
    offline: round(list.filter((r) => r.state !== 'online').length / list.length, 3),
    state: last.state,
  };
}

/** One device's FPS figures over the window, beside its class's model card and its benchmarks. */
function deviceFps(
  deviceId: string,
  deviceClass: string,
  list: FpsSample[],
  benches: EngineBenchmarkRow[],
  minRatio: number,
  cameras: CameraFpsSample[],
) {
  const byCamera = new Map<string, CameraFpsSample[]>();
  for (const r of cameras) groupInto(byCamera, r.camera, r);
  const reference = referenceFps(deviceClass);
  const inferValues = list.flatMap((r) => (r.inferFps === null ? [] : [r.inferFps]));
  const inferFps = medianAndP95(inferValues);
  const inferP50 = percentile(inferValues, 50);
  const ratio = fpsRatio(inferP50, reference);
  return {
    deviceId,
    samples: list.length,
    fps: medianAndP95(list.map((r) => r.fps)),
    inferFps,
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
    /** Per camera (none from agents older than cameras). */
    cameras: [...byCamera].map(([camera, samples]) => cameraFps(camera, samples)),
  };
}

/** The fleet at a glance: every device's last figures, and FPS against the model card; at `/api/v1`. */
export function fleetRoutes({ store }: Pick<AppDeps, 'store'>) {
  return new Hono<Env>()
    .get(
      '/fleet/overview',
      doc({
        summary:
          "Every device with its faces now (its cameras' last windows together) and each camera's last window, its camera counts, its last metrics sample and its class's model-card FPS; totals of devices, cameras and cameras down",
        tag: 'fleet',
        auth: 'viewer',
      }),
      async (c) => {
        const [rows, cameraFaces, lastMetrics] = await Promise.all([
          store.devices.list(),
          store.telemetry.lastCameraFacesAll(),
          store.telemetry.lastMetrics(),
        ]);
        const devices = rows.map((row) => {
          const view = deviceView(row);
          const faces = cameraFaces.get(row.id);
          return {
            ...view,
            cameraCounts: cameraCounts(view.cameras),
            /** "Faces now": the cameras' last windows together (`facesNow`). */
            lastFaces: faces ? facesNow(faces.values()) : null,
            /** Each camera's last window. */
            cameraFaces: Object.fromEntries(faces ?? []),
            lastMetrics: lastMetrics.get(row.id) ?? null,
            referenceFps: referenceFps(row.deviceClass),
          };
        });
        return c.json({
          devices,
          totals: {
            devices: devices.length,
            cameras: devices.reduce((n, d) => n + d.cameraCounts.total, 0),
            offlineCameras: devices.reduce((n, d) => n + d.cameraCounts.offline, 0),
            reconnectingCameras: devices.reduce((n, d) => n + d.cameraCounts.reconnecting, 0),
          },
        });
      },
    )
    .get(
      '/fleet/fps',
      doc({
        summary:
          "Per-device p50/p95 FPS and inference latency over a window, grouped by device class, beside the model card's INT8 reference, and each device's cameras' processed and source FPS",
        tag: 'fleet',
        auth: 'viewer',
      }),
      query(fpsQuery),
      async (c) => {
        const q = c.req.valid('query');
        const since = Date.now() - q.window * 1000;
        const [rows, devices, benches, cameraRows] = await Promise.all([
          store.telemetry.fpsSamples(since),
          store.devices.list(),
          store.engines.benchmarks(),
          store.telemetry.cameraFpsSamples(since),
        ]);
        const camerasOf = new Map<string, CameraFpsSample[]>();
        for (const r of cameraRows) groupInto(camerasOf, r.deviceId, r);
        const byDevice = new Map<string, typeof rows>();
        for (const r of rows) groupInto(byDevice, r.deviceId, r);
        const classOf = new Map(devices.map((d) => [d.id, d.deviceClass]));
        const classes = new Map<string, ReturnType<typeof deviceFps>[]>();
        for (const [deviceId, list] of byDevice) {
          const deviceClass = classOf.get(deviceId) ?? list[list.length - 1]!.deviceClass;
          const entry = deviceFps(
            deviceId,
            deviceClass,
            list,
            benches,
            q.minRatio,
            camerasOf.get(deviceId) ?? [],
          );
          groupInto(classes, deviceClass, entry);
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
