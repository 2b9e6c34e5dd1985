import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseJsonPayload,
  RUNNER_EXIT_CODES,
  type RunnerLine,
  runnerLineSchema,
} from '@facefleet/protocol';
import {
  blazefaceModel,
  facenetShapedModel,
  megamind,
  messi,
  requireBuilt,
  runnerBin,
  waitFor,
} from '@facefleet/test-support';
import { describe, expect, it } from 'vitest';

/** Runs the real runner binary; every stdout line must satisfy the protocol's runner-line schema. */
function run(args: string[]): { lines: RunnerLine[]; status: number | null } {
  const r = spawnSync(runnerBin, args, { encoding: 'utf8', timeout: 60_000 });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => parseJsonPayload(runnerLineSchema, l, 'runner line'));
  return { lines, status: r.status };
}

describe('runner output against the protocol schema', () => {
  requireBuilt(runnerBin, blazefaceModel, facenetShapedModel);

  it('BlazeFace on a video: hello, one frame line per frame, stats, exit 0', () => {
    const { lines, status } = run([
      '--decoder',
      'blazeface',
      '--model',
      blazefaceModel,
      '--source',
      megamind,
      '--max-frames',
      '12',
      '--stats-interval',
      '1',
    ]);
    expect(status).toBe(0);
    const hello = lines[0];
    expect(hello?.type).toBe('hello');
    if (hello?.type === 'hello') {
      expect(hello.model).toBe('blazeface');
      expect(hello.sourceKind).toBe('file');
      expect(hello.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    }
    const frames = lines.filter((l) => l.type === 'frame');
    expect(frames.map((f) => f.index)).toEqual([...Array(12).keys()]);
    expect(frames.filter((f) => f.faces > 0).length).toBeGreaterThanOrEqual(10);
    for (const f of frames) expect(f.boxes.length).toBe(Math.min(f.faces, 256));
    expect(lines.at(-1)?.type).toBe('stats');
  });

  it('the FaceNet-shaped DetectNet_v2 model on an image: boxes lie inside the source frame', () => {
    const { lines, status } = run([
      '--decoder',
      'detectnet_v2',
      '--model',
      facenetShapedModel,
      '--source',
      messi,
      '--cluster',
      'dbscan',
    ]);
    expect(status).toBe(0);
    const frame = lines.find((l) => l.type === 'frame');
    expect(frame).toBeDefined();
    if (frame?.type === 'frame') {
      for (const b of frame.boxes) {
        expect(b.x).toBeGreaterThanOrEqual(0);
        expect(b.y).toBeGreaterThanOrEqual(0);
        expect(b.x + b.w).toBeLessThanOrEqual(frame.width + 0.01);
        expect(b.y + b.h).toBeLessThanOrEqual(frame.height + 0.01);
      }
    }
  });

  it('several cameras: every line valid, frames and stats name their cameras', () => {
    const { lines, status } = run([
      '--decoder',
      'blazeface',
      '--model',
      blazefaceModel,
      '--source',
      `lobby=${messi}`,
      '--source',
      `door=${megamind}`,
      '--source',
      'gone=/nonexistent/door.avi',
      '--max-frames',
      '6',
    ]);
    expect(status).toBe(0);
    const hello = lines[0];
    expect(hello?.type === 'hello' && hello.cameras?.map((c) => c.id)).toEqual([
      'lobby',
      'door',
      'gone',
    ]);
    const frames = lines.filter((l) => l.type === 'frame');
    expect(frames).toHaveLength(6);
    expect(new Set(frames.map((f) => f.camera))).toEqual(new Set(['lobby', 'door']));
    const stats = lines.at(-1);
    expect(stats?.type).toBe('stats');
    if (stats?.type === 'stats') {
      const byId = new Map(stats.cameras?.map((c) => [c.id, c]));
      expect(byId.get('gone')?.state).toBe('failed');
      expect(byId.get('gone')?.error).toContain('/nonexistent/door.avi');
      expect(byId.get('lobby')?.state).toBe('ended');
      expect(stats.batch?.batches).toBeGreaterThan(0);
    }
    // every camera's first state is printed at once, before any frame
    const firstFrame = lines.findIndex((l) => l.type === 'frame');
    const early = lines.slice(0, firstFrame).filter((l) => l.type === 'camera');
    expect(new Map(early.map((l) => (l.type === 'camera' ? [l.id, l.state] : ['', ''])))).toEqual(
      new Map([
        ['lobby', 'online'],
        ['door', 'online'],
        ['gone', 'failed'],
      ]),
    );
  });

  it.each([
    ['a missing model', ['--model', '/nonexistent/model.onnx', '--source', messi], 'model_load'],
    [
      'a missing source',
      ['--decoder', 'blazeface', '--model', blazefaceModel, '--source', '/nonexistent.avi'],
      'source',
    ],
    [
      'a bad flag value',
      ['--model', blazefaceModel, '--source', messi, '--nms-iou-threshold', 'high'],
      'bad_args',
    ],
  ] as const)('%s: one valid error line and its exit code', (_what, args, code) => {
    const { lines, status } = run([...args]);
    const errors = lines.filter((l) => l.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.type === 'error' && errors[0].code).toBe(code);
    expect(status).toBe(RUNNER_EXIT_CODES[code]);
  });
});

describe('runner lifetime', () => {
  requireBuilt(runnerBin, blazefaceModel);

  /** Running, not a zombie waiting to be reaped. */
  const alive = (pid: number): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  it('stops by itself when the process that started it is killed with -9', async () => {
    // A shell stands in for the agent: it starts the runner on a looping video and is SIGKILLed.
    // The runner's stdout goes to a file, so the test kills the shell only once the runner has
    // printed its hello line: the parent-death signal is armed first thing in main(), and a parent
    // killed before the runner even reached main() (a loaded machine) could not be noticed.
    const dir = mkdtempSync(join(tmpdir(), 'ff-runner-orphan-'));
    const out = join(dir, 'stdout.jsonl');
    const parent = spawn(
      'sh',
      [
        '-c',
        `"$0" --decoder blazeface --model "$1" --source "$2" --loop --pace --max-fps 2 >"$3" & echo $!; wait`,
        runnerBin,
        blazefaceModel,
        megamind,
        out,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const pid = await new Promise<number>((resolve) =>
        parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
      );
      await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').includes('"type":"hello"'), {
        timeoutMs: 30_000,
        what: 'the runner to start',
      });
      expect(alive(pid)).toBe(true);
      parent.kill('SIGKILL');
      await waitFor(() => !alive(pid), { timeoutMs: 15_000, what: 'the orphaned runner to stop' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
