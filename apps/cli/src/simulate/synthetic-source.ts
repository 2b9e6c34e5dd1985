import { EventEmitter } from 'node:events';
import type { DetectionSource, RunnerExit, RunnerSupervisorEvents } from '@facefleet/agent';
import type {
  EngineRef,
  RunnerCamera,
  RunnerFrame,
  RunnerHello,
  RunnerStats,
} from '@facefleet/protocol';

/**
 * One clock for every simulated device: a single interval that asks each running source for the
 * frames due since the last tick, so 1,000 devices cost one timer, not 1,000.
 */
export interface FrameClock {
  /** The clock's time, ms (frames are timed by it). */
  now(): number;
  add(tick: (now: number) => void): void;
  remove(tick: (now: number) => void): void;
  stop(): void;
}

export function createFrameClock(tickMs = 100): FrameClock {
  const ticks = new Set<(now: number) => void>();
  let timer: NodeJS.Timeout | undefined;
  return {
    now: () => Date.now(),
    add(tick) {
      ticks.add(tick);
      timer ??= setInterval(() => {
        const now = Date.now();
        for (const t of ticks) t(now);
      }, tickMs);
    },
    remove(tick) {
      ticks.delete(tick);
      if (ticks.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    },
    stop() {
      ticks.clear();
      clearInterval(timer);
      timer = undefined;
    },
  };
}

/** How one simulated device's detector behaves. */
export interface SyntheticProfile {
  /** Inference-only frames per second of the engine (the model card's figure, jittered). */
  inferFps: number;
  /** Frames per second the camera delivers; end-to-end FPS is the lower of this and inferFps. */
  cameraFps: number;
  /** Mean faces in view per frame. */
  facesRate: number;
  /** The runner crashes a moment after every start (→ crash loop → degraded). */
  crash: boolean;
  /** Any engine other than the first one runs at a third of the speed (→ health gate fails). */
  failGate: boolean;
  /**
   * Clocks cut to `factor` of full speed (inference only): from the start, or only under an engine
   * other than the first one (a device an update made slow: the FPS gate must catch it).
   */
  throttle: { factor: number; from: 'start' | 'update' } | null;
  width: number;
  height: number;
  /**
   * The device's cameras (default: one, "0"), each delivering `cameraFps`; one inference serves
   * them all, so each processes at most `inferFps` / the cameras online.
   */
  cameras?: string[];
  /**
   * A camera that goes offline on a schedule: in every `everyMs` since the runner started, the
   * last `forMs` (the runner reports it reconnecting, as a dead RTSP camera, then online again).
   */
  outage?: { camera: string; everyMs: number; forMs: number } | null;
}

export interface SyntheticSourceOptions {
  profile: SyntheticProfile;
  clock: FrameClock;
  engine: () => EngineRef;
  /** The agent's supervisor settings: the same backoff and crash-loop rule as the real runner's. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  crashLoopExits: number;
  crashLoopWindowS: number;
  /** [0, 1) source (tests pin it). */
  random?: () => number;
  /** Fake pids are drawn from here so that each start has a new one. */
  nextPid: () => number;
  /** Seconds between `stats` lines, as the runner's `--stats-interval`. */
  statsIntervalS: number;
}

/** A standard normal draw (Box-Muller). */
function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A Poisson draw (Knuth's method; fine for the small means face counts have). */
function poisson(mean: number, random: () => number): number {
  if (mean <= 0) return 0;
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(random)));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k += 1;
    p *= random();
  }
  return k;
}

/** The reason a simulated outage gives (as the runner says a stream stopped delivering). */
export const OUTAGE_REASON = 'simulated outage: no frame for 5 s';

/** How long a crashing runner lives before it dies, ms. */
const CRASH_AFTER_MS = 300;
/** Time from spawn to the runner's hello (model load), ms. */
const HELLO_AFTER_MS = 150;

/**
 * A detection source that behaves like the supervised runner without a process: `hello` after a
 * short model load, frames at the device's rate with per-frame inference times jittered around its
 * class's figure (lognormal, σ = 4 %) and face counts drawn from a Poisson process, and — for
 * crashing devices — an exit with the runner's runtime error code, restarted with the same backoff
 * and crash-loop rule the real supervisor applies. Frames come from the shared clock.
 */
