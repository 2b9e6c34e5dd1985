import { ALERT_KINDS, idRule, isValidId, SEVERITIES } from '@facefleet/protocol';
import { and, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { alertRules, alerts } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
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
  const { db } = deps.database;
  const view = (r: typeof alertRules.$inferSelect) => ({
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
    if (db.select({ id: alertRules.id }).from(alertRules).where(eq(alertRules.id, body.id)).get()) {
      throw new ApiError(409, 'conflict', `rule ${body.id} exists`, [
        { path: 'id', message: 'already exists' },
      ]);
    }
    const row = db
      .insert(alertRules)
      .values({
        id: body.id,
        kind: body.kind,
        threshold: body.threshold,
        forS: body.forS,
        severity: body.severity,
        selector: JSON.stringify(body.selector ?? {}),
        webhookUrl: body.webhookUrl ?? null,
        enabled: body.enabled,
        createdAt: Date.now(),
      })
      .returning()
      .get();
    deps.alerts.rulesChanged();
    return c.json({ rule: view(row) }, 201);
  });

  doc({
    method: 'get',
    path: '/api/v1/alert-rules',
    summary: 'List alert rules',
    tag: 'alerts',
    auth: 'viewer',
  });
  app.get('/api/v1/alert-rules', (c) => {
    requireRole(c, 'viewer');
    return c.json({ rules: db.select().from(alertRules).all().map(view) });
  });

  doc({
    method: 'delete',
    path: '/api/v1/alert-rules/:id',
    summary: 'Delete an alert rule',
    tag: 'alerts',
    auth: 'operator',
  });
  app.delete('/api/v1/alert-rules/:id', (c) => {
    requireRole(c, 'operator');
    const id = c.req.param('id');
    if (db.delete(alertRules).where(eq(alertRules.id, id)).run().changes === 0) {
      throw new ApiError(404, 'not_found', `no rule ${id}`);
    }
    deps.alerts.rulesChanged();
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
  app.get('/api/v1/alerts', (c) => {
    requireRole(c, 'viewer');
    const q = query(c, alertsQuery);
    const where = and(
      q.state ? eq(alerts.state, q.state) : undefined,
      q.ruleId ? eq(alerts.ruleId, q.ruleId) : undefined,
      q.deviceId ? eq(alerts.deviceId, q.deviceId) : undefined,
    );
    return c.json({
      alerts: db
        .select()
        .from(alerts)
        .where(where)
        .orderBy(desc(alerts.firedAt))
        .limit(q.limit)
        .all(),
    });
  });
}
