import type { Reported } from '@facefleet/protocol';
import type { RolloutRow, RolloutTargetRow, Store } from '@facefleet/store';
import type { Logger } from 'pino';
import { engineManifest } from '../engines/manifest.js';
import { ServiceError } from '../errors.js';
import type { EventBus } from '../live/bus.js';
import { rolloutView } from '../views.js';
import type { SetDesired } from './desired.js';
import {
  assignStages,
  command,
  initialState,
  planRollout,
  type RolloutState,
  type RolloutStep,
  type RolloutView,
  type Selector,
  type TargetState,
  type TargetView,
  targetAfterReport,
} from './planner.js';

export type { Selector } from './planner.js';

export interface CreateRolloutInput {
  id: string;
  engineId: string;
  selector: Selector;
  canaryShare: number;
  holdS: number;
  failureLimit: number;
  minFpsRatio: number;
  gateHoldS: number;
  apTolerance: number;
  /**
   * The engine may be older (a lower version) than what some targets run: the operator asks for
   * a rollback. Without it such a rollout is refused, and devices would refuse the engine anyway.
   */
  rollback?: boolean;
}

type TargetRow = RolloutTargetRow;

/** A rollout as the API answers it: the row and its targets. */
export interface LoadedRollout {
  row: RolloutRow;
  targets: TargetRow[];
}

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
  store: Store;
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
  const { store, setDesired, log } = options;
  const now = options.now ?? Date.now;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const load = (id: string) => store.rollouts.load(id);

  const setTarget = (
    rolloutId: string,
    deviceId: string,
    set: Partial<Pick<TargetRow, 'state' | 'rev' | 'reason' | 'gateJson'>>,
  ) => {
    // a report without gate figures leaves the ones an earlier report brought
    const { gateJson, ...rest } = set;
    return store.rollouts.updateTarget(rolloutId, deviceId, {
      ...rest,
      ...(gateJson ? { gateJson } : {}),
      updatedAt: now(),
    });
  };

  async function perform(row: RolloutRow, targets: TargetRow[], step: RolloutStep): Promise<void> {
    const healthGate = {
      holdS: row.gateHoldS,
      minFpsRatio: row.minFpsRatio,
      apTolerance: row.apTolerance,
    };
    switch (step.kind) {
      case 'set-desired': {
        const engine = await store.engines.get(row.engineId);
        if (!engine) throw new Error(`engine ${row.engineId} is gone`);
        // Older than what the device ran when the rollout was made: the operator asked for that
        // rollback (create refuses it otherwise).
        const target = targets.find((t) => t.deviceId === step.deviceId);
        const before = target?.previousEngineId
          ? await store.engines.get(target.previousEngineId)
          : undefined;
        const rev = await setDesired(step.deviceId, engineManifest(engine), row.id, healthGate, {
          rollback: before !== undefined && before.version > engine.version,
        });
        await setTarget(row.id, step.deviceId, { state: 'desired', rev });
        return;
      }
      case 'revert': {
        const target = targets.find((t) => t.deviceId === step.deviceId);
        const previous = target?.previousEngineId
          ? await store.engines.get(target.previousEngineId)
          : undefined;
        // Without a registered previous engine the desired engine becomes null: "keep what you run".
        // Going back is a rollback the device must be told is wanted (signed).
        await setDesired(
          step.deviceId,
          previous ? engineManifest(previous) : null,
          null,
          healthGate,
          { rollback: true },
        );
        await setTarget(row.id, step.deviceId, { state: 'reverted' });
        return;
      }
      case 'set-state':
        await store.rollouts.update(row.id, {
          state: step.state,
          reason: step.reason,
          updatedAt: now(),
        });
        log.info({ rolloutId: row.id, state: step.state, reason: step.reason }, 'rollout state');
        return;
      case 'canary-done':
        await store.rollouts.update(row.id, { canaryDoneAt: step.at, updatedAt: now() });
        return;
    }
  }

  /** Plans and performs until the planner has nothing more to do; whether it did anything. */
  async function advance(id: string): Promise<boolean> {
    let performed = false;
    for (let round = 0; round < 10; round++) {
      const loaded = await load(id);
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
  /** Announces a rollout as it is now, with its targets; returns it. */
  async function announce(id: string): Promise<LoadedRollout> {
    const loaded = await load(id);
    if (!loaded) throw new ServiceError('not_found', `no rollout ${id}`, 'id');
    options.events?.publish({ type: 'rollout', rollout: rolloutView(loaded.row, loaded.targets) });
    return loaded;
  }

  async function resolveTargets(input: CreateRolloutInput, deviceClass: string): Promise<string[]> {
    const { deviceIds, tag, deviceClass: cls } = input.selector;
    let rows = await store.devices.list();
    if (deviceIds) {
      const known = new Set(rows.map((r) => r.id));
      const unknown = deviceIds.filter((d) => !known.has(d));
      if (unknown.length > 0) {
        throw new ServiceError(
          'invalid',
          `unknown devices: ${unknown.join(', ')}`,
          'selector.deviceIds',
        );
      }
      rows = rows.filter((r) => deviceIds.includes(r.id));
      const wrong = rows.filter((r) => r.deviceClass !== deviceClass).map((r) => r.id);
      if (wrong.length > 0) {
        throw new ServiceError(
          'invalid',
          `the engine targets ${deviceClass}; these devices are not: ${wrong.join(', ')}`,
          'selector.deviceIds',
        );
      }
    }
    if (tag) rows = rows.filter((r) => (JSON.parse(r.tags) as string[]).includes(tag));
    if (cls) rows = rows.filter((r) => r.deviceClass === cls);
    // An engine only runs on the class it was built for.
    rows = rows.filter((r) => r.deviceClass === deviceClass);
    if (rows.length === 0) throw new ServiceError('invalid', 'selects no device', 'selector');
    return rows.map((r) => r.id);
  }

  return {
    create(input: CreateRolloutInput): Promise<LoadedRollout> {
      return serial(async () => {
        const engine = await store.engines.get(input.engineId);
        if (!engine) throw new ServiceError('invalid', `no engine ${input.engineId}`, 'engineId');
        if (await store.rollouts.get(input.id)) {
          throw new ServiceError('invalid', `rollout ${input.id} exists`, 'id');
        }
        const ids = await resolveTargets(input, engine.deviceClass);
        const busy = await store.rollouts.busy(ids);
        if (busy.length > 0) {
          throw new ServiceError(
            'invalid',
            `devices already in an active rollout: ${busy.map((b) => `${b.deviceId} (${b.rolloutId})`).join(', ')}`,
            'selector',
          );
        }
        const targets = assignStages(ids, input.canaryShare);
        const t = now();
        const current = await store.devices.engineIds(ids);
        if (!input.rollback) {
          const newer: string[] = [];
          for (const [deviceId, engineId] of current) {
            const running = engineId ? await store.engines.get(engineId) : undefined;
            if (running && running.version > engine.version) newer.push(deviceId);
          }
          if (newer.length > 0) {
            throw new ServiceError(
              'invalid',
              `engine ${engine.id} (version ${engine.version}) is older than what ${newer.sort().join(', ')} run: ask for a rollback (rollback: true) to install it`,
              'rollback',
            );
          }
        }
        await store.rollouts.create(
          {
            id: input.id,
            engineId: input.engineId,
            selector: JSON.stringify(input.selector),
            canaryShare: input.canaryShare,
            holdS: input.holdS,
            failureLimit: input.failureLimit,
            minFpsRatio: input.minFpsRatio,
            gateHoldS: input.gateHoldS,
            apTolerance: input.apTolerance,
            state: initialState(targets),
            pausedFrom: null,
            canaryDoneAt: null,
            reason: null,
            createdAt: t,
            updatedAt: t,
          },
          targets.map((target) => ({
            rolloutId: input.id,
            deviceId: target.deviceId,
            stage: target.stage,
            state: 'pending',
            previousEngineId: current.get(target.deviceId) ?? null,
            rev: null,
            reason: null,
            gateJson: null,
            updatedAt: t,
          })),
        );
        await advance(input.id);
        return announce(input.id);
      });
    },

    command(id: string, action: 'pause' | 'resume' | 'abort'): Promise<LoadedRollout> {
      return serial(async () => {
        const loaded = await load(id);
        if (!loaded) throw new ServiceError('not_found', `no rollout ${id}`, 'id');
        const next = command(view(loaded.row), action);
        if ('error' in next) throw new ServiceError('conflict', next.error, 'state');
        await store.rollouts.update(id, {
          state: next.state,
          pausedFrom: next.pausedFrom,
          reason: action === 'abort' ? 'aborted by an operator' : loaded.row.reason,
          updatedAt: now(),
        });
        await advance(id);
        return announce(id);
      });
    },

    /** Follows devices' reports (called after their batch committed). */
    onReports(reports: Reported[]): Promise<void> {
      if (reports.length === 0) return Promise.resolve();
      return serial(async () => {
        const touched = new Set<string>();
        for (const report of reports) {
          for (const { target, rollout } of await store.rollouts.activeFor(report.deviceId)) {
            const next = targetAfterReport(view(rollout), targetView(target), report);
            if (!next) continue;
            await setTarget(rollout.id, target.deviceId, next);
            touched.add(rollout.id);
          }
        }
        for (const id of touched) {
          await advance(id);
          await announce(id);
        }
      });
    },

    /**
     * Applies every device's last stored report to the active rollouts it is a target of: for a
     * new leader, whose predecessor may have died with reports it had not acted on, and after the
     * bus between instances was down. (Reports are otherwise followed as batches commit.)
     */
    catchUp(): Promise<void> {
      return serial(async () => {
        const touched = new Set<string>();
        for (const id of await store.rollouts.activeIds()) {
          const loaded = await load(id);
          if (!loaded) continue;
          const open = loaded.targets.filter((t) => t.state === 'desired' || t.state === 'applied');
          const reported = await store.devices.reportedOf(open.map((t) => t.deviceId));
          for (const target of open) {
            const report = reported.get(target.deviceId);
            if (!report) continue;
            const next = targetAfterReport(view(loaded.row), targetView(target), report);
            if (!next) continue;
            await setTarget(id, target.deviceId, next);
            touched.add(id);
          }
        }
        for (const id of touched) {
          await advance(id);
          await announce(id);
        }
      });
    },

    /** Time-driven progress (the canary hold). */
    tick(): Promise<void> {
      return serial(async () => {
        for (const id of await store.rollouts.activeIds())
          if (await advance(id)) await announce(id);
      });
    },

    /** Rollouts per state, for /metrics. */
    countByState: () => store.rollouts.countByState(),

    /** Waits for queued operations (tests, shutdown). */
    idle(): Promise<void> {
      return serial(async () => {});
    },
  };
}
export type RolloutExecutor = ReturnType<typeof createRolloutExecutor>;
