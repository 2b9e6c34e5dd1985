import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { topics } from '@facefleet/protocol';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, facesMessage } from './testing.js';

/**
 * The real built server (`node dist/main.js`) in a child process against a temp data dir: publish
 * QoS 1 from several devices, count PUBACKs client-side, kill -9 the server mid-stream, restart it
 * on the same data, and check that every acknowledged message is in the database.
 */
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'facefleet-kill-'));

interface Started {
  child: ChildProcess;
  ports: { http: number; mqtt: number };
  adminToken: string | null;
  exited: Promise<number | null>;
}

function startServer(): Promise<Started> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      '--data-dir',
      dataDir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--mqtt-ws-port',
      'off',
      '--batch-ms',
      '20',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    let adminToken: string | null = null;
    const timer = setTimeout(() => reject(new Error('server did not get ready')), 15_000);
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const token = /first admin API token.*: (ff_\S+)/.exec(line);
      if (token) adminToken = token[1]!;
      if (line.includes('"msg":"ready"')) {
        clearTimeout(timer);
        const { ports } = JSON.parse(line) as { ports: { http: number; mqtt: number } };
        resolve({ child, ports, adminToken, exited });
      }
    });
  });
}

let running: Started | undefined;
afterAll(() => {
  running?.child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 during ingest', () => {
  it('loses no acknowledged message, and SIGTERM then exits 0', async () => {
    running = await startServer();
    const { ports, adminToken } = running;
    expect(adminToken).toMatch(/^ff_/);
    const devices = ['kill-0', 'kill-1', 'kill-2', 'kill-3'];
    const creds: Record<string, string> = {};
    for (const id of devices) {
      const res = await fetch(`http://127.0.0.1:${ports.http}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, deviceClass: 'jetson-nano' }),
      });
      expect(res.status).toBe(201);
      creds[id] = ((await res.json()) as { token: string }).token;
    }

    const acked = new Map<string, Set<number>>(devices.map((d) => [d, new Set()]));
    let total = 0;
    const clients = await Promise.all(
      devices.map((id) =>
        connectClient(`mqtt://127.0.0.1:${ports.mqtt}`, {
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
    running.child.kill('SIGKILL');
    killed = true;
    expect(await running.exited).toBeNull();
    await Promise.all(pumps);
    for (const c of clients) c.end(true);
    const ackedCount = [...acked.values()].reduce((n, s) => n + s.size, 0);

    // Restart on the same data (WAL recovery, migrations), then stop it cleanly.
    running = await startServer();
    expect(running.adminToken).toBeNull(); // not a fresh database
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
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