export function createSyntheticSource(options: SyntheticSourceOptions): DetectionSource {
  const { profile, clock } = options;
  const random = options.random ?? Math.random;
  const emitter = new EventEmitter<RunnerSupervisorEvents>();
  type State = ReturnType<DetectionSource['snapshot']>['state'];
  let state: State = 'stopped';
  let pid: number | null = null;
  let wanted = false;
  let restarts = 0;
  let crashLoop = false;
  let failures = 0;
  let exitTimes: number[] = [];
  let lastExit: RunnerExit | null = null;
  let startedAt = 0;
  const cameras = profile.cameras && profile.cameras.length > 0 ? profile.cameras : ['0'];
  const outage = profile.outage ?? null;
  /** Per camera: next frame index, frames due, whether it is online, stats window counts. */
  const cams = cameras.map((id) => ({
    id,
    index: 0,
    due: 0,
    online: true,
    frames: 0,
    captured: 0,
    reconnects: 0,
  }));
  /** The clock's time at the start: the outage schedule counts from it. */
  let scheduleStart = 0;
  let lastTick = 0;
  let firstEngineId: string | null = null;
  let slow = 1;
  let throttled = false;
  let timers: NodeJS.Timeout[] = [];
  // the current stats window, as the runner counts it (per camera: `cams`)
  let windowStart = 0;
  let windowFrames = 0;
  let windowInferMs: number[] = [];

  const snapshot = () => ({ state, pid, restarts, crashLoop, invalidLines: 0, lastExit });
  const setState = (s: State) => {
    state = s;
    emitter.emit('state', snapshot());
  };
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers = timers.filter((x) => x !== t);
      fn();
    }, ms);
    timers.push(t);
  };
  const clearTimers = () => {
    for (const t of timers) clearTimeout(t);
    timers = [];
  };

  /** The scheduled outage: is its camera down at `now`? */
  const outageDown = (now: number) =>
    outage !== null && (now - scheduleStart) % outage.everyMs >= outage.everyMs - outage.forMs;

  function cameraLine(c: (typeof cams)[number], now: number) {
    const line: RunnerCamera = c.online
      ? { type: 'camera', ts: now, id: c.id, state: 'online' }
      : { type: 'camera', ts: now, id: c.id, state: 'reconnecting', error: OUTAGE_REASON };
    emitter.emit('camera', line);
  }

  /** A stats line as the runner prints it: the window's figures, per camera and per batch. */
  function stats(now: number): RunnerStats {
    const windowS = Math.max(0, (now - windowStart) / 1000);
    const inferS = windowInferMs.reduce((a, b) => a + b, 0) / 1000;
    const sorted = [...windowInferMs].sort((a, b) => a - b);
    const at = (p: number) => round(sorted[Math.round((p / 100) * (sorted.length - 1))] ?? 0);
    const perS = (n: number) => (windowS > 0 ? round(n / windowS) : 0);
    const inferFps = inferS > 0 ? round(windowFrames / inferS) : 0;
    const dropped = (c: (typeof cams)[number]) => Math.max(0, Math.round(c.captured - c.frames));
    const batches = Math.ceil(windowFrames / cams.length);
    const line: RunnerStats = {
      type: 'stats',
      ts: now,
      frames: windowFrames,
      fps: perS(windowFrames),
      inferFps,
      latencyMs: { p50: at(50), p95: at(95), p99: at(99) },
      dropped: cams.reduce((n, c) => n + dropped(c), 0),
      windowS: round(windowS),
      cameras: cams.map((c) => ({
        id: c.id,
        state: c.online ? ('online' as const) : ('reconnecting' as const),
        frames: c.frames,
        processedFps: perS(c.frames),
        cameraFps: perS(c.captured),
        skipped: 0,
        dropped: dropped(c),
        reconnects: c.reconnects,
        ...(c.online ? {} : { error: OUTAGE_REASON }),
      })),
      batch: {
        batches,
        meanSize: windowFrames > 0 ? round(windowFrames / batches) : 0,
        inferFps,
        batchFps: inferS > 0 ? round(batches / inferS) : 0,
      },
    };
    for (const c of cams) Object.assign(c, { frames: 0, captured: 0, reconnects: 0 });
    windowStart = now;
    windowFrames = 0;
    windowInferMs = [];
    return line;
  }

  function tick(now: number) {
    const dt = Math.max(0, now - lastTick);
    lastTick = now;
    for (const c of cams) {
      const online = !(outage && c.id === outage.camera && outageDown(now));
      if (online === c.online) continue;
      c.online = online;
      if (online) c.reconnects += 1;
      cameraLine(c, now);
    }
    // a failing engine is slower at inference and stalls the pipeline by the same factor; one
    // inference serves every camera online
    const inferFps = (profile.inferFps * (throttled ? (profile.throttle?.factor ?? 1) : 1)) / slow;
    const live = cams.filter((c) => c.online);
    const perCamera =
      Math.min(profile.cameraFps, (inferFps * slow) / Math.max(1, live.length)) / slow;
    for (const c of live) {
      c.captured += profile.cameraFps * (dt / 1000);
      c.due += perCamera * (dt / 1000);
      const n = Math.floor(c.due);
      c.due -= n;
      for (let i = 0; i < n; i++) {
        const infer = (1000 / inferFps) * Math.exp(0.04 * gaussian(random));
        windowInferMs.push(infer);
        windowFrames += 1;
        c.frames += 1;
        const pre = 1.2 + 0.2 * random();
        const post = 0.25 + 0.1 * random();
        const frame: RunnerFrame = {
          type: 'frame',
          camera: c.id,
          index: c.index++,
          ts: now,
          width: profile.width,
          height: profile.height,
          faces: Math.min(10_000, poisson(profile.facesRate, random)),
          boxes: [],
          ms: {
            capture: 0.4,
            pre: round(pre),
            infer: round(infer),
            post: round(post),
            total: round(0.4 + pre + infer + post),
          },
        };
        if (state !== 'running') setState('running');
        emitter.emit('frame', frame);
      }
    }
    if (now - windowStart >= options.statsIntervalS * 1000) emitter.emit('stats', stats(now));
  }

  function spawnRunner() {
    const engine = options.engine();
    firstEngineId ??= engine.id;
    slow = profile.failGate && engine.id !== firstEngineId ? 3 : 1;
    throttled =
      profile.throttle !== null &&
      (profile.throttle.from === 'start' || engine.id !== firstEngineId);
    pid = options.nextPid();
    startedAt = Date.now();
    scheduleStart = clock.now();
    for (const c of cams)
      Object.assign(c, { index: 0, due: 0, online: true, frames: 0, captured: 0, reconnects: 0 });
    setState('starting');
    emitter.emit('spawn', pid);
    later(HELLO_AFTER_MS, () => {
      const hello: RunnerHello = {
        type: 'hello',
        v: 1,
        runner: 'facefleet-runner (simulated)',
        backend: engine.backend,
        model: engine.model,
        modelPath: `/var/lib/facefleet/engines/${engine.id}`,
        modelSha256: engine.sha256,
        input: { width: 736, height: 416 },
        source: `simulated camera ${cameras[0]}`,
        sourceKind: 'stream',
        cluster: 'nms',
        cameras: cameras.map((id) => ({
          id,
          source: `simulated camera ${id}`,
          sourceKind: 'stream',
        })),
        batch: { size: cameras.length, timeoutMs: 40 },
        pid: pid ?? 1,
        ts: Date.now(),
      };
      emitter.emit('hello', hello);
      lastTick = clock.now();
      windowStart = lastTick;
      windowFrames = 0;
      windowInferMs = [];
      for (const c of cams) {
        c.online = !(outage && c.id === outage.camera && outageDown(lastTick));
        cameraLine(c, lastTick);
      }
      clock.add(tick);
      if (profile.crash) later(CRASH_AFTER_MS, crashed);
    });
  }

  function exited(exit: RunnerExit) {
    clock.remove(tick);
    clearTimers();
    pid = null;
    lastExit = exit;
    emitter.emit('exit', exit);
  }

  function crashed() {
    exited({
      code: 5,
      signal: null,
      requested: false,
      error: {
        type: 'error',
        ts: Date.now(),
        code: 'runtime',
        message: 'simulated crash: CUDA error 700 (an illegal memory access was encountered)',
      },
      uptimeMs: Date.now() - startedAt,
    });
    if (!wanted) return setState('stopped');
    restarts += 1;
    failures += 1;
    const now = Date.now();
    exitTimes = [...exitTimes.filter((t) => now - t < options.crashLoopWindowS * 1000), now];
    if (exitTimes.length >= options.crashLoopExits) crashLoop = true;
    const base = Math.min(options.backoffMaxMs, options.backoffInitialMs * 2 ** (failures - 1));
    setState(crashLoop ? 'crashloop' : 'restarting');
    later(Math.round(base / 2 + (random() * base) / 2), spawnRunner);
  }

  function stopRunner() {
    if (pid === null) {
      clearTimers();
      return;
    }
    // the runner's last stats line on SIGTERM: the window so far
    if (windowStart > 0 && state === 'running') emitter.emit('stats', stats(clock.now()));
    exited({
      code: 0,
      signal: 'SIGTERM',
      requested: true,
      error: null,
      uptimeMs: Date.now() - startedAt,
    });
  }

  return Object.assign(emitter, {
    start() {
      if (wanted) return;
      wanted = true;
      spawnRunner();
    },
    async stop() {
      wanted = false;
      stopRunner();
      setState('stopped');
    },
    async restart(_reason: string) {
      wanted = true;
      stopRunner();
      failures = 0;
      exitTimes = [];
      crashLoop = false;
      restarts += 1;
      spawnRunner();
    },
    snapshot,
  }) as DetectionSource;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
