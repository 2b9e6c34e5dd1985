#!/usr/bin/env node
// `pnpm bench runner`: runs `facefleet-runner bench` on BlazeFace (the CPU demo model) and on the
// generated DetectNet_v2-shaped FaceNet model, over Megamind.avi, and reports post-processing cost
// and the end-to-end / inference-only FPS ratio next to their targets (issue: ≤ 10 µs decode+NMS,
// ≤ 50 µs decode+DBSCAN — under 2% of the 587 µs a T4 spends per frame at 1703 FPS; ratio ≥ 0.95).
// Then, for multi-camera devices (issue #13): inference-only throughput of the DetectNet_v2-shaped
// model at batch 1, 2, 4, 8; and four cameras in one runner (its default: min(cores, cameras)
// inference lanes at batch 1; also one lane, and one lane with a real batch of 4) against four
// one-camera runners on the same sources, at the same time, with OpenCV's threads split fairly
// between the runners (and at OpenCV's default): total frames/s, frames per CPU second and
// resident memory, in rounds with the setups in turn. And (issue #14) the CPU
// preprocessing of a 1080p frame for FaceNet against an AGX Xavier's frame budget, beside the CUDA
// kernel's time where a GPU is.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(pkg, 'build', 'facefleet-runner');
const models = join(pkg, 'models');
const video = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const iterations = process.env.FACEFLEET_BENCH_ITERATIONS ?? '300';
/** Frames per batch size for the batched inference figure, and per camera for the camera runs. */
const batchFrames = process.env.FACEFLEET_BENCH_BATCH_FRAMES ?? '48';
const cameraSeconds = Number(process.env.FACEFLEET_BENCH_CAMERA_SECONDS ?? '15');
/** Rounds of the camera setups (each setup once per round, in turn). */
const cameraRounds = Number(process.env.FACEFLEET_BENCH_CAMERA_ROUNDS ?? '3');
if (!existsSync(bin)) {
  console.error(`${bin} is missing: run bash scripts/setup.sh`);
  process.exit(1);
}

function bench(decoder, model, warmup) {
  const args = ['bench', '--decoder', decoder, '--model', join(models, model), '--source', video];
  const r = spawnSync(bin, [...args, '--iterations', iterations, '--warmup', String(warmup)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`facefleet-runner bench exited with ${r.status}`);
  const line = r.stdout.trim().split('\n').at(-1);
  console.log(line);
  return JSON.parse(line);
}

// Preprocessing a 1080p frame for FaceNet on this CPU, against an AGX Xavier's frame budget at the
// model card's 537 FPS, beside the CUDA kernel's time where a GPU is (tools/preprocess_bench.cpp).
function preprocessBench() {
  const tool = join(pkg, 'build', 'facefleet-preprocess-bench');
  const r = spawnSync(tool, ['--frames', iterations], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`facefleet-preprocess-bench exited with ${r.status}`);
  const line = r.stdout.trim().split('\n').at(-1);
  console.log(line);
  return JSON.parse(line);
}

const pre = preprocessBench();
const blaze = bench('blazeface', 'face_detection_back_256x256_barracuda.onnx', 20);
const facenet = bench('detectnet_v2', 'detectnet_v2_facenet_shaped.onnx', 10);
const facenetModel = join(models, 'detectnet_v2_facenet_shaped.onnx');

// --- inference-only throughput by batch size ------------------------------------------------------
const batched = (() => {
  const r = spawnSync(
    bin,
    [
      'bench',
      '--model',
      facenetModel,
      '--source',
      video,
      '--batch-sizes',
      '1,2,4,8',
      '--iterations',
      batchFrames,
      '--warmup',
      '8',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (r.status !== 0)
    throw new Error(`facefleet-runner bench --batch-sizes exited with ${r.status}`);
  const line = JSON.parse(r.stdout.trim().split('\n').at(-1));
  console.log(JSON.stringify({ batched: line.batched }));
  return line.batched;
})();

// --- four cameras: one runner against four -------------------------------------------------------
/** Peak resident memory (VmHWM, kB) of a live process, or 0 once it is gone. */
function peakRssKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, seconds) a live process has used so far, or 0 once it is gone. */
const clockTicks =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime, stime (fields 14, 15)
  } catch {
    return 0;
  }
}

/**
 * Starts runners at once (looping sources); once every one has printed its hello line, counts the
 * frames they print for `seconds`, then stops them with SIGTERM. Resolves with the frames and the
 * CPU seconds per runner in that window and each runner's peak resident memory (VmHWM) over the
 * whole run. Frames per CPU second compare the setups fairly on a shared machine, where four
 * processes get four shares of a busy CPU and one process one.
 */
