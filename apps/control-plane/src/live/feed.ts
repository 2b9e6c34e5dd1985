import { cameraOf, metricsSample } from '@facefleet/protocol';
import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { CommittedMessage } from '../ingest/ingest.js';
import { deviceView } from '../views.js';
import type { EventBus } from './bus.js';
import type { LiveEvent } from './types.js';

/**
 * Turns committed ingest batches into live events: every new face window and metrics sample and
 * every report; `changed` names the devices whose row a status or report changed (their `device`
 * events follow, read from the store). Replays the database already held (`stored: false`) are not
 * news and are not sent.
 */
export function liveEventsOf(batch: CommittedMessage[]): {
  events: LiveEvent[];
  changed: Set<string>;
} {
  const events: LiveEvent[] = [];
  const changed = new Set<string>();
  for (const { message, stored, receivedAt } of batch) {
    if (!stored) continue;
    switch (message.kind) {
      case 'faces': {
        const d = message.data;
        events.push({
          type: 'faces',
          deviceId: d.deviceId,
          camera: cameraOf(d),
          ts: d.ts,
          start: d.start,
          end: d.end,
          frames: d.frames,
          last: d.last,
          max: d.max,
          mean: d.mean,
          receivedAt,
        });
        break;
      }
      case 'metrics':
        events.push({ type: 'metrics', ...metricsSample(message.data), receivedAt });
        break;
      case 'reported': {
        const d = message.data;
        events.push({
          type: 'reported',
          deviceId: d.deviceId,
          ts: d.ts,
          rev: d.rev,
          engineId: d.engine?.id ?? null,
          update: d.update,
        });
        changed.add(d.deviceId);
        break;
      }
      case 'status':
        changed.add(message.data.deviceId);
        break;
    }
  }
  return { events, changed };
}

export function createLiveFeed({ store, bus, log }: { store: Store; bus: EventBus; log?: Logger }) {
  const deviceEvent = async (id: string): Promise<LiveEvent> => {
    const row = await store.devices.get(id);
    return row
      ? { type: 'device', device: deviceView(row) }
      : { type: 'device-removed', deviceId: id };
  };
  const publishDevices = (ids: Iterable<string>) => {
    for (const id of ids) {
      deviceEvent(id).then(
        (event) => bus.publish(event),
        (err: unknown) => log?.warn({ err, deviceId: id }, 'live feed: device not read'),
      );
    }
  };
  return {
    /** Publishes what a committed batch changed (skipped when nobody listens). */
    onCommit(batch: CommittedMessage[]): void {
      if (bus.listeners === 0) return;
      const { events, changed } = liveEventsOf(batch);
      for (const event of events) bus.publish(event);
      publishDevices(changed);
    },
    /** Publishes a device's current row (enrolled, tags changed) or its removal. */
    deviceChanged(id: string): void {
      publishDevices([id]);
    },
  };
}
export type LiveFeed = ReturnType<typeof createLiveFeed>;
