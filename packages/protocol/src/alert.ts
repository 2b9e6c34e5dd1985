import { z } from 'zod';
import { cameraIdSchema } from './cameras.js';
import { timestampSchema } from './common.js';
import { deviceIdSchema, ruleIdSchema } from './ids.js';

/** The kinds of alert rule the control plane evaluates. */
export const ALERT_KINDS = [
  /** The face count in a camera's window rose above a threshold (per camera). */
  'faces_above',
  /** Every face window of a camera for longer than a threshold counted no face (per camera). */
  'no_faces',
  /** Runner FPS stayed below a share of the device class's model-card figure (or an absolute floor). */
  'fps_below',
  /** No message from the device for longer than a threshold. */
  'device_offline',
  /** A device temperature sensor read above a threshold. */
  'temp_above',
  /** An engine update was rolled back on the device. */
  'engine_rolled_back',
  /** A camera was reconnecting or offline for longer than a threshold (per camera). */
  'camera_offline',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
/** The kinds evaluated per camera of a device; the others per device. */
export const CAMERA_ALERT_KINDS: readonly AlertKind[] = [
  'faces_above',
  'no_faces',
  'camera_offline',
];
export const SEVERITIES = ['info', 'warning', 'critical'] as const;

/**
 * `alerts/{ruleId}/{deviceId}`, or `alerts/{ruleId}/{deviceId}/{camera}` for an alert of a camera
 * other than `"0"`, control plane → subscribers: an alert firing or resolved.
 */
export const alertSchema = z.strictObject({
  v: z.literal(1),
  alertId: z.string().min(1).max(128),
  ruleId: ruleIdSchema,
  deviceId: deviceIdSchema,
  /** The camera of a per-camera alert; absent = camera "0" or a device-wide alert. */
  camera: cameraIdSchema.optional(),
  kind: z.enum(ALERT_KINDS),
  state: z.enum(['firing', 'resolved']),
  severity: z.enum(SEVERITIES),
  message: z.string().min(1).max(1024),
  value: z.number().nullable(),
  threshold: z.number().nullable(),
  ts: timestampSchema,
});
export type Alert = z.infer<typeof alertSchema>;