function runTogether(argvs, seconds) {
  return new Promise((resolve, reject) => {
    let counting = false;
    let sampler;
    const procs = argvs.map((args) => {
      const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      const p = {
        child,
        frames: 0,
        perCamera: {},
        peakKb: 0,
        cpu0: 0,
        cpu: 0,
        hello: false,
        exited: false,
        buf: '',
      };
      child.stdout.on('data', (chunk) => {
        p.buf += chunk;
        for (let nl = p.buf.indexOf('\n'); nl >= 0; nl = p.buf.indexOf('\n')) {
          const line = p.buf.slice(0, nl);
          p.buf = p.buf.slice(nl + 1);
          if (line.startsWith('{"type":"frame"')) {
            if (counting) {
              p.frames += 1;
              // per camera: the one runner serves its cameras evenly, four processes do not
              const camera = /"camera":"([^"]*)"/.exec(line)?.[1] ?? '';
              p.perCamera[camera] = (p.perCamera[camera] ?? 0) + 1;
            }
          } else if (line.startsWith('{"type":"hello"')) {
            p.hello = true;
            if (procs.every((q) => q.hello)) {
              counting = true;
              for (const q of procs) q.cpu0 = cpuSeconds(q.child.pid);
              setTimeout(() => {
                counting = false;
                for (const q of procs) {
                  q.cpu = cpuSeconds(q.child.pid) - q.cpu0;
                  q.child.kill('SIGTERM');
                }
              }, seconds * 1000);
            }
          }
        }
      });
      child.on('exit', (code) => {
        p.exited = true;
        if (code !== 0) reject(new Error(`facefleet-runner ${args.join(' ')} exited with ${code}`));
        if (procs.every((q) => q.exited)) {
          clearInterval(sampler);
          resolve({ procs, seconds });
        }
      });
      return p;
    });
    sampler = setInterval(() => {
      for (const p of procs) if (!p.exited) p.peakKb = Math.max(p.peakKb, peakRssKb(p.child.pid));
    }, 50);
  });
}

const imagesDir = mkdtempSync(join(tmpdir(), 'ff-bench-images-'));
for (const f of ['messi5.jpg', 'fruits.jpg', 'baboon.jpg', 'butterfly.jpg'])
  copyFileSync(join(dirname(video), f), join(imagesDir, f));
const cameraSources = [video, join(dirname(video), 'vtest.avi'), imagesDir, video];
const common = ['--model', facenetModel, '--loop', '--stats-interval', '1000'];
const allCameras = cameraSources.flatMap((s, i) => ['--source', `cam${i}=${s}`]);
// OpenCV's threads, split fairly: the one runner gets every core, each of the four runners a
// quarter of them (at least one). OpenCV's default (= cores for every process) gives the four
// runners four times the threads of the one; that setting is measured too, and the better of the
// two four-runner setups is the baseline.
const cores = availableParallelism();
const quarter = String(Math.max(1, Math.floor(cores / 4)));
// The opencv backend's default: one inference lane per core, at most one per camera (the runner's
// RunnerConfig::lanes), given explicitly so the figure names what ran.
const lanes = Math.max(1, Math.min(cores, cameraSources.length));
// and its default threads: the cores split among the lanes (RunnerConfig::cpuThreads)
const laneThreads = lanes > 1 ? Math.max(1, Math.floor(cores / lanes)) : cores;
const setups = {
  // the opencv backend's defaults: `lanes` model instances side by side, batch 1
  oneRunner: [
    [
      ...common,
      ...allCameras,
      '--threads',
      String(laneThreads),
      '--inference-lanes',
      String(lanes),
    ],
  ],
  // one model instance, cameras in turn (the default before inference lanes)
  oneRunnerOneLane: [
    [...common, ...allCameras, '--threads', String(cores), '--inference-lanes', '1'],
  ],
  // a real batch of the four cameras: the DetectNet_v2-shaped ONNX has a dynamic batch
  oneRunnerBatch4: [
    [
      ...common,
      ...allCameras,
      '--threads',
      String(cores),
      '--inference-lanes',
      '1',
      '--batch-size',
      '4',
    ],
  ],
  fourRunners: cameraSources.map((s) => [...common, '--source', s, '--threads', quarter]),
  fourRunnersDefaultThreads: cameraSources.map((s) => [...common, '--source', s]),
};
// Rounds, the setups in turn within each: a machine whose load changes during the run moves every
// setup alike, and the median of the rounds is reported.
const runs = Object.fromEntries(Object.keys(setups).map((k) => [k, []]));
const loads = [];
for (let round = 0; round < cameraRounds; round++) {
  for (const [name, argvs] of Object.entries(setups)) {
    runs[name].push(await runTogether(argvs, cameraSeconds));
    loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
  }
}
rmSync(imagesDir, { recursive: true, force: true });
const sum = (r, f) => r.procs.reduce((n, p) => n + f(p), 0);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Per setup, the median over the rounds of: frames/s, frames per CPU second, summed peak RSS. */
const cam = Object.fromEntries(
  Object.entries(runs).map(([name, rs]) => [
    name,
    {
      fps: median(rs.map((r) => sum(r, (p) => p.frames) / r.seconds)),
      framesPerCpuS: median(rs.map((r) => sum(r, (p) => p.frames) / sum(r, (p) => p.cpu))),
      cpuShare: median(rs.map((r) => sum(r, (p) => p.cpu) / (r.seconds * cores))),
      rssMb: median(rs.map((r) => sum(r, (p) => p.peakKb) / 1024)),
      rounds: rs.map((r) => ({
        frames: r.procs.map((p) => p.frames),
        perCamera: r.procs.map((p) => p.perCamera),
        cpuS: r.procs.map((p) => Math.round(p.cpu * 100) / 100),
      })),
    },
  ]),
);
const fourBest =
  cam.fourRunners.fps >= cam.fourRunnersDefaultThreads.fps
    ? { name: `4 one-camera runners, --threads ${quarter}`, ...cam.fourRunners }
    : { name: '4 one-camera runners, OpenCV default threads', ...cam.fourRunnersDefaultThreads };
