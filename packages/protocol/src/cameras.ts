import { z } from 'zod';
import { countSchema, nonNegativeSchema, timestampSchema } from './common.js';
import { ID_PATTERN, idRule } from './ids.js';

/**
 * Cameras: a dimension under a device. One runner serves every camera of a device; each face
 * window, FPS figure and state names its camera. The ACL stays per device (a camera is not an MQTT
 * principal), and topics stay per device: the camera is a field of the payload (docs/protocol.md,
 * "Cameras", says why).
 *
 * A camera id follows the device id rule (it can become an alert topic level). A device without a
 * camera list has one camera, `"0"`; messages that carry no camera are camera `"0"`, and agents leave
 * the field out for camera `"0"`, so a one-camera device publishes exactly what it did before cameras
 * existed.
 */
export const cameraIdSchema = z.string().regex(ID_PATTERN, `camera id ${idRule}`);
export const DEFAULT_CAMERA_ID = '0';
/** The most cameras one device (one runner) serves. */
export const MAX_CAMERAS = 64;

/**
 * A camera's state as the fleet sees it: `online` (frames arrive), `reconnecting` (a live source
 * being opened or reopened), `offline` (the source failed for good, ended, or the runner is not
 * running); `reason` says why for the last two.
 */
export const CAMERA_STATES = ['online', 'reconnecting', 'offline'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];

/** The camera of a message: its `camera` field, or `"0"` where it has none. */
export function cameraOf(m: { camera?: string | undefined }): string {
  return m.camera ?? DEFAULT_CAMERA_ID;
}

/** The `camera` field a message carries for `id`: none for camera `"0"` (see above). */
export function cameraField(id: string): { camera?: string } {
  return id === DEFAULT_CAMERA_ID ? {} : { camera: id };
}

const uniqueIds = (list: { id: string }[]) => new Set(list.map((c) => c.id)).size === list.length;

/** One camera in `status.cameras`. */
export const cameraStatusSchema = z.strictObject({
  id: cameraIdSchema,
  state: z.enum(CAMERA_STATES),
  /** Why it is reconnecting or offline; null while online. */
  reason: z.string().max(256).nullable(),
  /** Since when (device time, ms) it is in this state. */
  since: timestampSchema,
});
export type CameraStatus = z.infer<typeof cameraStatusSchema>;

export const cameraStatusListSchema = z
  .array(cameraStatusSchema)
  .min(1)
  .max(MAX_CAMERAS)
  .refine(uniqueIds, 'camera ids must be unique');

/** One camera in `metrics.runner.cameras`: its figures over the metrics interval. */
export const cameraMetricsSchema = z.strictObject({
  id: cameraIdSchema,
  state: z.enum(CAMERA_STATES),
  /** Frames processed per second (end to end, as the agent counted them). */
  fps: nonNegativeSchema,
  /** Frames the source delivered per second (processed, skipped and dropped ones). */
  cameraFps: nonNegativeSchema,
  frames: countSchema,
  /** Stale frames replaced by newer ones before inference. */
  dropped: countSchema,
  /** Frames left out on purpose (`--max-fps`). */
  skipped: countSchema,
  /** Successful reopenings of a live source. */
  reconnects: countSchema,
});
export type CameraMetrics = z.infer<typeof cameraMetricsSchema>;

export const cameraMetricsListSchema = z
  .array(cameraMetricsSchema)
  .max(MAX_CAMERAS)
  .refine(uniqueIds, 'camera ids must be unique');
