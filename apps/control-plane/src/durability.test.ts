import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@facefleet/protocol';
import { type ControlPlane, startControlPlane } from '@facefleet/test-support';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, facesMessage } from './testing.js';

/**
 * The real built server (`node dist/main.js`) in a child process against a temp data dir: publish
 * QoS 1 from several devices, count PUBACKs client-side, kill -9 the server mid-stream, restart it
 * on the same data, and check that every acknowledged message is in the database.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'facefleet-kill-'));
const startServer = () => startControlPlane({ dataDir, args: ['--batch-ms', '20'] });

let running: ControlPlane | undefined;
afterAll(async () => {
  await running?.kill9();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 during ingest', () => {
  it('loses no acknowledged message, and SIGTERM then exits 0', async () => {
    running = await startServer();
    const server = running;
    expect(server.announcedToken).toMatch(/^ff_/);
    const devices = ['kill-0', 'kill-1', 'kill-2', 'kill-3'];
    const creds: Record<string, string> = {};
    for (const id of devices) creds[id] = await server.enroll(id, { deviceClass: 'jetson-nano' });

    const acked = new Map<string, Set<number>>(devices.map((d) => [d, new Set()]));
    let total = 0;
    const clients = await Promise.all(
      devices.map((id) =>
        connectClient(server.mqttUrl, {
          username: id,
          password: creds[id],
          clientId: id,
        }),
      ),
    );
    let killed = false;
    const pumps = clients.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          const id = devices[i]!;
          let seq = 0;
          let inflight = 0;
          client.on('close', () => resolve());
          client.on('error', () => {});
          const next = () => {
            while (!killed && inflight < 64) {
              const s = seq++;
              inflight++;
              client.publish(
                topics.faces(id),
                JSON.stringify(facesMessage(id, s)),
                { qos: 1 },
                (err) => {
                  inflight--;
                  if (!err) {
                    acked.get(id)!.add(s);
                    total++;
                  }
                  if (!killed) setImmediate(next);
                },
              );
            }
          };
          next();
        }),
    );
    // Kill in the middle of the stream: once a good number of messages were acknowledged.
    const deadline = Date.now() + 20_000;
    while (total < 3000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(total).toBeGreaterThanOrEqual(3000);
    const killedNow = server.process.kill('SIGKILL');
    killed = true;
    expect((await killedNow).signal).toBe('SIGKILL');
    await Promise.all(pumps);
    for (const c of clients) c.end(true);
    const ackedCount = [...acked.values()].reduce((n, s) => n + s.size, 0);

    // Restart on the same data (WAL recovery, migrations), then stop it cleanly.
    running = await startServer();
    expect(running.announcedToken).toBeNull(); // not a fresh database
    expect(await running.stop()).toBe(0);
    running = undefined;

    const db = new Database(join(dataDir, 'facefleet.db'), { readonly: true });
    try {
      let stored = 0;
      for (const id of devices) {
        const seqs = new Set(
          (
            db.prepare('SELECT seq FROM face_windows WHERE device_id = ?').all(id) as {
              seq: number;
            }[]
          ).map((r) => r.seq),
        );
        stored += seqs.size;
        const missing = [...acked.get(id)!].filter((s) => !seqs.has(s));
        expect(missing, `${id}: acknowledged but not stored`).toEqual([]);
      }
      expect(stored).toBeGreaterThanOrEqual(ackedCount);
    } finally {
      db.close();
    }
  }, 60_000);
});
