import { type ClusterBus, type IngestMessage, packMessages } from '@facefleet/store';
import type { CommittedMessage } from '../ingest/ingest.js';
import type { Change } from '../services/changes.js';

/**
 * What the instances sharing a store tell each other over its bus (store/src/bus.ts): the use-case
 * changes one of them made, and the messages of every ingest batch it committed (sent inside the
 * batch's transaction on PostgreSQL). Each carries its origin: an instance handles its own at once
 * and ignores their echo.
 */
export type BusMessage =
  | { v: 1; t: 'change'; o: string; change: Change }
  | {
      v: 1;
      t: 'batch';
      o: string;
      m: [kind: IngestMessage['kind'], stored: 0 | 1, receivedAt: number, data: unknown][];
    };

/** The bus messages of a committed batch (faces boxes left out: nobody downstream reads them). */
export function batchMessages(
  origin: string,
  batch: CommittedMessage[],
  maxBytes: number,
): { messages: string[]; dropped: number } {
  const items = batch.map(({ message, stored, receivedAt }) => {
    const data =
      message.kind === 'faces' && message.data.boxes
        ? { ...message.data, boxes: undefined }
        : message.data;
    return [message.kind, stored ? 1 : 0, receivedAt, data] as const;
  });
  // Packed as arrays of items, then each wrapped: the envelope's few bytes are kept free.
  const { messages, dropped } = packMessages(items, maxBytes - 64);
  return {
    messages: messages.map((m) => `{"v":1,"t":"batch","o":${JSON.stringify(origin)},"m":${m}}`),
    dropped,
  };
}

export function changeMessage(origin: string, change: Change): string {
  return JSON.stringify({ v: 1, t: 'change', o: origin, change } satisfies BusMessage);
}

/**
 * Decodes a bus message; undefined for anything else (the bus carries only what instances of this
 * store wrote, but a message of a newer version is ignored rather than misread).
 */
export function decodeBusMessage(text: string): BusMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Partial<BusMessage>;
  if (m.v !== 1 || typeof m.o !== 'string') return undefined;
  if (m.t === 'change' && typeof m.change === 'object' && m.change !== null) return m as BusMessage;
  if (m.t === 'batch' && Array.isArray(m.m)) return m as BusMessage;
  return undefined;
}

/** A relayed batch as the local consumers take it. */
export function committedOf(m: Extract<BusMessage, { t: 'batch' }>): CommittedMessage[] {
  return m.m.map(([kind, stored, receivedAt, data]) => ({
    message: { kind, data } as IngestMessage,
    stored: stored === 1,
    receivedAt,
  }));
}

export type { ClusterBus };
