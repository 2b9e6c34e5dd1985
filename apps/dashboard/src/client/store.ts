import {
  cameraCounts,
  facesNow,
  lastFaces,
  lastMetrics,
  referenceFps,
} from '@facefleet/protocol/projections';
import { useEffect, useState } from 'preact/hooks';
import { api, json } from './api.js';
import type { FleetDevice, LiveEvent, LiveRollout, Meta, Principal, StoredAlert } from './types.js';

/**
 * The dashboard's state: a snapshot loaded from the API, then kept current by live events. One
 * store object made by `createStore` and passed down (no module-level state). Components read it
 * through `useStore`, which re-renders them at most once per animation frame.
 */
export interface State {
  principal: Principal | null;
  meta: Meta | null;
  devices: Map<string, FleetDevice>;
  rollouts: Map<string, LiveRollout>;
  /** Newest first. */
  alerts: StoredAlert[];
  connection: 'connecting' | 'live' | 'reconnecting' | 'closed';
  /** Bumped on every live `hello`: pages reload what they fetched themselves. */
  epoch: number;
}

const MAX_ALERTS = 200;

export function createStore() {
  const state: State = {
    principal: null,
    meta: null,
    devices: new Map(),
    rollouts: new Map(),
    alerts: [],
    connection: 'closed',
    epoch: 0,
  };
  const listeners = new Set<() => void>();
  const eventListeners = new Set<(e: LiveEvent) => void>();
  let version = 0;
  let scheduled = false;
  const changed = () => {
    version++;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      for (const l of listeners) l();
    });
  };

  async function loadSnapshot(): Promise<void> {
    const [overview, rollouts, alerts] = await Promise.all([
      json(api.fleet.overview.$get()),
      json(api.rollouts.$get()),
      json(api.alerts.$get({ query: { limit: '100' } })),
    ]);
    state.devices = new Map(overview.devices.map((d) => [d.id, d]));
    state.rollouts = new Map(rollouts.rollouts.map((r) => [r.id, r]));
    state.alerts = alerts.alerts;
    changed();
  }

  function apply(event: LiveEvent): void {
    switch (event.type) {
      case 'hello':
        state.connection = 'live';
        state.epoch++;
        void loadSnapshot();
        break;
      case 'device': {
        const old = state.devices.get(event.device.id);
        state.devices.set(event.device.id, {
          lastFaces: null,
          cameraFaces: {},
          lastMetrics: null,
          referenceFps: referenceFps(event.device.deviceClass),
          ...old,
          ...event.device,
          cameraCounts: cameraCounts(event.device.cameras),
        });
        break;
      }
      case 'device-removed':
        state.devices.delete(event.deviceId);
        break;
      case 'faces': {
        const d = state.devices.get(event.deviceId);
        if (d) {
          d.cameraFaces = { ...d.cameraFaces, [event.camera]: lastFaces(event) };
          d.lastFaces = facesNow(Object.values(d.cameraFaces));
          d.lastSeen = Math.max(d.lastSeen ?? 0, event.receivedAt);
          state.devices.set(d.id, { ...d });
        }
        break;
      }
      case 'metrics': {
        const d = state.devices.get(event.deviceId);
        if (d) {
          d.lastMetrics = lastMetrics(event);
          d.powerMode = event.powerMode;
          d.lastSeen = Math.max(d.lastSeen ?? 0, event.receivedAt);
          state.devices.set(d.id, { ...d });
        }
        break;
      }
      case 'reported':
        break;
      case 'rollout':
        state.rollouts.set(event.rollout.id, event.rollout);
        break;
      case 'alert': {
        const a = event.alert;
        const existing = state.alerts.find((x) => x.id === a.alertId);
        if (existing) {
          existing.state = a.state;
          if (a.state === 'resolved') existing.resolvedAt = a.ts;
          state.alerts = [...state.alerts];
        } else {
          state.alerts = [
            {
              id: a.alertId,
              ruleId: a.ruleId,
              deviceId: a.deviceId,
              camera: a.camera ?? null,
              kind: a.kind,
              state: a.state,
              severity: a.severity,
              message: a.message,
              value: a.value,
              threshold: a.threshold,
              firedAt: a.ts,
              resolvedAt: a.state === 'resolved' ? a.ts : null,
            },
            ...state.alerts,
          ].slice(0, MAX_ALERTS);
        }
        break;
      }
    }
    for (const l of eventListeners) l(event);
    changed();
  }

  return {
    state,
    get version() {
      return version;
    },
    subscribe(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Every live event, after the store applied it (pages that follow one device). */
    onEvent(listener: (e: LiveEvent) => void): () => void {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    apply,
    loadSnapshot,
    set(patch: Partial<State>): void {
      Object.assign(state, patch);
      changed();
    },
  };
}
export type Store = ReturnType<typeof createStore>;

/** Re-renders the calling component when the store changes; returns the state. */
export function useStore(store: Store): State {
  const [, setVersion] = useState(store.version);
  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);
  return store.state;
}