console.log(
  JSON.stringify({ cores, lanes, rounds: cameraRounds, seconds: cameraSeconds, loads, cam }),
);
const figures = [
  {
    name: 'decode+NMS, 46×26 grid, median per frame',
    value: facenet.post.decodeNmsUs,
    unit: 'µs',
    baseline: null,
    target: { op: '<=', value: 10 },
  },
  {
    name: 'decode+DBSCAN, 46×26 grid, median per frame',
    value: facenet.post.decodeDbscanUs,
    unit: 'µs',
    baseline: null,
    target: { op: '<=', value: 50 },
  },
  {
    name: 'candidates per frame (realistic coverage)',
    value: facenet.post.candidatesMean,
    unit: 'cells',
    baseline: null,
    target: null,
  },
];
figures.push(
  {
    name: `CPU preprocessing 1920×1080 → 736×416 (RGB, ×1/255, planar), mean per frame, ${pre.cpuThreads} OpenCV threads`,
    value: pre.cpu.meanMs,
    unit: 'ms',
    baseline: { name: '1 thread', value: pre.cpu1Thread.meanMs },
    target: null,
  },
  {
    name: `the same ÷ AGX Xavier frame budget at the model card's 537 FPS (${pre.budgetMs.toFixed(2)} ms)`,
    value: pre.cpuShareOfBudget,
    unit: '×',
    baseline: { name: '1 thread', value: pre.cpu1ThreadShareOfBudget },
    target: null,
  },
  {
    name: 'GPU preprocessing kernel, same frames, mean per frame (CUDA events, no copies)',
    value: pre.gpuKernel ? pre.gpuKernel.meanMs : pre.gpu,
    unit: pre.gpuKernel ? 'ms' : '',
    baseline: pre.gpuKernel ? { name: 'CPU', value: pre.cpu.meanMs } : null,
    target: null,
  },
);
for (const [label, b] of [
  ['BlazeFace 256', blaze],
  ['DetectNet_v2 736×416', facenet],
]) {
  figures.push(
    {
      name: `${label}: end-to-end FPS on Megamind.avi`,
      value: b.endToEnd.fps,
      unit: 'FPS',
      baseline: { name: 'inference-only', value: b.inferOnly.fps },
      target: null,
    },
    {
      name: `${label}: end-to-end ÷ inference-only`,
      value: b.endToEnd.fps / b.inferOnly.fps,
      unit: '',
      baseline: null,
      target: { op: '>=', value: 0.95 },
    },
    {
      name: `${label}: inference p99`,
      value: b.inferOnly.p99,
      unit: 'ms',
      baseline: { name: 'p50', value: b.inferOnly.p50 },
      target: null,
    },
  );
}
const batch1 = batched.find((b) => b.batch === 1);
for (const b of batched) {
  figures.push(
    {
      name: `DetectNet_v2 736×416: inference-only at batch ${b.batch}`,
      value: b.fps,
      unit: 'frames/s',
      baseline: b.batch === 1 || !batch1 ? null : { name: 'batch 1', value: batch1.fps },
      target: null,
    },
    {
      name: `DetectNet_v2 736×416: CPU time per frame at batch ${b.batch}`,
      value: b.cpuMsPerFrame,
      unit: 'ms',
      baseline: b.batch === 1 || !batch1 ? null : { name: 'batch 1', value: batch1.cpuMsPerFrame },
      target: null,
    },
  );
}
const camLabel = (lanesText, batch, threads = cores) =>
  `4 cameras (Megamind, vtest, images, Megamind), DetectNet_v2: one runner, ${lanesText}, --threads ${threads}, batch ${batch}`;
