import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Agent,
  type ControlPlane,
  startAgent,
  startControlPlane,
  waitFor,
} from '@facefleet/test-support';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  blazefaceVariant,
  device,
  prng,
  readDb,
  rolloutUntil,
  runnerModel,
  sha256,
  uploadEngine,
} from './fleet.js';

/**
 * Issue #7, fault 3: an agent is killed with SIGKILL in the middle of an engine update, at a
 * random point after the desired state reached it, in several rounds, each with a new engine.
 * Every time, what it persisted names an engine file that exists whole; it comes back on a runnable
 * engine (its runner starts and emits frames) and reports what that runner really runs, the new
 * engine or the previous one; and the rollout completes. The seed is in the test name: set
 * FACEFLEET_FAULT_SEED to replay a run.
 */

const ID = 'switch-cam-1';
const ROUNDS = 5;
/**
 * Kill delays are log-uniform up to this: the download, verification, staging and switch take
 * tens of ms here, the runner restart and health gate (3 s hold) seconds, so every step gets hit,
 * and now and then the update has finished.
 */
const MAX_DELAY_MS = 6000;
const SEED = Number(process.env.FACEFLEET_FAULT_SEED ?? Date.now() % 2 ** 31);

interface PersistedEngine {
  ref: { id: string; sha256: string };
  path: string;
}
interface PersistedState {
  current: PersistedEngine;
  previous: PersistedEngine | null;
  update: { state: string; engineId: string | null };
}

/** The engine state a killed agent left in its SQLite file (read from a copy, WAL included). */
function persistedState(agent: Agent): PersistedState {
  const dir = mkdtempSync(join(tmpdir(), 'ff-agent-db-'));
  try {
    for (const suffix of ['', '-wal']) {
      const from = join(agent.dataDir, `agent.db${suffix}`);
      if (existsSync(from)) copyFileSync(from, join(dir, `agent.db${suffix}`));
    }
    const db = new Database(join(dir, 'agent.db'));
    try {
      const row = db.prepare(`SELECT value FROM state WHERE name = 'engine'`).get() as
        | { value: string }
        | undefined;
      if (!row) throw new Error(`${agent.deviceId}: no engine state persisted`);
      return JSON.parse(row.value) as PersistedState;
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Processes whose parent is `pid` (the agent's runners). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}
const alive = (pid: number) => existsSync(`/proc/${pid}`);

let cp: ControlPlane | undefined;
let agent: Agent | undefined;
afterAll(async () => {
  if (agent?.process.running) await agent.stop();
  agent?.cleanup();
  if (cp?.process.running) await cp.stop();
}, 60_000);

describe('an agent killed with -9 during engine switches', { timeout: 300_000 }, () => {
  it(`comes back on a runnable engine each time and the rollouts complete (${ROUNDS} rounds, seed ${SEED})`, async () => {
    const random = prng(SEED);
    const server = await startControlPlane();
    cp = server;
    let a = await startAgent({ controlPlane: server, deviceId: ID });
    agent = a;
    await waitFor(() => runnerModel(server, ID), {
      timeoutMs: 60_000,
      what: `${ID}'s runner to run`,
    });
    const shas = new Map<string, string>();
    let previous = 'bootstrap';

    for (let round = 1; round <= ROUNDS; round++) {
      const engineId = `switch-e${round}`;
      const bytes = blazefaceVariant(`facefleet e2e: kill -9 round ${round}`);
      shas.set(engineId, (await uploadEngine(server, engineId, bytes)).sha256);
      const since = a.logs.length;
      await server.json(
        'POST',
        '/api/v1/rollouts',
        {
          id: `switch-r${round}`,
          engineId,
          selector: { deviceIds: [ID] },
          canaryShare: 0,
          holdS: 0,
          failureLimit: 0,
          // roomy: a loaded CI machine can starve a runner for a second or two
          gateHoldS: 3,
          minFpsRatio: 0.25,
        },
        { expect: 201 },
      );
      await a.waitForLog('desired state', { since, where: (l) => l.engine === engineId });
      const delay = Math.floor(MAX_DELAY_MS ** random()) - 1;
      // The random point of the kill: a delay on purpose, not a wait for something.
      await new Promise((r) => setTimeout(r, delay));
      const runners = childrenOf(a.process.pid);
      await a.kill9();

      // What it left on disk names engine files that exist, whole.
      const state = persistedState(a);
      console.log(
        `round ${round}: killed ${delay} ms after the desired state, during '${state.update.state}' ` +
          `(running ${state.current.ref.id})`,
      );
      expect([previous, engineId]).toContain(state.current.ref.id);
      for (const e of [state.current, state.previous]) {
        if (!e) continue;
        expect(existsSync(e.path), `${e.ref.id} at ${e.path}`).toBe(true);
        expect(sha256(readFileSync(e.path)), `${e.ref.id} at ${e.path}`).toBe(e.ref.sha256);
      }
      // Its runners do not outlive it (their stdout is gone: the next write ends them).
      await waitFor(() => runners.every((pid) => !alive(pid)), {
        timeoutMs: 15_000,
        what: `the killed agent's runners ${runners.join(', ')} to exit`,
      });

      const restartedAt = Date.now();
      a = await a.restart();
      agent = a;
      // Back on a runnable engine: a runner runs the engine the agent reports, and emits frames.
      const now = await waitFor(
        async () => {
          const model = await runnerModel(server, ID);
          const d = await device(server, ID);
          const engine = d.reported?.engine;
          if (!model || !engine || model.sha256 !== engine.sha256) return null;
          return { model, reported: d.reported! };
        },
        { timeoutMs: 60_000, intervalMs: 100, what: `${ID} to run the engine it reports` },
      );
      expect([previous, engineId]).toContain(now.reported.engine?.id);
      if (now.reported.update.state === 'applied') {
        expect(now.reported.update.engineId).toBe(now.reported.engine?.id);
      }
      await waitFor(
        () =>
          readDb(
            server,
            (db) =>
              db
                .prepare(
                  'SELECT 1 FROM face_windows WHERE device_id = ? AND received_at > ? AND frames > 0',
                )
                .get(ID, restartedAt) !== undefined,
          ),
        { timeoutMs: 30_000, what: `frames from ${ID}'s runner after the restart` },
      );

      // And the update goes through.
      const done = await rolloutUntil(server, `switch-r${round}`, 'completed', [
        'halted',
        'aborted',
      ]);
      expect(done.targets.map((t) => t.state)).toEqual(['applied']);
      await waitFor(async () => (await runnerModel(server, ID))?.sha256 === shas.get(engineId), {
        timeoutMs: 30_000,
        what: `${ID}'s runner to run ${engineId}`,
      });
      const d = await device(server, ID);
      expect(d.reported?.engine?.id).toBe(engineId);
      expect(d.reported?.update).toMatchObject({
        state: 'applied',
        engineId,
        rolloutId: `switch-r${round}`,
      });
      previous = engineId;
    }
    expect(await a.stop()).toBe(0);
    expect(await server.stop()).toBe(0);
  });
});
