import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { blazefaceModel, runnerArgs, runnerBin } from '../test-support/runner.js';
import { waitFor } from '../test-support/wait.js';
import { createRunnerSupervisor, type RunnerExit, type RunnerSupervisor } from './supervisor.js';

const log = pino({ level: 'silent' });
const running: RunnerSupervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

function supervise(
  command: string,
  args: string[],
  overrides: Partial<Parameters<typeof createRunnerSupervisor>[0]> = {},
) {
  const s = createRunnerSupervisor({
    command,
    args: () => args,
    log,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    crashLoopExits: 3,
    crashLoopWindowS: 30,
    watchdogS: 0,
    stopGraceMs: 2000,
    random: () => 0.5,
    ...overrides,
  });
  running.push(s);
  return s;
}

describe('runner supervisor with the real runner', () => {
  it('validates hello and frame lines from the real runner on a real video; SIGTERM stops it', async () => {
    const s = supervise(
      runnerBin(),
      runnerArgs(blazefaceModel(), ['--loop', '--stats-interval', '0.5']),
    );
    const frames: number[] = [];
    let hello = 0;
    let stats = 0;
    s.on('hello', () => hello++);
    s.on('frame', (f) => frames.push(f.faces));
    s.on('stats', () => stats++);
    const exits: RunnerExit[] = [];
    s.on('exit', (e) => exits.push(e));
    s.start();
    await waitFor(() => frames.length >= 20 && stats >= 1, {
      timeoutMs: 15_000,
      what: '20 frames and a stats line',
    });
    expect(hello).toBe(1);
    expect(s.snapshot().state).toBe('running');
    expect(s.snapshot().invalidLines).toBe(0);
    expect(frames.some((n) => n > 0)).toBe(true); // Megamind has faces
    await s.stop();
    expect(exits).toHaveLength(1);
    expect(exits[0]?.requested).toBe(true);
    // the runner exits 0 on SIGTERM (its documented contract)
    expect(exits[0]?.code).toBe(0);
    expect(s.snapshot()).toMatchObject({ state: 'stopped', pid: null, restarts: 0 });
  });

  it('a runner pointed at a missing model exits 3 every time: a real crash loop', async () => {
    const s = supervise(runnerBin(), runnerArgs('/nonexistent/model.onnx'));
    const exits: RunnerExit[] = [];
    s.on('exit', (e) => exits.push(e));
    s.start();
    await waitFor(() => s.snapshot().crashLoop, {
      timeoutMs: 15_000,
      what: 'crash loop detection',
    });
    expect(exits.length).toBeGreaterThanOrEqual(3);
    expect(exits.every((e) => e.code === 3 && e.error?.code === 'model_load')).toBe(true);
    expect(s.snapshot().state).toBe('crashloop');
    expect(s.snapshot().restarts).toBeGreaterThanOrEqual(3);
  });

  it('restart() picks up new arguments and forgets the crash loop', async () => {
    let model = '/nonexistent/model.onnx';
    const s = createRunnerSupervisor({
      command: runnerBin(),
      args: () => runnerArgs(model, ['--loop']),
      log,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
      crashLoopExits: 2,
      crashLoopWindowS: 30,
      watchdogS: 0,
      stopGraceMs: 2000,
    });
    running.push(s);
    s.start();
    await waitFor(() => s.snapshot().crashLoop, { timeoutMs: 15_000, what: 'crash loop' });
    model = blazefaceModel();
    let frames = 0;
    s.on('frame', () => frames++);
    await s.restart('new engine');
    expect(s.snapshot().crashLoop).toBe(false);
    await waitFor(() => frames >= 5, { timeoutMs: 15_000, what: 'frames after restart' });
    expect(s.snapshot().state).toBe('running');
  });
});

