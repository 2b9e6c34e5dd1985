import { z } from 'zod';
import { timestampSchema } from './common.js';
import { deviceIdSchema, ruleIdSchema } from './ids.js';

/** The kinds of alert rule the control plane evaluates. */
export const ALERT_KINDS = [
  /** The face count in a window rose above a threshold. */
  'faces_above',
  /** Every face window for longer than a threshold counted no face. */
  'no_faces',
  /** Runner FPS stayed below a share of the device class's model-card figure (or an absolute floor). */
  'fps_below',
  /** No message from the device for longer than a threshold. */
  'device_offline',
  /** A device temperature sensor read above a threshold. */
  'temp_above',
  /** An engine update was rolled back on the device. */
  'engine_rolled_back',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const SEVERITIES = ['info', 'warning', 'critical'] as const;

/** `alerts/{ruleId}/{deviceId}`, control plane → subscribers: an alert firing or resolved. */
export const alertSchema = z.strictObject({
  v: z.literal(1),
  alertId: z.string().min(1).max(128),
  ruleId: ruleIdSchema,
  deviceId: deviceIdSchema,
  kind: z.enum(ALERT_KINDS),
  state: z.enum(['firing', 'resolved']),
  severity: z.enum(SEVERITIES),
  message: z.string().min(1).max(1024),
  value: z.number().nullable(),
  threshold: z.number().nullable(),
  ts: timestampSchema,
});
export type Alert = z.infer<typeof alertSchema>;
