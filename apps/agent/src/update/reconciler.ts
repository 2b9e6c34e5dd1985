import type { Desired } from '@facefleet/protocol';
import type { Logger } from 'pino';
import { AbortedError, UpdateError } from '../errors.js';
import type { EngineStore } from './engine-store.js';
import type { Executors } from './executors.js';
import { plan, type Step } from './planner.js';
import type { DeviceFacts } from './state.js';

export interface Reconciler {
  /** A new desired state (validated); reconciles towards it. */
  setDesired(desired: Desired): void;
  desired(): Desired | null;
  /** Reconciles with what is known now (at start, to finish an interrupted update). */
  kick(): void;
  /** Resolves when no step is running or due. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface ReconcilerOptions {
  store: EngineStore;
  executors: Executors;
  facts: DeviceFacts;
  log: Logger;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/**
 * Runs the planner's steps one after another through the executors. After a failure it plans again
 * from the persisted state: a health-gate failure becomes a rollback, a retryable fault (network)
 * is retried with backoff, anything else marks the update `failed`. A new desired state is picked up
 * between steps.
 */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { store, executors, facts, log } = options;
  const retryInitialMs = options.retryInitialMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  let desired: Desired | null = null;
  let version = 0;
  let running: Promise<void> | null = null;
  let stopped = false;
  let retryDelay = retryInitialMs;
  let retryTimer: NodeJS.Timeout | undefined;
  let wakeRetry: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wakeRetry = resolve;
      retryTimer = setTimeout(resolve, ms);
    });

  async function execute(step: Step): Promise<void> {
    // each executor takes its own step type; the map guarantees the pairing
    await (executors[step.kind] as (s: Step) => Promise<void>)(step);
  }

  function fail(step: Step, err: Error) {
    if (step.kind === 'rebuild' || step.kind === 'rebuildGate') {
      // the executor recorded the failed rebuild and kept the plan that was there: the update
      // record (and what it reported) stays as it was
      log.error({ step: step.kind, err: err.message }, 'rebuild after a TensorRT upgrade failed');
      return;
    }
    const s = store.get();
    if (s.update.state === 'health_check') {
      // after the switch, any failure means the new engine is not proven: roll back
      if (s.update.gateFailure === null) {
        store.update((st) => ({
          ...st,
          update: { ...st.update, gateFailure: `${step.kind}: ${err.message}` },
        }));
      }
      return;
    }
    log.error({ step: step.kind, err: err.message }, 'engine update failed');
    store.update((st) => ({
      ...st,
      update: { ...st.update, state: 'failed', progress: null, reason: err.message },
    }));
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      const seen = version;
      const steps = plan(store.get(), desired, facts);
      if (steps.length === 0) return;
      log.debug({ steps: steps.map((s) => s.kind) }, 'plan');
      let retry = false;
      for (const step of steps) {
        if (stopped) return;
        try {
          await execute(step);
          retryDelay = retryInitialMs;
        } catch (err) {
          const e = err as Error;
          // shutting down: whatever was cut short resumes from the persisted state after restart
          if (stopped || e instanceof AbortedError) return;
          if (e instanceof UpdateError && e.retryable) {
            log.warn(
              { step: step.kind, err: e.message, retryInMs: retryDelay },
              'engine update step will be retried',
            );
            retry = true;
          } else if (step.kind !== 'healthGate') {
            fail(step, e);
          }
          break;
        }
        // a new desired state is looked at before committing to the next step, except mid-switch
        if (
          version !== seen &&
          (step.kind === 'begin' ||
            step.kind === 'download' ||
            step.kind === 'verify' ||
            step.kind === 'stage')
        )
          break;
      }
      if (retry) {
        await sleep(retryDelay);
        retryDelay = Math.min(retryMaxMs, retryDelay * 2);
      }
    }
  }

  function kick() {
    if (running || stopped) return;
    running = loop()
      .catch((err) =>
        log.error({ err: (err as Error).message }, 'reconciler stopped on an unexpected error'),
      )
      .finally(() => {
        running = null;
        if (!stopped && version !== lastRunVersion) kick();
      });
    lastRunVersion = version;
  }
  let lastRunVersion = -1;

  return {
    setDesired(d) {
      desired = d;
      version += 1;
      // cut a retry wait short: the new desired state may not need the failing step
      if (retryTimer) {
        clearTimeout(retryTimer);
        wakeRetry?.();
      }
      kick();
    },
    desired: () => desired,
    kick,
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      wakeRetry?.();
      await running;
    },
  };
}
