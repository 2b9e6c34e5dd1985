import { ALERT_KINDS, idRule, isValidId, SEVERITIES } from '@facefleet/protocol';
import type { AlertRuleRow } from '@facefleet/store';
import { z } from 'zod';
import type { AppDeps, Registrar } from '../app.js';
import { jsonBody, query, requireRole } from '../http.js';
import { selectorSchema } from './rollouts.js';

export const alertRuleSchema = z
  .strictObject({
    id: z.string().refine(isValidId, `rule id ${idRule}`),
    kind: z.enum(ALERT_KINDS),
    /** faces_above: faces; device_offline: seconds; fps_below: ratio of the model card; temp_above: °C. */
    threshold: z.number().min(0).default(0),
    /** Seconds the condition must hold before the alert fires. */
    forS: z.number().min(0).max(86_400).default(0),
    severity: z.enum(SEVERITIES).default('warning'),
    /** Which devices the rule watches; omitted = all. */
    selector: selectorSchema.optional(),
    webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
    enabled: z.boolean().default(true),
  })
  .superRefine((r, ctx) => {
    if (
      (r.kind === 'faces_above' ||
        r.kind === 'device_offline' ||
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
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function alertRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  const { store } = deps;
  const view = (r: AlertRuleRow) => ({
    ...r,
    selector: JSON.parse(r.selector) as unknown,
  });

  doc({
    method: 'post',
    path: '/api/v1/alert-rules',
    summary: 'Create an alert rule',
    tag: 'alerts',
    auth: 'operator',
    body: alertRuleSchema,
    ok: [201, 'The rule'],
  });
  app.post('/api/v1/alert-rules', async (c) => {
    requireRole(c, 'operator');
    const body = await jsonBody(c, alertRuleSchema);
    const row = await deps.alertRules.create(body);
    return c.json({ rule: view(row) }, 201);
  });

  doc({
    method: 'get',
    path: '/api/v1/alert-rules',
    summary: 'List alert rules',
    tag: 'alerts',
    auth: 'viewer',
  });
  app.get('/api/v1/alert-rules', async (c) => {
    requireRole(c, 'viewer');
    return c.json({ rules: (await store.alerts.rules()).map(view) });
  });

  doc({
    method: 'delete',
    path: '/api/v1/alert-rules/:id',
    summary: 'Delete an alert rule',
    tag: 'alerts',
    auth: 'operator',
  });
  app.delete('/api/v1/alert-rules/:id', async (c) => {
    requireRole(c, 'operator');
    const id = c.req.param('id');
    await deps.alertRules.remove(id);
    return c.json({ deleted: id });
  });

  doc({
    method: 'get',
    path: '/api/v1/alerts',
    summary: 'Alerts, newest first',
    tag: 'alerts',
    auth: 'viewer',
    query: alertsQuery,
  });
  app.get('/api/v1/alerts', async (c) => {
    requireRole(c, 'viewer');
    return c.json({ alerts: await store.alerts.find(query(c, alertsQuery)) });
  });
}
