import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@facefleet/protocol';
import {
  freePort,
  mosquittoSub,
  type RunningProcess,
  repoRoot,
  requireBuilt,
  runnerBin,
  startProcess,
  waitFor,
} from '@facefleet/test-support';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The README's main job as a new user meets it: `scripts/start-demo.mjs` (what `scripts/start.sh`
 * runs after setup) starts the control plane and a local agent on the CPU runner, prints where to
 * look — and what it prints works. Ctrl-C stops everything; the data survives a restart.
 */
describe('the demo (scripts/start-demo.mjs)', () => {
  requireBuilt(runnerBin);
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-demo-'));
  const deviceId = 'demo-e2e';
  let ports: { http: number; mqtt: number; ws: number };
  let demo: RunningProcess | undefined;
  afterAll(async () => {
    if (demo?.running) await demo.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startDemo(): Promise<{ proc: RunningProcess; banner: string }> {
    const proc = startProcess(
      process.execPath,
      [
        join(repoRoot, 'scripts/start-demo.mjs'),
        '--http-port',
        String(ports.http),
        '--mqtt-port',
        String(ports.mqtt),
        '--ws-port',
        String(ports.ws),
        '--data-dir',
        dataDir,
        '--device-id',
        deviceId,
        '--max-fps',
        '4',
      ],
      { name: 'start-demo', cwd: repoRoot },
    );
    demo = proc;
    await proc.waitForLine(/facefleet is running/, 90_000);
    await proc.waitForLine(/-d '\{.*\}'$/, 5_000);
    const from = proc.stdout.findIndex((l) => l.includes('facefleet is running'));
    return { proc, banner: proc.stdout.slice(from).join('\n') };
  }

  /** Processes whose command line names the demo's data dir: the control plane and the agent. */
  function processesOfDemo(): number[] {
    return readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
          if (/^\d+ \(.*\) Z/.test(stat)) return false;
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dataDir);
        } catch {
          return false;
        }
      })
      .map(Number);
  }

  const faceWindows = (): number => {
    const db = new Database(join(dataDir, 'control-plane', 'facefleet.db'), { readonly: true });
    try {
      return (
        db.prepare('SELECT count(*) AS n FROM face_windows WHERE device_id = ?').get(deviceId) as {
          n: number;
        }
      ).n;
    } finally {
      db.close();
    }
  };

  let adminToken = '';
  let windowsBefore = 0;

  it('starts, and every command it prints works: subscriber, alert rule, API, docs', async () => {
    ports = { http: await freePort(), mqtt: await freePort(), ws: await freePort() };
    const { proc, banner } = await startDemo();
    adminToken = /admin token\s+(\S+)/.exec(banner)?.[1] ?? '';
    expect(adminToken).toMatch(/^ff_/);
    const api = `http://127.0.0.1:${ports.http}`;
    expect(banner).toContain(`${api}/docs`);

    // The printed live-face-count command, run as printed (its -u/-P are the read-only login).
    const subLine = banner.split('\n').find((l) => l.includes("devices/+/faces'"));
    const creds = /-u '([^']+)' -P '([^']+)'/.exec(subLine ?? '');
    expect(creds, banner).not.toBeNull();
    const sub = await mosquittoSub({
      url: `mqtt://127.0.0.1:${ports.mqtt}`,
      topics: ['facefleet/v1/devices/+/faces', 'facefleet/v1/alerts/#'],
      username: creds![1]!,
      password: creds![2]!,
    });
    try {
      await sub.waitForMessage(topics.faces(deviceId), {
        where: (m) => (JSON.parse(m.payload) as { max: number }).max >= 1,
        timeoutMs: 60_000,
      });
      // The printed alert rule, posted as printed: it fires on the video's faces.
      const rule = /-d '(\{.*\})'$/m.exec(banner)?.[1];
      expect(rule).toBeDefined();
      const created = await fetch(`${api}/api/v1/alert-rules`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: rule,
      });
      expect(created.status, await created.clone().text()).toBe(201);
      const { id } = JSON.parse(rule!) as { id: string };
      const alert = await sub.waitForMessage(topics.alert(id, deviceId), { timeoutMs: 30_000 });
      expect(JSON.parse(alert.payload)).toMatchObject({ ruleId: id, deviceId, state: 'firing' });
    } finally {
      expect(await sub.stop()).toBe(0);
    }
    const docs = await fetch(`${api}/docs`);
    expect(docs.status).toBe(200);
    const openapi = (await (await fetch(`${api}/openapi.json`)).json()) as { openapi: string };
    expect(openapi.openapi).toMatch(/^3\./);

    // No secret in any process's arguments (ps shows them to every local user), none in the
    // output, and what the agent keeps on disk is its own (issue 17, findings 4 and 15)
    const { deviceToken } = JSON.parse(
      readFileSync(join(dataDir, 'demo-secrets.json'), 'utf8'),
    ) as {
      deviceToken: string;
    };
    expect(deviceToken.length).toBeGreaterThan(20);
    const pids = processesOfDemo();
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      expect(cmdline).not.toContain(deviceToken);
      expect(cmdline).not.toContain(adminToken);
    }
    expect(proc.lines.join('\n')).not.toContain(deviceToken);
    for (const f of ['agent', 'agent/agent.db', 'control-plane', 'control-plane/facefleet.db']) {
      expect(statSync(join(dataDir, f)).mode & 0o077, f).toBe(0);
    }
    expect(existsSync(join(dataDir, 'control-plane', 'first-admin-token'))).toBe(false);

    // Ctrl-C: the launcher stops the agent, then the control plane, and exits 0; nothing is left.
    expect(processesOfDemo().length).toBeGreaterThanOrEqual(2);
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
    await waitFor(() => processesOfDemo().length === 0, {
      timeoutMs: 10_000,
      what: 'no control plane or agent left running',
    });
    expect(proc.lines.join('\n')).not.toMatch(/exited \(SIGKILL\)|stopping the demo/);
    windowsBefore = faceWindows();
    expect(windowsBefore).toBeGreaterThan(0);
  }, 240_000);

  it('comes back on the same data: same token, stored windows kept, new ones added', async () => {
    expect(windowsBefore).toBeGreaterThan(0);
    const { proc, banner } = await startDemo();
    expect(/admin token\s+(\S+)/.exec(banner)?.[1]).toBe(adminToken);
    const res = await fetch(`http://127.0.0.1:${ports.http}/api/v1/devices/${deviceId}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(res.status).toBe(200);
    expect(faceWindows()).toBeGreaterThanOrEqual(windowsBefore);
    await waitFor(() => faceWindows() > windowsBefore, {
      timeoutMs: 60_000,
      what: 'new face windows after the restart',
    });
    expect(await proc.stop()).toBe(0);
    await waitFor(() => processesOfDemo().length === 0, { timeoutMs: 10_000, what: 'clean stop' });
  }, 240_000);
});
