/**
 * `pnpm bench agent`: the agent's CPU share and RSS while it consumes runner output at 500 frames/s
 * (an AGX Xavier's FaceNet pace; model card: 537 FPS inference-only). Targets: ≤ 5 % of one core,
 * ≤ 60 MB RSS.
 *
 * Real parts: the shipped agent (dist/facefleet-agent.js, with the Node flags of its first line) as
 * its own process, a Mosquitto broker on a loopback port, a subscriber counting the faces windows.
 * The runner's output is recorded from the real runner on the sample video and replayed at 500
 * frames/s, one write per line as the runner writes them (replay-runner.js), because the CPU
 * runner here runs at ~60 frames/s. The agent is measured from /proc/<pid>/stat and status; the
 * replay process is not counted. Baseline: the same agent at 25 frames/s (a paced camera).
 * BENCH_NODE_ARGS replaces the bundle's Node flags (to compare others).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptNodeFlags } from '../node-flags.js';
import { AGENT_BUNDLE, startAgent } from '../test-support/agent-process.js';
import { createBroker } from '../test-support/mosquitto.js';
import { blazefaceModel, runnerArgs, runnerBin, SAMPLE_VIDEO } from '../test-support/runner.js';
import { subscribe } from '../test-support/subscriber.js';
import { waitFor } from '../test-support/wait.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const warmupS = Number(process.env.BENCH_WARMUP_S ?? 3);
const measureS = Number(process.env.BENCH_MEASURE_S ?? 15);
/** The flags the bin, the systemd unit and the demo run the agent with: the bundle's first line. */
const nodeArgs = process.env.BENCH_NODE_ARGS ?? scriptNodeFlags(AGENT_BUNDLE).join(' ');

function cpuTicks(pid: number): number {
  // fields after the "(comm)": state is field 3; utime and stime are fields 14 and 15
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Real runner output: the real runner on the sample video, 300 frames. */
function record(dir: string): string {
  const r = spawnSync(
    runnerBin(),
    runnerArgs(blazefaceModel(), ['--max-frames', '300', '--stats-interval', '1']),
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (r.status !== 0) throw new Error(`runner exited ${r.status}: ${r.stderr}`);
  const file = join(dir, 'runner-output.jsonl');
  writeFileSync(file, r.stdout);
  return file;
}

async function measure(fps: number, recording: string, brokerUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), `ff-bench-${fps}-`));
  const replay = join(here, 'replay-runner.js');
  chmodSync(replay, 0o755);
  const deviceId = `bench-${fps}`;
  const sub = await subscribe(brokerUrl, `facefleet/v1/devices/${deviceId}/faces`);
  const agent = startAgent({
    deviceId,
    token: 't',
    brokerUrl,
    controlPlaneUrl: 'http://127.0.0.1:9',
    dataDir: dir,
    publicKey: generateKeyPairSync('ed25519').publicKey,
    runnerBin: replay,
    model: blazefaceModel(),
    source: SAMPLE_VIDEO,
    nodeArgs,
    env: {
      FACEFLEET_REPLAY_FILE: recording,
      FACEFLEET_REPLAY_FPS: String(fps),
      FACEFLEET_LOG_LEVEL: 'info',
      FACEFLEET_PUBLISH_FACES_WINDOW_S: '1',
      FACEFLEET_PUBLISH_METRICS_INTERVAL_S: '10',
    },
  });
  const pid = agent.child.pid ?? 0;
  await waitFor(() => sub.received.length >= 1, { timeoutMs: 20_000, what: 'first faces window' });
  const t0 = Date.now();
  await waitFor(() => Date.now() - t0 >= warmupS * 1000, {
    timeoutMs: warmupS * 1000 + 1000,
    what: 'warm-up',
  });
  const startTicks = cpuTicks(pid);
  const startAt = Date.now();
  const startWindows = sub.received.length;
  let maxRss = rssMb(pid);
  await waitFor(
    () => {
      maxRss = Math.max(maxRss, rssMb(pid));
      return Date.now() - startAt >= measureS * 1000;
    },
    { timeoutMs: measureS * 1000 + 2000, intervalMs: 250, what: 'measurement' },
  );
  const cpuS = (cpuTicks(pid) - startTicks) / CLK_TCK;
  const wallS = (Date.now() - startAt) / 1000;
  // frames the agent counted per second over the windows it published in the measurement, by the
  // windows' own start and end (a window cut by the measurement's edges would skew a wall-clock rate)
  const windows = sub.received.slice(startWindows);
  const frames = windows.reduce((n, w) => n + (w.payload.frames as number), 0);
  const spanS =
    windows.length > 0
      ? ((windows.at(-1)?.payload.end as number) - (windows[0]?.payload.start as number)) / 1000
      : 0;
  const { code } = await agent.stop();
  await sub.close();
  return {
    cpuPct: (cpuS / wallS) * 100,
    rssMb: maxRss,
    consumedFps: spanS > 0 ? frames / spanS : 0,
    exit: code,
  };
}

const broker = await createBroker();
try {
  const recording = record(mkdtempSync(join(tmpdir(), 'ff-bench-rec-')));
  const slow = await measure(25, recording, broker.url);
  const fast = await measure(500, recording, broker.url);
  console.log(`500 frames/s: ${JSON.stringify(fast)}`);
  console.log(`25 frames/s:  ${JSON.stringify(slow)}`);
  const result = {
    bench: 'agent',
    notes: `Node flags: ${nodeArgs || '(none)'}. Agent process only (replay runner not counted), ${measureS} s after ${warmupS} s warm-up; faces window 1 s, metrics 10 s, real Mosquitto on loopback. Runner output recorded from the real runner (BlazeFace on Megamind.avi) and replayed at the given rate, one write per line.`,
    figures: [
      {
        name: 'agent CPU at 500 frames/s',
        value: fast.cpuPct,
        unit: '% of one core',
        baseline: { name: '25 frames/s', value: slow.cpuPct },
        target: { op: '<=', value: 5 },
      },
      {
        name: 'agent RSS at 500 frames/s (max)',
        value: fast.rssMb,
        unit: 'MB',
        baseline: { name: '25 frames/s', value: slow.rssMb },
        target: { op: '<=', value: 60 },
      },
      {
        name: 'frames consumed',
        value: fast.consumedFps,
        unit: 'frames/s',
        baseline: { name: '25 frames/s', value: slow.consumedFps },
        target: { op: '>=', value: 495 },
      },
    ],
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
} finally {
  await broker.stop();
}