const defaultLanes = `${lanes} inference lane${lanes === 1 ? '' : 's'} (default)`;
figures.push(
  {
    name: `${camLabel(defaultLanes, 1, laneThreads)}, median of ${cameraRounds} rounds`,
    value: cam.oneRunner.fps,
    unit: 'frames/s',
    baseline: { name: fourBest.name, value: fourBest.fps },
    target: { op: '>=', value: fourBest.fps },
  },
  {
    name: camLabel('1 inference lane (cameras in turn)', 1),
    value: cam.oneRunnerOneLane.fps,
    unit: 'frames/s',
    baseline: { name: fourBest.name, value: fourBest.fps },
    target: { op: '>=', value: fourBest.fps },
  },
  {
    name: camLabel('1 inference lane', 4),
    value: cam.oneRunnerBatch4.fps,
    unit: 'frames/s',
    baseline: { name: fourBest.name, value: fourBest.fps },
    target: { op: '>=', value: fourBest.fps },
  },
  {
    name: `4 one-camera runners, OpenCV default threads (${cores} each)`,
    value: cam.fourRunnersDefaultThreads.fps,
    unit: 'frames/s',
    baseline: { name: `--threads ${quarter} each`, value: cam.fourRunners.fps },
    target: null,
  },
  {
    name: `the same runs: frames per CPU second, one runner, ${defaultLanes}`,
    value: cam.oneRunner.framesPerCpuS,
    unit: 'frames/CPU-s',
    baseline: { name: fourBest.name, value: fourBest.framesPerCpuS },
    target: null,
  },
  {
    name: 'frames per CPU second, one runner, 1 inference lane',
    value: cam.oneRunnerOneLane.framesPerCpuS,
    unit: 'frames/CPU-s',
    baseline: { name: fourBest.name, value: fourBest.framesPerCpuS },
    target: null,
  },
  {
    name: 'frames per CPU second, one runner, 1 lane, batch 4',
    value: cam.oneRunnerBatch4.framesPerCpuS,
    unit: 'frames/CPU-s',
    baseline: { name: fourBest.name, value: fourBest.framesPerCpuS },
    target: null,
  },
  {
    name: `share of the machine's CPU the one runner got, ${defaultLanes}`,
    value: cam.oneRunner.cpuShare,
    unit: '×',
    baseline: { name: fourBest.name, value: fourBest.cpuShare },
    target: null,
  },
  {
    name: `peak RSS, one runner, ${defaultLanes}`,
    value: cam.oneRunner.rssMb,
    unit: 'MB',
    baseline: { name: `sum of ${fourBest.name}`, value: fourBest.rssMb },
    target: { op: '<=', value: 0.4 * fourBest.rssMb },
  },
  {
    name: 'peak RSS, one runner, 1 inference lane',
    value: cam.oneRunnerOneLane.rssMb,
    unit: 'MB',
    baseline: { name: `sum of ${fourBest.name}`, value: fourBest.rssMb },
    target: { op: '<=', value: 0.4 * fourBest.rssMb },
  },
  {
    name: 'peak RSS, one runner, 1 lane, batch 4',
    value: cam.oneRunnerBatch4.rssMb,
    unit: 'MB',
    baseline: { name: `sum of ${fourBest.name}`, value: fourBest.rssMb },
    target: { op: '<=', value: 0.4 * fourBest.rssMb },
  },
  {
    name: 'load average (1 min) after each camera run, median',
    value: median(loads),
    unit: '',
    baseline: { name: 'max', value: Math.max(...loads) },
    target: null,
  },
);
console.log(
  `BENCH_RESULT ${JSON.stringify({
    bench: 'runner',
    notes: `OpenCV DNN on the CPU, ${iterations} iterations after warm-up; preprocessing on ${iterations} 1080p frames (Megamind.avi scaled up) after 10 warm-up frames; post-processing measured on synthetic 46×26 FaceNet grids with 2–6 face blobs plus noise. The DetectNet_v2 model is FaceNet-shaped but untrained: it has FaceNet's cost, not its accuracy. Batched inference: ${batchFrames} frames per batch size (the same frame repeated). Cameras: looping sources; frames/s = frames printed in ${cameraSeconds} s counted from the moment every runner had loaded (the four one-camera runners run at the same time); CPU = the runners' user + system time in that window; RSS = peak (VmHWM) over the whole run, summed over the four runners; ${cameraRounds} rounds with the setups in turn, medians; ${cores} cores, OpenCV threads: the one runner ${cores} (with ${lanes} inference lanes by default, and with 1), each of the four ${quarter} (and OpenCV's default, ${cores} each), the better four-runner setup is the baseline.`,
    figures,
  })}`,
);
