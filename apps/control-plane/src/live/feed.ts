import { modelCardFps } from '@facefleet/protocol';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/open.js';
import { devices } from '../db/schema.js';
import { deviceView } from '../db/views.js';
import type { CommittedMessage } from '../ingest/ingest.js';
import type { EventBus } from './bus.js';
import type { LiveEvent } from './types.js';

/**
 * Turns committed ingest batches into live events: every new face window and metrics sample, every
 * report, and the device row after a status or report changed it. Replays the database already
 * held (`stored: false`) are not news and are not sent.
 */
export function liveEventsOf(
  batch: CommittedMessage[],
  loadDevice: (id: string) => LiveEvent | undefined,
): LiveEvent[] {
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
      case 'metrics': {
        const d = message.data;
        events.push({
          type: 'metrics',
          deviceId: d.deviceId,
          ts: d.ts,
          deviceClass: d.device.deviceClass,
          fps: d.runner?.fps ?? null,
          inferFps: d.runner?.inferFps ?? null,
          latencyMs: d.runner?.latencyMs ?? null,
          tempsC: d.device.tempsC,
          powerMode: d.device.powerMode,
          gpuPct: d.device.gpuPct,
          referenceFps: modelCardFps(d.device.deviceClass) ?? null,
          receivedAt,
        });
        break;
      }
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
  for (const id of changed) {
    const event = loadDevice(id);
    if (event) events.push(event);
  }
  return events;
}

export function createLiveFeed({ db, bus }: { db: Db; bus: EventBus }) {
  const loadDevice = (id: string): LiveEvent | undefined => {
    const row = db.select().from(devices).where(eq(devices.id, id)).get();
    return row ? { type: 'device', device: deviceView(row) } : undefined;
  };
  return {
    /** Publishes what a committed batch changed (skipped when nobody listens). */
    onCommit(batch: CommittedMessage[]): void {
      if (bus.listeners === 0) return;
      for (const event of liveEventsOf(batch, loadDevice)) bus.publish(event);
    },
    /** Publishes a device's current row (enrolled, tags changed) or its removal. */
    deviceChanged(id: string): void {
      bus.publish(loadDevice(id) ?? { type: 'device-removed', deviceId: id });
    },
  };
}
export type LiveFeed = ReturnType<typeof createLiveFeed>;
