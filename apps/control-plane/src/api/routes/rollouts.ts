import { randomBytes } from 'node:crypto';
import { deviceClassSchema, deviceIdSchema, idRule, isValidId } from '@facefleet/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { rolloutView } from '../../views.js';
import type { AppDeps } from '../deps.js';
import type { Env } from '../http.js';
import { doc } from '../openapi.js';
import { jsonBody } from '../validate.js';

/** Devices by ids, tag and/or class (what a selector names, before the check that it names some). */
export const deviceSelectorObject = z.strictObject({
  deviceIds: z.array(deviceIdSchema).min(1).max(100_000).optional(),
  tag: z.string().min(1).max(64).optional(),
  deviceClass: deviceClassSchema.optional(),
});

export const selectorSchema = deviceSelectorObject.refine(
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
  /**
   * Accuracy gate on devices with a golden set: AP points (0–100) the new engine may lose against
   * the current one before the update fails with `accuracy_regression`.
   */
  apTolerance: z.number().min(0).max(100).default(1),
  /**
   * The engine is older (a lower version) than what some devices run, and that is wanted: they
   * get a rollback signed by the fleet key. Without it such a rollout is refused.
   */
  rollback: z.boolean().default(false),
});

/** Rollouts: start one, follow it, pause, resume or abort it; mounted at `/api/v1`. */
export function rolloutRoutes({ store, rollouts }: Pick<AppDeps, 'store' | 'rollouts'>) {
  const command = async (id: string, action: 'pause' | 'resume' | 'abort') => {
    const { row, targets } = await rollouts.command(id, action);
    return { rollout: rolloutView(row, targets) };
  };
  return new Hono<Env>()
    .post(
      '/rollouts',
      doc({
        summary: 'Roll an engine out to devices by id, tag or class: canary first, then the rest',
        tag: 'rollouts',
        auth: 'operator',
        ok: [201, 'The rollout with its targets'],
      }),
      jsonBody(createRolloutSchema),
      async (c) => {
        const body = c.req.valid('json');
        const { row, targets } = await rollouts.create({
          ...body,
          id: body.id ?? `ro-${randomBytes(6).toString('hex')}`,
        });
        return c.json({ rollout: rolloutView(row, targets) }, 201);
      },
    )
    .get(
      '/rollouts',
      doc({ summary: 'List rollouts', tag: 'rollouts', auth: 'viewer' }),
      async (c) => c.json({ rollouts: (await store.rollouts.list()).map((r) => rolloutView(r)) }),
    )
    .get(
      '/rollouts/:id',
      doc({ summary: 'Show a rollout and its targets', tag: 'rollouts', auth: 'viewer' }),
      async (c) => {
        const loaded = await store.rollouts.load(c.req.param('id'));
        if (!loaded) throw new ApiError('not_found', `no rollout ${c.req.param('id')}`);
        return c.json({ rollout: rolloutView(loaded.row, loaded.targets) });
      },
    )
    .post(
      '/rollouts/:id/pause',
      doc({ summary: 'Pause a rollout', tag: 'rollouts', auth: 'operator' }),
      async (c) => c.json(await command(c.req.param('id'), 'pause')),
    )
    .post(
      '/rollouts/:id/resume',
      doc({ summary: 'Resume a rollout', tag: 'rollouts', auth: 'operator' }),
      async (c) => c.json(await command(c.req.param('id'), 'resume')),
    )
    .post(
      '/rollouts/:id/abort',
      doc({ summary: 'Abort a rollout (targets are reverted)', tag: 'rollouts', auth: 'operator' }),
      async (c) => c.json(await command(c.req.param('id'), 'abort')),
    );
}
