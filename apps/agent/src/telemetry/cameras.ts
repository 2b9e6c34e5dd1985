import {
  type CameraMetrics,
  type CameraState,
  type CameraStatus,
  cameraOf,
  cameraStateOfRunner,
  type RunnerCamera,
  type RunnerFrame,
  type RunnerStats,
} from '@facefleet/protocol';
import { createFacesAggregator, type FacesAggregator, type FacesWindow } from './faces-window.js';

interface Camera {
  id: string;
  faces: FacesAggregator;
  state: CameraState;
  reason: string | null;
  since: number;
  /** Frames processed since the last metrics take. */
  frames: number;
  dropped: number;
  skipped: number;
  reconnects: number;
  /** The runner's source FPS, weighted by its stats windows since the last take. */
  sourceFrames: number;
  sourceSeconds: number;
  lastCameraFps: number;
}

export interface CameraTelemetryOptions {
  /** The configured cameras, in order (the runner's hello replaces them with its own list). */
  ids: readonly string[];
  boxes: boolean;
  now: number;
}

export interface CameraTelemetry {
  /** A new runner said hello with these cameras (none listed: an older runner, camera "0"). */
  hello(ids: readonly string[], now: number): void;
  frame(f: RunnerFrame): void;
  stats(s: RunnerStats): void;
  camera(line: RunnerCamera): void;
  /** The runner is not running (exited, restarting): every camera is offline for `reason`. */
  runnerDown(reason: string, now: number): void;
  /** The runner was started: every camera is reconnecting until it says otherwise. */
  runnerStarting(now: number): void;
  /** Each camera's window since the previous take (cameras without a frame have none). */
  takeFaces(now: number): { camera: string; window: FacesWindow }[];
  /** Each camera's figures since the previous take, and the batch figures of the runner. */
  takeMetrics(now: number): {
    cameras: CameraMetrics[];
    batch: { batches: number; meanSize: number } | null;
  };
  /** Every camera and its state, for the device status (empty before a config-file runner's hello). */
  states(): CameraStatus[];
  /** Changes whenever a camera appears, goes or changes state (what makes a new status). */
  key(): string;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * What the agent knows of each camera: its face windows, its figures over a metrics interval and
 * its state. States come from the runner's camera lines (at once); a runner older than those lines
 * is read from its stats lines, and one older than cameras from its frames.
 */
export function createCameraTelemetry(options: CameraTelemetryOptions): CameraTelemetry {
  const cameras = new Map<string, Camera>();
  let metricsStart = options.now;
  let batches = 0;
  let batchFrames = 0;
  /** Whether the running runner prints camera lines (then they alone set states). */
  let cameraLines = false;

  function add(id: string, now: number): Camera {
    let c = cameras.get(id);
    if (!c) {
      c = {
        id,
        faces: createFacesAggregator({ boxes: options.boxes, now }),
        state: 'reconnecting',
        reason: 'runner starting',
        since: now,
        frames: 0,
        dropped: 0,
        skipped: 0,
        reconnects: 0,
        sourceFrames: 0,
        sourceSeconds: 0,
        lastCameraFps: 0,
      };
      cameras.set(id, c);
    }
    return c;
  }
  function setState(c: Camera, state: CameraState, reason: string | null, at: number): void {
    if (c.state === state && c.reason === reason) return;
    if (c.state !== state) c.since = at;
    c.state = state;
    c.reason = reason;
  }
  for (const id of options.ids) add(id, options.now);

  return {
    hello(ids, now) {
      const list = ids.length > 0 ? ids : ['0'];
      for (const id of [...cameras.keys()]) if (!list.includes(id)) cameras.delete(id);
      // in the runner's order
      const known = new Map(cameras);
      cameras.clear();
      for (const id of list) {
        const c = known.get(id);
        if (c) cameras.set(id, c);
        else add(id, now);
      }
    },
    frame(f) {
      const c = cameras.get(cameraOf(f)) ?? add(cameraOf(f), f.ts);
      c.faces.add(f);
      c.frames += 1;
      if (!cameraLines && c.state !== 'online') setState(c, 'online', null, f.ts);
    },
    stats(s) {
      if (s.batch) {
        batches += s.batch.batches;
        batchFrames += s.batch.meanSize * s.batch.batches;
      }
      for (const sc of s.cameras ?? []) {
        const c = cameras.get(sc.id) ?? add(sc.id, s.ts);
        c.dropped += sc.dropped;
        c.skipped += sc.skipped;
        c.reconnects += sc.reconnects;
        c.sourceFrames += sc.cameraFps * s.windowS;
        c.sourceSeconds += s.windowS;
        if (!cameraLines) {
          const next = cameraStateOfRunner(sc.state, sc.error);
          setState(c, next.state, next.reason, s.ts);
        }
      }
    },
    camera(line) {
      cameraLines = true;
      const c = cameras.get(line.id) ?? add(line.id, line.ts);
      const next = cameraStateOfRunner(line.state, line.error);
      setState(c, next.state, next.reason, line.ts);
    },
    runnerDown(reason, now) {
      cameraLines = false;
      for (const c of cameras.values()) setState(c, 'offline', reason.slice(0, 256), now);
    },
    runnerStarting(now) {
      cameraLines = false;
      for (const c of cameras.values()) setState(c, 'reconnecting', 'runner starting', now);
    },
    takeFaces(now) {
      const out: { camera: string; window: FacesWindow }[] = [];
      for (const c of cameras.values()) {
        const window = c.faces.take(now);
        if (window) out.push({ camera: c.id, window });
      }
      return out;
    },
    takeMetrics(now) {
      const elapsedS = Math.max(0.001, (now - metricsStart) / 1000);
      metricsStart = now;
      const list: CameraMetrics[] = [];
      for (const c of cameras.values()) {
        if (c.sourceSeconds > 0) c.lastCameraFps = round(c.sourceFrames / c.sourceSeconds);
        list.push({
          id: c.id,
          state: c.state,
          fps: round(c.frames / elapsedS),
          cameraFps: c.lastCameraFps,
          frames: c.frames,
          dropped: c.dropped,
          skipped: c.skipped,
          reconnects: c.reconnects,
        });
        c.frames = 0;
        c.dropped = 0;
        c.skipped = 0;
        c.reconnects = 0;
        c.sourceFrames = 0;
        c.sourceSeconds = 0;
      }
      const batch = batches > 0 ? { batches, meanSize: round(batchFrames / batches) } : null;
      batches = 0;
      batchFrames = 0;
      return { cameras: list, batch };
    },
    states() {
      return [...cameras.values()].map((c) => ({
        id: c.id,
        state: c.state,
        reason: c.reason,
        since: c.since,
      }));
    },
    key() {
      let k = '';
      for (const c of cameras.values()) k += `${c.id}=${c.state}|${c.reason ?? ''};`;
      return k;
    },
  };
}
