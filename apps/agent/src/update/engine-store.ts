import { existsSync } from 'node:fs';
import { type Reported, topics } from '@facefleet/protocol';
import type { Outbox } from '../outbox/outbox.js';
import { type EngineState, IDLE_UPDATE, type InstalledEngine } from './state.js';

const STATE_NAME = 'engine';

export interface EngineStore {
  get(): EngineState;
  /**
   * Applies `change` and queues the `reported` message that describes the result, in one SQLite
   * transaction: a kill -9 leaves either both or neither.
   */
  update(change: (s: EngineState) => EngineState): EngineState;
  /** Queues a `reported` message for the current state (after a restart, on reconnect). */
  report(): void;
}

/** The `reported` payload for a state (without the envelope's seq and ts). */
export function reportedFor(
  deviceId: string,
  s: EngineState,
  outboxDropped: number,
): Omit<Reported, 'seq' | 'ts'> {
  return {
    v: 1,
    deviceId,
    rev: s.update.rev,
    engine: s.current.ref,
    previousEngine: s.previous?.ref ?? null,
    update: {
      state: s.update.state,
      engineId: s.update.engineId,
      rolloutId: s.update.rolloutId,
      progress: s.update.progress,
      reason: s.update.reason,
      gate: s.update.gate ?? null,
    },
    engineBench: s.bench,
    rebuild: s.rebuild
      ? {
          state: s.rebuild.state,
          engineId: s.rebuild.engineId,
          fromTrt: s.rebuild.fromTrt,
          toTrt: s.rebuild.toTrt,
          reason: s.rebuild.reason,
          gate: s.rebuild.gate,
        }
      : null,
    outboxDropped,
  };
}

/**
 * The persisted engine and update state, kept in the outbox database so that a state change and
 * its report are one transaction. On first start the bootstrap engine (from the config) is current.
 * If the current engine's file has vanished, the previous one (or the bootstrap) takes its place so
 * the runner always has something runnable.
 */
export function openEngineStore(options: {
  outbox: Outbox;
  deviceId: string;
  bootstrap: InstalledEngine;
  onReported?: () => void;
}): EngineStore {
  const { outbox, deviceId } = options;
  let state = outbox.getState<EngineState>(STATE_NAME) ?? {
    current: options.bootstrap,
    previous: null,
    update: IDLE_UPDATE,
    bench: null,
  };
  if (!existsSync(state.current.path)) {
    const fallback =
      state.previous && existsSync(state.previous.path) ? state.previous : options.bootstrap;
    state = { ...state, current: fallback, previous: null };
  }
  const enqueueReport = () =>
    outbox.enqueue({
      kind: 'reported',
      topic: topics.reported(deviceId),
      build: (seq) => ({ ...reportedFor(deviceId, state, outbox.dropped()), seq, ts: Date.now() }),
    });
  return {
    get: () => state,
    update(change) {
      const next = change(state);
      outbox.transaction(() => {
        outbox.setState(STATE_NAME, next);
        const prev = state;
        state = next;
        try {
          enqueueReport();
        } catch (err) {
          state = prev;
          throw err;
        }
      });
      options.onReported?.();
      return state;
    },
    report() {
      enqueueReport();
      options.onReported?.();
    },
  };
}
