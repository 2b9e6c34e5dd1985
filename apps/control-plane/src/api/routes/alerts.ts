import {
  ALERT_KINDS,
  CAMERA_ALERT_KINDS,
  cameraIdSchema,
  idRule,
  isValidId,
  MAX_CAMERAS,
  SEVERITIES,
} from '@facefleet/protocol';
import type { AlertRuleRow } from '@facefleet/store';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AlertSelector } from '../../alerts/executor.js';
import { type Role, roleAllows } from '../../auth/api-tokens.js';
import type { AppDeps } from '../deps.js';
import type { Env } from '../http.js';
import { doc } from '../openapi.js';
import { jsonBody, query } from '../validate.js';
import { deviceSelectorObject } from './rollouts.js';

/** Which devices a rule watches (as a rollout names them) and, for per-camera kinds, which cameras. */
export const alertSelectorSchema = deviceSelectorObject
  .extend({
    /** Camera ids; the rule watches these cameras of every device it selects (omitted: all). */
    cameras: z.array(cameraIdSchema).min(1).max(MAX_CAMERAS).optional(),
  })
  .refine(
    (s) => s.deviceIds || s.tag || s.deviceClass || s.cameras,
    'name devices by deviceIds, tag or deviceClass, or cameras by cameras',
  );

export const alertRuleSchema = z
  .strictObject({
    id: z.string().refine(isValidId, `rule id ${idRule}`),
    kind: z.enum(ALERT_KINDS),
    /**
     * faces_above: faces; device_offline and camera_offline: seconds; fps_below: ratio of the model
     * card; temp_above: °C.
     */
    threshold: z.number().min(0).default(0),
    /** Seconds the condition must hold before the alert fires. */
    forS: z.number().min(0).max(86_400).default(0),
    severity: z.enum(SEVERITIES).default('warning'),
    /** Which devices (and cameras) the rule watches; omitted = all. */
    selector: alertSelectorSchema.optional(),
    webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
    enabled: z.boolean().default(true),
  })
  .superRefine((r, ctx) => {
    if (
      (r.kind === 'faces_above' ||
        r.kind === 'device_offline' ||
        r.kind === 'camera_offline' ||
        r.kind === 'temp_above' ||
        r.kind === 'fps_below') &&
      r.threshold <= 0
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: `must be above 0 for ${r.kind}`,
      });
    }
    if (r.selector?.cameras && !CAMERA_ALERT_KINDS.includes(r.kind)) {
      ctx.addIssue({
        code: 'custom',
        path: ['selector', 'cameras'],
        message: `${r.kind} is evaluated per device; cameras apply to ${CAMERA_ALERT_KINDS.join(', ')}`,
      });
    }
    if (r.kind === 'fps_below' && r.threshold > 10) {
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: 'is a ratio of the model-card FPS (0.5 = half)',
      });
    }
  });

const alertsQuery = z.strictObject({
  state: z.enum(['firing', 'resolved']).optional(),
  ruleId: z.string().optional(),
  deviceId: z.string().optional(),
  camera: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * A rule as the API shows it. Its webhook URL often holds a secret (a token in the path or query):
 * operators see it whole, viewers only where it points (scheme and host).
 */
const ruleView = (r: AlertRuleRow, role: Role = 'operator') => ({
  ...r,
  selector: JSON.parse(r.selector) as AlertSelector,
  webhookUrl:
    r.webhookUrl === null || roleAllows(role, 'operator') ? r.webhookUrl : redact(r.webhookUrl),
});

function redact(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '…';
  }
}

/** Alert rules and the alerts they raised; mounted at `/api/v1`. */
export function alertRoutes({ store, alertRules }: Pick<AppDeps, 'store' | 'alertRules'>) {
  return new Hono<Env>()
    .post(
      '/alert-rules',
      doc({
        summary: 'Create an alert rule',
        tag: 'alerts',
        auth: 'operator',
        ok: [201, 'The rule'],
      }),
      jsonBody(alertRuleSchema),
      async (c) => {
        const row = await alertRules.create(c.req.valid('json'));
        return c.json({ rule: ruleView(row) }, 201);
      },
    )
    .get(
      '/alert-rules',
      doc({ summary: 'List alert rules', tag: 'alerts', auth: 'viewer' }),
      async (c) => {
        const p = c.get('principal');
        const role = p?.kind === 'operator' ? p.role : 'viewer';
        return c.json({ rules: (await store.alerts.rules()).map((r) => ruleView(r, role)) });
      },
    )
    .delete(
      '/alert-rules/:id',
      doc({ summary: 'Delete an alert rule', tag: 'alerts', auth: 'operator' }),
      async (c) => {
        const id = c.req.param('id');
        await alertRules.remove(id);
        return c.json({ deleted: id });
      },
    )
    .get(
      '/alerts',
      doc({ summary: 'Alerts, newest first', tag: 'alerts', auth: 'viewer' }),
      query(alertsQuery),
      async (c) => c.json({ alerts: await store.alerts.find(c.req.valid('query')) }),
    );
}
