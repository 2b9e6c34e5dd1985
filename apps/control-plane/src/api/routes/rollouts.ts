import { randomBytes } from 'node:crypto';
import { deviceClassSchema, deviceIdSchema, idRule, isValidId } from '@facefleet/protocol';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { rolloutView } from '../../views.js';
import type { AppDeps, Registrar } from '../app.js';
import { jsonBody, requireRole } from '../http.js';

export const selectorSchema = z
  .strictObject({
    deviceIds: z.array(deviceIdSchema).min(1).max(100_000).optional(),
    tag: z.string().min(1).max(64).optional(),
    deviceClass: deviceClassSchema.optional(),
  })
  .refine(
    (s) => s.deviceIds || s.tag || s.deviceClass,
    'name devices by deviceIds, tag or deviceClass',
  );

export const createRolloutSchema = z.strictObject({
  id: z.string().refine(isValidId, `rollout id ${idRule}`).optional(),
  engineId: z.string().min(1).max(128),
  selector: selectorSchema,
  /** Share of the targets that get the engine first (0..1); 0 = no canary stage. */
  canaryShare: z.number().min(0).max(1).default(0.1),
  /** Seconds every canary must stay applied before the rest follow. */
  holdS: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .default(300),
  /** Halt and revert when more than this many devices fail. */
  failureLimit: z.int().min(0).default(0),
  /** Health gate on the device: new FPS must stay at least this share of the previous engine's. */
  minFpsRatio: z.number().min(0).max(10).default(0.9),
  /** Health gate on the device: seconds the new engine must run healthy. */
  gateHoldS: z.number().min(0).max(3600).default(30),
});

export function rolloutRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  const { store } = deps;

  doc({
    method: 'post',
    path: '/api/v1/rollouts',
    summary: 'Roll an engine out to devices by id, tag or class: canary first, then the rest',
    tag: 'rollouts',
    auth: 'operator',
    body: createRolloutSchema,
    ok: [201, 'The rollout with its targets'],
  });
  app.post('/api/v1/rollouts', async (c) => {
    requireRole(c, 'operator');
    const body = await jsonBody(c, createRolloutSchema);
    const { row, targets } = await deps.rollouts.create({
      ...body,
      id: body.id ?? `ro-${randomBytes(6).toString('hex')}`,
    });
    return c.json({ rollout: rolloutView(row, targets) }, 201);
  });

  doc({
    method: 'get',
    path: '/api/v1/rollouts',
    summary: 'List rollouts',
    tag: 'rollouts',
    auth: 'viewer',
  });
  app.get('/api/v1/rollouts', async (c) => {
    requireRole(c, 'viewer');
    return c.json({ rollouts: (await store.rollouts.list()).map((r) => rolloutView(r)) });
  });

  doc({
    method: 'get',
    path: '/api/v1/rollouts/:id',
    summary: 'Show a rollout and its targets',
    tag: 'rollouts',
    auth: 'viewer',
  });
  app.get('/api/v1/rollouts/:id', async (c) => {
    requireRole(c, 'viewer');
    const loaded = await store.rollouts.load(c.req.param('id'));
    if (!loaded) throw new ApiError(404, 'not_found', `no rollout ${c.req.param('id')}`);
    return c.json({ rollout: rolloutView(loaded.row, loaded.targets) });
  });

  for (const action of ['pause', 'resume', 'abort'] as const) {
    doc({
      method: 'post',
      path: `/api/v1/rollouts/:id/${action}`,
      summary: `${action[0]!.toUpperCase()}${action.slice(1)} a rollout${action === 'abort' ? ' (targets are reverted)' : ''}`,
      tag: 'rollouts',
      auth: 'operator',
    });
    app.post(`/api/v1/rollouts/:id/${action}`, async (c) => {
      requireRole(c, 'operator');
      const { row, targets } = await deps.rollouts.command(c.req.param('id'), action);
      return c.json({ rollout: rolloutView(row, targets) });
    });
  }
}
