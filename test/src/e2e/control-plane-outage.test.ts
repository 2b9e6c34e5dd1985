import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Agent,
  type AgentLog,
  type ControlPlane,
  canConnect,
  freePort,
  startAgent,
  startControlPlane,
  waitFor,
} from '@facefleet/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { readDb } from './fleet.js';

/**
 * Issue #7, fault 1: the control plane (and with it the embedded broker) is down for 60 s while
 * the agents keep detecting; then it comes back on the same ports and data dir. Every face window
 * an agent produced is stored exactly once: the ones from before, during and after the outage.
 *
 * What an agent produced is read from its own log ('faces window queued', at debug level: the
 * seq of every window as its outbox issued it). Seqs are one counter for every message kind of a
 * device (and its MQTT will), so the face windows' seqs are not contiguous by themselves: "no gap"
 * means the stored seqs are exactly the issued ones, none missing in between, none twice.
 */

const OUTAGE_MS = 60_000;
const IDS = ['outage-cam-1', 'outage-cam-2'] as const;

interface Queued {
  seq: number;
  start: number;
  end: number;
  frames: number;
  time: number;
}

const queued = (a: Agent): Queued[] =>
  a.logs
    .filter((l: AgentLog) => l.msg === 'faces window queued')
    .map((l) => ({
      seq: l.seq as number,
      start: l.start as number,
      end: l.end as number,
      frames: l.frames as number,
      time: l.time as number,
    }));

interface StoredWindow {
  seq: number;
  start: number;
  end: number;
  frames: number;
}

const stored = (cp: ControlPlane, id: string): StoredWindow[] =>
  readDb(
    cp,
    (db) =>
      db
        .prepare(
          'SELECT seq, start, "end", frames FROM face_windows WHERE device_id = ? ORDER BY seq',
        )
        .all(id) as StoredWindow[],
  );

const dataDir = mkdtempSync(join(tmpdir(), 'ff-outage-'));
let cp: ControlPlane | undefined;
const agents: Agent[] = [];

afterAll(async () => {
  for (const a of agents) if (a.process.running) await a.stop().catch(() => {});
  if (cp?.process.running) await cp.stop().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('the control plane down for 60 s while agents keep detecting', {
  timeout: 240_000,
}, () => {
  it('stores every face window exactly once, those produced during the outage included', async () => {
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    cp = await startControlPlane({ dataDir, httpPort, mqttPort });
    const first = cp;
    for (const deviceId of IDS) {
      agents.push(await startAgent({ controlPlane: first, deviceId, logLevel: 'debug' }));
    }
    // Both agents are publishing and being stored before the outage.
    await waitFor(() => IDS.every((id) => stored(first, id).length >= 3), {
      timeoutMs: 60_000,
      what: 'three stored windows from each agent',
    });

    const down = Date.now();
    expect(await first.stop()).toBe(0);
    expect(await canConnect(mqttPort)).toBe(false);
    // The outage itself: its length is the point of the test, not a synchronisation.
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const up = Date.now();
    for (const a of agents) {
      // the agents lived through it, their runners detecting and their windows queueing
      expect(a.process.running).toBe(true);
      const during = queued(a).filter((q) => q.time > down && q.time < up);
      // about one a second (fewer when a loaded machine starves the runner of whole seconds)
      expect(during.length).toBeGreaterThanOrEqual(OUTAGE_MS / 2000);
      expect(during.every((q) => q.frames >= 1)).toBe(true);
    }

    cp = await first.restart();
    const second = cp;
    expect(second.mqttUrl).toBe(first.mqttUrl);
    // The backlog arrives: every window queued until now is stored.
    await waitFor(
      () =>
        agents.every((a) => {
          const have = new Set(stored(second, a.deviceId).map((w) => w.seq));
          return queued(a).every((q) => have.has(q.seq));
        }),
      { timeoutMs: 60_000, intervalMs: 500, what: 'the outage backlog to be stored' },
    );

    // SIGTERM: each agent queues its last window and flushes its outbox before it exits.
    for (const a of agents) expect(await a.stop()).toBe(0);
    for (const a of agents) {
      const issued = queued(a);
      const rows = stored(second, a.deviceId);
      // exactly the windows the agent issued, each once, in order, no gap between first and last
      expect(rows.map((w) => w.seq)).toEqual(issued.map((q) => q.seq));
      expect(new Set(rows.map((w) => w.seq)).size).toBe(rows.length);
      // and with the contents the agent produced: no window stored twice under another seq,
      // none overlapping the next
      expect(rows.map((w) => [w.start, w.end, w.frames])).toEqual(
        issued.map((q) => [q.start, q.end, q.frames]),
      );
      for (let i = 1; i < rows.length; i++) {
        expect(rows[i]!.start).toBeGreaterThanOrEqual(rows[i - 1]!.end);
      }
      const outage = rows.filter((w) => w.end > down && w.start < up);
      expect(outage.length).toBeGreaterThanOrEqual(OUTAGE_MS / 2000);
    }
    expect(await second.stop()).toBe(0);
  });
});
