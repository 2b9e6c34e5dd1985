import type { Reported } from '@facefleet/protocol';
import { and, eq, inArray, notInArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/open.js';
import { devices, engines, rollouts, rolloutTargets } from '../db/schema.js';
import { rolloutView } from '../db/views.js';
import { engineManifest } from '../engines/manifest.js';
import type { EventBus } from '../live/bus.js';
import type { SetDesired } from './desired.js';
import {
  assignStages,
  command,
  initialState,
  planRollout,
  type RolloutState,
  type RolloutStep,
  type RolloutView,
  type TargetState,
  type TargetView,
  targetAfterReport,
} from './planner.js';

export interface Selector {
  deviceIds?: string[] | undefined;
  tag?: string | undefined;
  deviceClass?: string | undefined;
}

export interface CreateRolloutInput {
  id: string;
  engineId: string;
  selector: Selector;
  canaryShare: number;
  holdS: number;
  failureLimit: number;
  minFpsRatio: number;
  gateHoldS: number;
}

export class RolloutInputError extends Error {
  override name = 'RolloutInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type RolloutRow = typeof rollouts.$inferSelect;
type TargetRow = typeof rolloutTargets.$inferSelect;

const FINAL_STATES: RolloutState[] = ['completed', 'halted', 'aborted'];

function view(row: RolloutRow): RolloutView {
  return {
    id: row.id,
    engineId: row.engineId,
    state: row.state as RolloutState,
    pausedFrom: row.pausedFrom as RolloutState | null,
    canaryDoneAt: row.canaryDoneAt,
    holdS: row.holdS,
    failureLimit: row.failureLimit,
  };
}

function targetView(row: TargetRow): TargetView {
  return {
    deviceId: row.deviceId,
    stage: row.stage as 'canary' | 'rest',
    state: row.state as TargetState,
    rev: row.rev,
  };
}

export interface RolloutExecutorOptions {
  db: Db;
  setDesired: SetDesired;
  log: Logger;
  now?: () => number;
  /** Where rollout progress is announced (the dashboard's live feed). */
  events?: EventBus;
}

/**
 * Performs what the planner decides: stores rollouts and targets, publishes desired state, follows
 * `reported`. Every operation runs through one queue, so two reports arriving together cannot both
 * act on the same stale view.
 */
export function createRolloutExecutor(options: RolloutExecutorOptions) {
  const { db, setDesired, log } = options;
  const now = options.now ?? Date.now;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const load = (id: string) => {
    const row = db.select().from(rollouts).where(eq(rollouts.id, id)).get();
    if (!row) return undefined;
    const targets = db.select().from(rolloutTargets).where(eq(rolloutTargets.rolloutId, id)).all();
    return { row, targets };
  };

  const setTarget = (rolloutId: string, deviceId: string, set: Partial<TargetRow>) =>
    db
      .update(rolloutTargets)
      .set({ ...set, updatedAt: now() })
      .where(and(eq(rolloutTargets.rolloutId, rolloutId), eq(rolloutTargets.deviceId, deviceId)))
      .run();

  async function perform(row: RolloutRow, targets: TargetRow[], step: RolloutStep): Promise<void> {
    const healthGate = { holdS: row.gateHoldS, minFpsRatio: row.minFpsRatio };
    switch (step.kind) {
      case 'set-desired': {
        const engine = db.select().from(engines).where(eq(engines.id, row.engineId)).get();
        if (!engine) throw new Error(`engine ${row.engineId} is gone`);
        const rev = await setDesired(step.deviceId, engineManifest(engine), row.id, healthGate);
        setTarget(row.id, step.deviceId, { state: 'desired', rev });
        return;
      }
      case 'revert': {
        const target = targets.find((t) => t.deviceId === step.deviceId);
        const previous = target?.previousEngineId
          ? db.select().from(engines).where(eq(engines.id, target.previousEngineId)).get()
          : undefined;
        // Without a registered previous engine the desired engine becomes null: "keep what you run".
        await setDesired(
          step.deviceId,
          previous ? engineManifest(previous) : null,
          null,
          healthGate,
        );
        setTarget(row.id, step.deviceId, { state: 'reverted' });
        return;
      }
      case 'set-state':
        db.update(rollouts)
          .set({ state: step.state, reason: step.reason, updatedAt: now() })
          .where(eq(rollouts.id, row.id))
          .run();
        log.info({ rolloutId: row.id, state: step.state, reason: step.reason }, 'rollout state');
        return;
      case 'canary-done':
        db.update(rollouts)
          .set({ canaryDoneAt: step.at, updatedAt: now() })
          .where(eq(rollouts.id, row.id))
          .run();
        return;
    }
  }

  /** Plans and performs until the planner has nothing more to do; whether it did anything. */
  async function advance(id: string): Promise<boolean> {
    let performed = false;
    for (let round = 0; round < 10; round++) {
      const loaded = load(id);
      if (!loaded) return performed;
      const steps = planRollout(view(loaded.row), loaded.targets.map(targetView), now());
      if (steps.length === 0) return performed;
      for (const step of steps) {
        try {
          await perform(loaded.row, loaded.targets, step);
          performed = true;
        } catch (err) {
          log.error({ err, rolloutId: id, step }, 'rollout step failed');
          return performed;
        }
      }
    }
    return performed;
  }

  /** Announces a rollout as it is now, with its targets. */
  function announce(id: string): void {
    if (!options.events) return;
    const loaded = load(id);
    if (loaded)
      options.events.publish({ type: 'rollout', rollout: rolloutView(loaded.row, loaded.targets) });
  }

  function resolveTargets(input: CreateRolloutInput, deviceClass: string): string[] {
    const { deviceIds, tag, deviceClass: cls } = input.selector;
    let rows = db.select().from(devices).all();
    if (deviceIds) {
      const known = new Set(rows.map((r) => r.id));
      const unknown = deviceIds.filter((d) => !known.has(d));
      if (unknown.length > 0) {
        throw new RolloutInputError('selector.deviceIds', `unknown devices: ${unknown.join(', ')}`);
      }
      rows = rows.filter((r) => deviceIds.includes(r.id));
      const wrong = rows.filter((r) => r.deviceClass !== deviceClass).map((r) => r.id);
      if (wrong.length > 0) {
        throw new RolloutInputError(
          'selector.deviceIds',
          `the engine targets ${deviceClass}; these devices are not: ${wrong.join(', ')}`,
        );
      }
    }
    if (tag) rows = rows.filter((r) => (JSON.parse(r.tags) as string[]).includes(tag));
    if (cls) rows = rows.filter((r) => r.deviceClass === cls);
    // An engine only runs on the class it was built for.
    rows = rows.filter((r) => r.deviceClass === deviceClass);
    if (rows.length === 0) throw new RolloutInputError('selector', 'selects no device');
    return rows.map((r) => r.id);
  }

  return {
    create(input: CreateRolloutInput): Promise<RolloutRow> {
      return serial(async () => {
        const engine = db.select().from(engines).where(eq(engines.id, input.engineId)).get();
        if (!engine) throw new RolloutInputError('engineId', `no engine ${input.engineId}`);
        if (db.select().from(rollouts).where(eq(rollouts.id, input.id)).get()) {
          throw new RolloutInputError('id', `rollout ${input.id} exists`);
        }
        const ids = resolveTargets(input, engine.deviceClass);
        const busy = db
          .select({ deviceId: rolloutTargets.deviceId, rolloutId: rolloutTargets.rolloutId })
          .from(rolloutTargets)
          .innerJoin(rollouts, eq(rollouts.id, rolloutTargets.rolloutId))
          .where(
            and(inArray(rolloutTargets.deviceId, ids), notInArray(rollouts.state, FINAL_STATES)),
          )
          .all();
        if (busy.length > 0) {
          throw new RolloutInputError(
            'selector',
            `devices already in an active rollout: ${busy.map((b) => `${b.deviceId} (${b.rolloutId})`).join(', ')}`,
          );
        }
        const targets = assignStages(ids, input.canaryShare);
        const t = now();
        const current = new Map(
          db
            .select({ id: devices.id, engineId: devices.engineId })
            .from(devices)
            .where(inArray(devices.id, ids))
            .all()
            .map((d) => [d.id, d.engineId]),
        );
        db.transaction((tx) => {
          tx.insert(rollouts)
            .values({
              id: input.id,
              engineId: input.engineId,
              selector: JSON.stringify(input.selector),
              canaryShare: input.canaryShare,
              holdS: input.holdS,
              failureLimit: input.failureLimit,
              minFpsRatio: input.minFpsRatio,
              gateHoldS: input.gateHoldS,
              state: initialState(targets),
              createdAt: t,
              updatedAt: t,
            })
            .run();
          for (const target of targets) {
            tx.insert(rolloutTargets)
              .values({
                rolloutId: input.id,
                deviceId: target.deviceId,
                stage: target.stage,
                state: 'pending',
                previousEngineId: current.get(target.deviceId) ?? null,
                updatedAt: t,
              })
              .run();
          }
        });
        await advance(input.id);
        announce(input.id);
        return load(input.id)!.row;
      });
    },

    command(id: string, action: 'pause' | 'resume' | 'abort'): Promise<RolloutRow> {
      return serial(async () => {
        const loaded = load(id);
        if (!loaded) throw new RolloutInputError('id', `no rollout ${id}`);
        const next = command(view(loaded.row), action);
        if ('error' in next) throw new RolloutInputError('state', next.error);
        db.update(rollouts)
          .set({
            state: next.state,
            pausedFrom: next.pausedFrom,
            reason: action === 'abort' ? 'aborted by an operator' : loaded.row.reason,
            updatedAt: now(),
          })
          .where(eq(rollouts.id, id))
          .run();
        await advance(id);
        announce(id);
        return load(id)!.row;
      });
    },

    /** Follows devices' reports (called after their batch committed). */
    onReports(reports: Reported[]): Promise<void> {
      if (reports.length === 0) return Promise.resolve();
      return serial(async () => {
        const touched = new Set<string>();
        for (const report of reports) {
          const rows = db
            .select({ target: rolloutTargets, rollout: rollouts })
            .from(rolloutTargets)
            .innerJoin(rollouts, eq(rollouts.id, rolloutTargets.rolloutId))
            .where(
              and(
                eq(rolloutTargets.deviceId, report.deviceId),
                notInArray(rollouts.state, FINAL_STATES),
              ),
            )
            .all();
          for (const { target, rollout } of rows) {
            const next = targetAfterReport(view(rollout), targetView(target), report);
            if (!next) continue;
            setTarget(rollout.id, target.deviceId, next);
            touched.add(rollout.id);
          }
        }
        for (const id of touched) {
          await advance(id);
          announce(id);
        }
      });
    },

    /** Time-driven progress (the canary hold). */
    tick(): Promise<void> {
      return serial(async () => {
        const active = db
          .select({ id: rollouts.id })
          .from(rollouts)
          .where(notInArray(rollouts.state, FINAL_STATES))
          .all();
        for (const { id } of active) if (await advance(id)) announce(id);
      });
    },

    get(id: string) {
      return load(id);
    },

    /** Rollouts per state, for /metrics. */
    countByState(): Record<string, number> {
      const counts: Record<string, number> = {};
      for (const r of db.select({ state: rollouts.state }).from(rollouts).all()) {
        counts[r.state] = (counts[r.state] ?? 0) + 1;
      }
      return counts;
    },

    /** Waits for queued operations (tests, shutdown). */
    idle(): Promise<void> {
      return serial(async () => {});
    },
  };
}
export type RolloutExecutor = ReturnType<typeof createRolloutExecutor>;