describe('runner supervisor with other commands', () => {
  it('counts and logs invalid lines without crashing, forwards stderr, backs off on exit', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const captured = pino(
      { level: 'info' },
      {
        write(line: string) {
          const o = JSON.parse(line) as { level: number; msg: string; stderr?: string };
          if (o.level === 40) warnings.push(o.msg);
          if (o.stderr) infos.push(o.stderr);
        },
      },
    );
    const script = [
      'echo "not json"',
      'echo \'{"type":"frame","index":-1}\'',
      'echo oops >&2',
      'exit 7',
    ].join('; ');
    const s = supervise('/bin/sh', ['-c', script], { log: captured, crashLoopExits: 100 });
    const reasons: string[] = [];
    s.on('invalid', (_text, reason) => reasons.push(reason));
    const exits: RunnerExit[] = [];
    s.on('exit', (e) => exits.push(e));
    s.start();
    await waitFor(() => exits.length >= 3, { what: 'three exits' });
    expect(s.snapshot().invalidLines).toBeGreaterThanOrEqual(6);
    expect(reasons[0]).toMatch(/^not JSON/);
    expect(reasons[1]).toMatch(/index/);
    expect(infos).toContain('oops');
    expect(exits[0]?.code).toBe(7);
    expect(warnings).toContain('invalid runner line');
    expect(warnings).toContain('runner exited; restarting');
  });

  it('exponential backoff with jitter: delays double up to the maximum', async () => {
    const delays: number[] = [];
    const captured = pino(
      { level: 'warn' },
      {
        write(line: string) {
          const o = JSON.parse(line) as { msg: string; delayMs?: number };
          if (o.msg === 'runner exited; restarting' && o.delayMs !== undefined)
            delays.push(o.delayMs);
        },
      },
    );
    let r = 0.999;
    const s = supervise('/bin/sh', ['-c', 'exit 1'], {
      log: captured,
      backoffInitialMs: 40,
      backoffMaxMs: 160,
      crashLoopExits: 100,
      random: () => r,
    });
    const starts: number[] = [];
    s.on('spawn', () => starts.push(Date.now()));
    s.start();
    await waitFor(() => delays.length >= 4, { what: 'four restarts' });
    // "equal jitter": base/2 + random × base/2, base doubling from 40 ms, capped at 160 ms
    expect(delays.slice(0, 4)).toEqual([40, 80, 160, 160]);
    r = 0;
    await waitFor(() => delays.length >= 5, { what: 'a fifth restart' });
    expect(delays[4]).toBe(80); // jitter at 0: half the capped base
    // and the restarts really waited at least that long
    await waitFor(() => starts.length >= 5, { what: 'five starts' });
    expect((starts[4] ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(40 + 80 + 160 + 160 - 10);
  });

  it('the watchdog restarts a runner that stops producing frames', async () => {
    // prints nothing and never exits, like a hung camera pipeline
    const s = supervise('/bin/sh', ['-c', 'exec sleep 60'], { watchdogS: 0.3, stopGraceMs: 500 });
    const exits: RunnerExit[] = [];
    s.on('exit', (e) => exits.push(e));
    s.start();
    await waitFor(() => exits.length >= 1, { timeoutMs: 5000, what: 'watchdog restart' });
    expect(exits[0]?.signal).toBe('SIGTERM');
    expect(exits[0]?.requested).toBe(false);
    await waitFor(() => s.snapshot().pid !== null, { what: 'the next runner' });
  });

  it('leaves a runner running that reopens its lost live camera itself, and passes its camera lines on', async () => {
    // The runner's only camera cannot be opened: it retries in place (it used to exit 4) and says
    // so in camera and stats lines; no frame comes, yet the watchdog must not restart it.
    const s = supervise(
      runnerBin(),
      runnerArgs(
        blazefaceModel(),
        ['--stats-interval', '0.2', '--reconnect-max-s', '0.2'],
        'door=/dev/video99',
      ),
      { watchdogS: 1.5 },
    );
    const exits: RunnerExit[] = [];
    const cameras: string[] = [];
    let stats = 0;
    s.on('exit', (e) => exits.push(e));
    s.on('camera', (c) => cameras.push(`${c.id}:${c.state}`));
    s.on('stats', () => stats++);
    s.start();
    // 25 stats lines at 0.2 s: more than three watchdog periods without a frame
    await waitFor(() => stats >= 25, { timeoutMs: 30_000, what: '25 stats lines' });
    expect(exits).toEqual([]);
    expect(s.snapshot().restarts).toBe(0);
    expect(cameras[0]).toMatch(/^door:(connecting|reconnecting)$/);
    expect(cameras.every((c) => c !== 'door:online')).toBe(true);
  });

  it('SIGKILL after the grace when the runner ignores SIGTERM', async () => {
    const s = supervise(
      '/bin/sh',
      ['-c', 'trap "" TERM; echo ready; while true; do sleep 0.05; done'],
      {
        stopGraceMs: 300,
      },
    );
    const ready = new Promise((r) => s.once('invalid', r)); // "ready" is not a runner line
    s.start();
    await ready; // the trap is set
    const exits: RunnerExit[] = [];
    s.on('exit', (e) => exits.push(e));
    const t0 = Date.now();
    await s.stop();
    expect(exits[0]?.signal).toBe('SIGKILL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });
});
