import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusMessage, topics } from '@facefleet/protocol';
import { type ControlPlane, freePort, startControlPlane, waitFor } from '@facefleet/test-support';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT } from './errors.js';
import { type RunningCli, runCliProcess, startCli } from './test-support/processes.js';

/**
 * The CLI as a user runs it: `node dist/main.js …` child processes against the real control plane
 * (`node apps/control-plane/dist/main.js`, temp data dir, ephemeral ports), with simulated devices
 * from `facefleet simulate` (the agent's own code with a synthetic detector). Run `pnpm build` first.
 */
vi.setConfig({ testTimeout: 60_000 });

let cp: ControlPlane;
const home = mkdtempSync(join(tmpdir(), 'ff-cli-home-'));
const env = { HOME: home };
const cli = (...args: string[]) => runCliProcess(args, env);

beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('login and devices', () => {
  it('logs in (verified against the server, stored 0600) and shows status with the role', async () => {
    const r = await cli('login', '--server', cp.url, '--token', cp.adminToken);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('as first admin (admin)');
    const file = join(home, '.config', 'facefleet', 'login.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      server: cp.url,
      token: cp.adminToken,
    });
    const s = await cli('status', '--json');
    expect(s.code).toBe(EXIT.ok);
    expect(JSON.parse(s.stdout)).toMatchObject({ health: { ok: true }, me: { role: 'admin' } });
  });

  it('refuses a token the server does not know, and stores nothing', async () => {
    const other = mkdtempSync(join(tmpdir(), 'ff-cli-home-'));
    const r = await runCliProcess(
      ['login', '--server', cp.url, '--token', 'ff_0123456789abcdef_notarealsecretatall00'],
      { HOME: other },
    );
    expect(r.code).toBe(EXIT.auth);
    expect(r.stderr).toContain('does not hold a valid token');
    // the message, then the hint on a line of its own, last (issue 18; cli.test.ts holds the bytes)
    expect(r.stderr).toMatch(/does not hold a valid token\n {2}hint: [^\n]+$/);
    expect(() => statSync(join(other, '.config', 'facefleet', 'login.json'))).toThrow();
  });

  it('enrolls, lists (table and --json), tags, shows and removes a device', async () => {
    const e = await cli(
      'devices',
      'enroll',
      'cam-lobby',
      '--class',
      'nano',
      '--tag',
      'lobby,floor-1',
    );
    expect(e.code).toBe(EXIT.ok);
    expect(e.stdout).toMatch(/enrolled cam-lobby \(jetson-nano\)/);
    expect(e.stdout).toMatch(/token .*: [A-Za-z0-9_-]{40,}/);
    const table = await cli('devices', 'list');
    expect(table.stdout).toMatch(/^DEVICE\s+CLASS\s+STATE/);
    expect(table.stdout).toMatch(/cam-lobby\s+jetson-nano\s+never/);
    const json = JSON.parse((await cli('devices', 'list', '--json')).stdout) as {
      id: string;
      tags: string[];
    }[];
    expect(json.find((d) => d.id === 'cam-lobby')?.tags).toEqual(['lobby', 'floor-1']);
    const t = await cli('devices', 'tag', 'cam-lobby', '--add', 'entrance', '--remove', 'floor-1');
    expect(t.stdout).toBe('cam-lobby: lobby, entrance');
    const show = await cli('devices', 'show', 'cam-lobby');
    expect(show.stdout).toMatch(/class:\s+jetson-nano/);
    expect((await cli('devices', 'rm', 'cam-lobby')).stdout).toBe('deleted cam-lobby');
    const gone = await cli('devices', 'show', 'cam-lobby');
    expect(gone.code).toBe(EXIT.notFound);
    expect(gone.stderr).toContain('no device cam-lobby');
  });

  it('prints what a device reports with its escape sequences written out: no retitled terminal, cleared screen or faked line (issue 17, finding 5)', async () => {
    const token = (
      await cp.json<{ token: string }>('POST', '/api/v1/devices', {
        id: 'cam-evil',
        deviceClass: 'generic-x86_64',
        tags: [],
      })
    ).token;
    const device = await mqtt.connectAsync(cp.mqttUrl, {
      username: 'cam-evil',
      password: token,
      clientId: 'cam-evil',
      reconnectPeriod: 0,
    });
    try {
      const reason = '\u001b]0;owned\u0007\u001b[2J\r\nstate:      online (all good)\u202e';
      await device.publishAsync(
        topics.status('cam-evil'),
        JSON.stringify({ ...statusMessage('cam-evil', 1, 'degraded'), reason }),
        { qos: 1, retain: true },
      );
      await waitFor(
        async () =>
          (
            await cp.json<{ device: { status: { reason: string } | null } }>(
              'GET',
              '/api/v1/devices/cam-evil',
            )
          ).device.status?.reason === reason,
        10_000,
        'the status stored',
      );
    } finally {
      await device.endAsync();
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    const unsafe = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;
    const as = ['--server', cp.url, '--token', cp.adminToken];
    const shown = await cli('devices', 'show', 'cam-evil', ...as);
    expect(shown.code).toBe(EXIT.ok);
    // nothing a terminal acts on (no ESC, BEL, CR or bidi override), no line of the device's own
    expect(shown.stdout).not.toMatch(unsafe);
    expect(shown.stdout.split('\n').filter((l) => l.includes('all good'))).toEqual([
      'state:      degraded (\\u001b]0;owned\\u0007\\u001b[2J\\u000d\\u000astate:      online (all good)\\u202e)',
    ]);
    const json = await cli('devices', 'show', 'cam-evil', '--json', ...as);
    expect(json.stdout).not.toMatch(unsafe);
    expect((JSON.parse(json.stdout) as { status: { reason: string } }).status.reason).toBe(
      '\\u001b]0;owned\\u0007\\u001b[2J\\u000d\\u000astate:      online (all good)\\u202e',
    );
    // (the fleet the later tests count is as it was)
    expect((await cp.api('DELETE', '/api/v1/devices/cam-evil')).status).toBe(200);
  });

  it('says the server cannot be reached (exit 6) without a stack trace', async () => {
    const r = await cli('devices', 'list', '--server', 'http://127.0.0.1:9', '--token', 't');
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.stderr).toContain('cannot reach the control plane at http://127.0.0.1:9');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('bad flags', () => {
  it.each([
    [['devices', 'enroll', 'cam-x'], '--class is required'],
    [
      ['devices', 'enroll', 'cam-x', '--class', 'jetson-banana'],
      '--class "jetson-banana" is not a device class',
    ],
    [['devices', 'list', '--colour', 'red'], "Unknown option '--colour'"],
    [
      ['rollouts', 'create', '--engine', 'e', '--devices', 'a', '--canary', '2'],
      '--canary must be a number ≥ 0 and ≤ 1',
    ],
    [['rollouts', 'create', '--engine', 'e'], 'name the target devices with --devices'],
    [
      ['rollouts', 'create', '--engine', 'e', '--tag', 'x', '--class', 'nano'],
      'give only one of --tag, --class',
    ],
    [
      [
        'engines',
        'push',
        '/nonexistent.plan',
        '--model',
        'detectnet_v2',
        '--target-class',
        'nano',
        '--trt',
        '8.2.1',
      ],
      'cannot read /nonexistent.plan',
    ],
    [
      ['engines', 'push', 'x.plan', '--model', 'detectnet_v2', '--target-class', 'nano'],
      '--trt is required',
    ],
    [['simulate', '--devices', '0'], '--devices must be an integer ≥ 1'],
    [
      ['simulate', '--devices', '3', '--classes', 'orin:1'],
      '--classes: "orin" is not a class the simulator plays',
    ],
    [['faces', 'tail', '--count', 'many'], '--count must be an integer'],
  ])('%j exits 2 naming the flag', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('with simulated devices', () => {
  let sim: RunningCli;
  let engineId: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-cli-sim-'));
  const id = (n: number) => `e2e-xavier-nx-000${n}`;

  beforeAll(async () => {
    // 5 Xavier NX: 1-3 normal, 4 crashes its runner, 5 fails the health gate of any update
    sim = startCli(
      [
        'simulate',
        '--devices',
        '5',
        '--classes',
        'xavier-nx:1',
        '--crash',
        '1',
        '--fail-gate',
        '1',
        '--faces-rate',
        '20',
        '--prefix',
        'e2e',
        '--data-dir',
        dataDir,
        '--metrics-interval',
        '1',
        '--report-every',
        '1',
        '--cleanup',
      ],
      env,
    );
    await sim.waitForLine(/^ready: 5\/5 devices connected/, 60_000);
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('pushes an engine with its sha256 and lists it', async () => {
    const file = join(dataDir, 'facenet-nx.plan');
    const bytes = randomBytes(300_000);
    writeFileSync(file, bytes);
    const r = await cli(
      'engines',
      'push',
      file,
      '--model',
      'detectnet_v2',
      '--target-class',
      'xavier-nx',
      '--trt',
      '8.5.2',
      '--json',
    );
    expect(r.code).toBe(EXIT.ok);
    const engine = JSON.parse(r.stdout) as { id: string; sha256: string; size: number };
    expect(engine.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(engine.size).toBe(300_000);
    engineId = engine.id;
    const human = await cli(
      'engines',
      'push',
      file,
      '--model',
      'detectnet_v2',
      '--target-class',
      'xavier-nx',
      '--trt',
      '8.5.2',
    );
    expect(human.stdout).toContain(`sha256 ${engine.sha256}`);
    expect(human.stderr).not.toContain('['); // no progress bar when stderr is not a terminal
    const list = await cli('engines', 'list');
    expect(list.stdout).toMatch(
      new RegExp(
        `${engineId}\\s+\\d+\\s+facenet-nx.plan\\s+jetson-xavier-nx\\s+tensorrt/plan\\s+8\\.5\\.2`,
      ),
    );
  });

  it('shows the simulated devices online, and the crashing one degraded', async () => {
    await waitFor(
      async () => {
        const list = JSON.parse((await cli('devices', 'list', '--json')).stdout) as {
          id: string;
          state: string;
        }[];
        const state = (n: number) => list.find((d) => d.id === id(n))?.state;
        return state(1) === 'online' && state(5) === 'online' && state(4) === 'degraded';
      },
      20_000,
      'online and degraded devices',
    );
    const s = await cli('status');
    expect(s.stdout).toMatch(/devices:\s+5 enrolled: 4 online, 1 degraded/);
  });

  it('runs a rollout to simulated devices and watches it to completion (exit 0)', async () => {
    const created = await cli(
      'rollouts',
      'create',
      '--engine',
      engineId,
      '--devices',
      `${id(1)},${id(2)},${id(3)}`,
      '--canary',
      '0.3',
      // long enough that `watch`, a process of its own started after this, sees the canary stage
      // on a loaded machine too
      '--hold',
      '5',
      '--gate-hold',
      '1',
      '--id',
      'ro-good',
    );
    expect(created.code).toBe(EXIT.ok);
    expect(created.stdout).toContain('created rollout ro-good: engine');
    expect(created.stdout).toContain('to 3 devices (1 canary');
    const w = await runCliProcess(
      ['rollouts', 'watch', 'ro-good', '--interval', '0.2'],
      env,
      60_000,
    );
    expect(w.stderr).toBe('');
    expect(w.code).toBe(EXIT.ok);
    expect(w.stdout).toContain('rollout ro-good: canary');
    expect(w.stdout).toMatch(new RegExp(`canary ${id(1)} applied`));
    expect(w.stdout).toMatch(new RegExp(`rest\\s+${id(3)} applied`));
    expect(w.stdout).toMatch(/rollout ro-good completed$/);
    const d = JSON.parse((await cli('devices', 'show', id(2), '--json')).stdout) as {
      reported: { engine: { id: string }; update: { state: string } };
    };
    expect(d.reported.engine.id).toBe(engineId);
    expect(d.reported.update.state).toBe('applied');
  });

  it('a rollout whose canary fails the health gate halts, and watch exits 5', async () => {
    const w = await runCliProcess(
      [
        'rollouts',
        'create',
        '--engine',
        engineId,
        '--tag',
        'fail-gate',
        '--hold',
        '1',
        '--gate-hold',
        '1',
        '--id',
        'ro-bad',
        '--watch',
        '--json',
      ],
      env,
      60_000,
    );
    expect(w.code).toBe(EXIT.halted);
    const lines = w.stdout.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ rollout: 'ro-bad', state: 'halted' }));
    // the canary failed its health gate on the device and was reverted
    expect(lines).toContainEqual(
      expect.objectContaining({
        deviceId: id(5),
        target: 'reverted',
        reason: expect.stringMatching(
          /^health gate: inference [\d.]+ FPS over [\d.]+ s is below 0\.9 ×/,
        ),
      }),
    );
    expect(w.stderr).toMatch(/rollout ro-bad halted/);
    expect(w.stderr).toContain('hint:');
    const d = JSON.parse((await cli('devices', 'show', id(5), '--json')).stdout) as {
      reported: { update: { state: string; reason: string } };
    };
    expect(d.reported.update.state).toBe('rolled_back');
    expect(d.reported.update.reason).toMatch(/FPS over [\d.]+ s is below 0\.9/);
  });

  it('tails an alert that a simulated device triggers, with credentials made for the run', async () => {
    const tail = startCli(['alerts', 'tail', '--json', '--count', '1'], env);
    await tail.waitForLine(/^listening on mqtt:\/\//);
    expect(tail.stderr.join('\n')).toMatch(/read-only MQTT credentials subscriber@cli-[0-9a-f]+/);
    const res = await cp.api('POST', '/api/v1/alert-rules', {
      id: 'crowd-at-1',
      kind: 'faces_above',
      threshold: 10,
      selector: { deviceIds: [id(1)] },
    });
    expect(res.status).toBe(201);
    expect((await tail.exited).code).toBe(EXIT.ok);
    const alert = JSON.parse(tail.stdout[0]!) as Record<string, unknown>;
    expect(alert).toMatchObject({
      ruleId: 'crowd-at-1',
      deviceId: id(1),
      kind: 'faces_above',
      state: 'firing',
    });
    expect(alert.value).toBeGreaterThanOrEqual(10);
  });

  it('tails face counts of one device', async () => {
    const r = await runCliProcess(['faces', 'tail', '--device', id(2), '--count', '2'], env);
    expect(r.code).toBe(EXIT.ok);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines)
      expect(l).toMatch(
        new RegExp(`${id(2)}  faces \\d+ \\(min \\d+, max \\d+, mean [\\d.]+\\) over \\d+ frames`),
      );
  });

  it('shows the FPS table beside the model card', async () => {
    const r = await cli('fps', '--json');
    const data = JSON.parse(r.stdout) as {
      classes: {
        deviceClass: string;
        referenceFps: number;
        devices: { deviceId: string; ratio: number }[];
      }[];
      summary: { deviceClass: string; devices: number; ratio: number }[];
    };
    const nx = data.classes.find((c) => c.deviceClass === 'jetson-xavier-nx');
    expect(nx?.referenceFps).toBe(329);
    const normal = nx?.devices.find((d) => d.deviceId === id(1));
    expect(normal?.ratio).toBeGreaterThan(0.85);
    expect(normal?.ratio).toBeLessThan(1.1);
    const table = await cli('fps');
    expect(table.stdout).toMatch(/^DEVICE\s+CLASS\s+FPS p50/);
    expect(table.stdout).toMatch(/jetson-xavier-nx\s+\d+\s+[\d.]+\s+3\d\d\.\d/);
  });

  it('stops on SIGTERM, reports offline and cleans its devices up', async () => {
    expect(await sim.stop()).toBe(EXIT.ok);
    expect(sim.stderr.join('\n')).toContain('deleted 5 simulated devices');
    const list = JSON.parse((await cli('devices', 'list', '--json')).stdout) as { id: string }[];
    expect(list.filter((d) => d.id.startsWith('e2e-'))).toEqual([]);
    expect(() => statSync(dataDir)).toThrow();
  });
});

describe('tails reconnect on their own', () => {
  it('faces tail keeps printing after the control plane (and its broker) restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ff-cli-restart-'));
    const ports = { httpPort: await freePort(), mqttPort: await freePort() };
    let server = await startControlPlane({ dataDir, ...ports });
    const e = { HOME: mkdtempSync(join(tmpdir(), 'ff-cli-home-')) };
    const login = ['--server', server.url, '--token', server.adminToken];
    const res = await server.api('POST', '/api/v1/subscribers', { name: 'restart-test' });
    const creds = (await res.json()) as { username: string; password: string };
    const sim = startCli(
      [
        'simulate',
        '--devices',
        '1',
        '--classes',
        'nano',
        '--prefix',
        'rs',
        '--data-dir',
        join(dataDir, 'sim'),
        ...login,
      ],
      e,
    );
    const tail = startCli(
      [
        'faces',
        'tail',
        '--mqtt',
        server.mqttUrl,
        '--mqtt-user',
        creds.username,
        '--mqtt-password',
        creds.password,
      ],
      e,
    );
    try {
      await tail.waitForLine(/rs-nano-0001 {2}faces \d+/, 30_000);
      await server.stop();
      await tail.waitForLine(/lost the broker at mqtt:\/\/127\.0\.0\.1:\d+; reconnecting/);
      const before = tail.stdout.length;
      server = await startControlPlane({ dataDir, ...ports });
      await tail.waitForLine(/^reconnected$/, 30_000);
      await waitFor(() => tail.stdout.length > before + 1, 30_000, 'faces after the restart');
      expect(tail.stdout.at(-1)).toMatch(/rs-nano-0001 {2}faces \d+/);
    } finally {
      const code = await tail.stop();
      expect(code, `faces tail stderr:\n${tail.stderr.join('\n')}`).toBe(EXIT.ok);
      await sim.stop();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
