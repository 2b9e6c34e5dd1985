import type { Alert } from './alert.js';
import type { Desired } from './desired.js';
import type { Faces, Metrics, Reported, Status } from './messages.js';
import type {
  RunnerCamera,
  RunnerError,
  RunnerFrame,
  RunnerHello,
  RunnerStats,
} from './runner-output.js';

/**
 * One real-shaped example of every payload. The docs (docs/protocol.md) print these, and the tests
 * check that every schema accepts its example, so the documentation cannot drift from the contract.
 */
const ts = 1_764_270_000_000;
const sha = 'a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00';

export const examples = {
  status: {
    v: 1,
    deviceId: 'cam-7',
    seq: 1041,
    ts,
    state: 'online',
    deviceClass: 'jetson-xavier-nx',
    agent: { version: '0.1.0', startedAt: ts - 3_600_000 },
    runner: { state: 'running', restarts: 0, pid: 2211 },
    engine: { id: 'facenet-nx-int8-7', sha256: sha, backend: 'tensorrt', model: 'detectnet_v2' },
    reason: null,
    cameras: [
      { id: '0', state: 'online', reason: null, since: ts - 3_590_000 },
      { id: 'lobby', state: 'online', reason: null, since: ts - 3_590_000 },
      {
        id: 'yard',
        state: 'reconnecting',
        reason: 'rtsp://10.0.4.12/stream1: no frame for 5 s',
        since: ts - 12_000,
      },
    ],
  } satisfies Status,
  faces: {
    v: 1,
    deviceId: 'cam-7',
    seq: 1042,
    ts: ts + 1000,
    start: ts,
    end: ts + 1000,
    frames: 30,
    last: 2,
    min: 1,
    max: 3,
    mean: 2.1,
    boxes: [
      { x: 412.5, y: 188, w: 64, h: 80, conf: 0.91 },
      { x: 120, y: 201.25, w: 48, h: 60, conf: 0.77 },
    ],
  } satisfies Faces,
  /** The same window's neighbour from another camera of the device. */
  facesCamera: {
    v: 1,
    deviceId: 'cam-7',
    camera: 'lobby',
    seq: 1043,
    ts: ts + 1000,
    start: ts,
    end: ts + 1000,
    frames: 25,
    last: 0,
    min: 0,
    max: 1,
    mean: 0.2,
  } satisfies Faces,
  metrics: {
    v: 1,
    deviceId: 'cam-7',
    seq: 1043,
    ts: ts + 10_000,
    intervalS: 10,
    runner: {
      fps: 29.9,
      inferFps: 310.4,
      latencyMs: { p50: 3.1, p95: 3.6, p99: 4.2 },
      frames: 299,
      dropped: 0,
      restarts: 0,
      invalidLines: 0,
      cameras: [
        {
          id: '0',
          state: 'online',
          fps: 10,
          cameraFps: 30,
          frames: 100,
          dropped: 0,
          skipped: 200,
          reconnects: 0,
        },
        {
          id: 'lobby',
          state: 'online',
          fps: 9.9,
          cameraFps: 25,
          frames: 99,
          dropped: 0,
          skipped: 151,
          reconnects: 0,
        },
        {
          id: 'yard',
          state: 'reconnecting',
          fps: 10,
          cameraFps: 10,
          frames: 100,
          dropped: 0,
          skipped: 0,
          reconnects: 1,
        },
      ],
      batch: { batches: 110, meanSize: 2.72 },
    },
    device: {
      deviceClass: 'jetson-xavier-nx',
      model: 'NVIDIA Jetson Xavier NX Developer Kit',
      l4t: 'R35.4.1',
      jetpack: '5.1.2',
      powerMode: 'MODE_15W_6CORE',
      cpuPct: [12, 9, 31, 7, 4, 6],
      ramMb: { used: 2810, total: 7765 },
      gpuPct: 61,
      gpuFreqMhz: 1109,
      emcPct: 22,
      tempsC: { CPU: 47.5, GPU: 46, AO: 44.5 },
      powerMw: { VDD_IN: 6420, VDD_CPU_GPU_CV: 2210, VDD_SOC: 1410 },
    },
    outbox: { pending: 0, dropped: 0 },
  } satisfies Metrics,
  desired: {
    v: 1,
    deviceId: 'cam-7',
    rev: 12,
    ts,
    engine: {
      id: 'facenet-nx-int8-8',
      name: 'facenet pruned int8 (JetPack 5.1.2)',
      sha256: sha,
      size: 6_291_456,
      version: 8,
      url: '/api/v1/engines/facenet-nx-int8-8/blob',
      signature:
        'k3Jb0pD5l3aR0r3y0V9n0Gq8w6m1yQ2u7c8s4x5z6a7b8c9d0e1f2g3h4i5j6k7l8m9n0o1p2q3r4s5t6u7v8w9xQ==',
      deviceClass: 'jetson-xavier-nx',
      trtVersion: '8.5.2',
      backend: 'tensorrt',
      model: 'detectnet_v2',
      format: 'plan',
      calibration: null,
    },
    rolloutId: 'ro-2026-11-27-a',
    healthGate: { holdS: 60, minFpsRatio: 0.9, apTolerance: 1 },
  } satisfies Desired,
  reported: {
    v: 1,
    deviceId: 'cam-7',
    seq: 1044,
    ts: ts + 75_000,
    rev: 12,
    engine: { id: 'facenet-nx-int8-8', sha256: sha, backend: 'tensorrt', model: 'detectnet_v2' },
    previousEngine: {
      id: 'facenet-nx-int8-7',
      sha256: sha,
      backend: 'tensorrt',
      model: 'detectnet_v2',
    },
    update: {
      state: 'applied',
      engineId: 'facenet-nx-int8-8',
      rolloutId: 'ro-2026-11-27-a',
      progress: 1,
      reason: null,
      gate: {
        engineId: 'facenet-nx-int8-8',
        fps: {
          engine: { inferFps: 331.2, fps: 15, cameraFps: 15, windowS: 60 },
          previous: { inferFps: 328.4, fps: 15, cameraFps: 15, windowS: 60 },
          minRatio: 0.9,
        },
        accuracy: {
          engine: { engineId: 'facenet-nx-int8-8', ap: 83.6, evalS: 4.1 },
          previous: { engineId: 'facenet-nx-int8-7', ap: 83.9, evalS: 4.3 },
          toleranceAp: 1,
          apMode: 'voc2010',
          iou: 0.5,
          images: 200,
          groundTruths: 612,
        },
      },
    },
    engineBench: {
      engineId: 'facenet-nx-int8-8',
      inferFps: 331.2,
      latencyMs: { p50: 3.01, p95: 3.12, p99: 3.3 },
      trtVersion: '8.5.2',
    },
    outboxDropped: 0,
  } satisfies Reported,
  alert: {
    v: 1,
    alertId: 'al-381',
    ruleId: 'lobby-crowd',
    deviceId: 'cam-7',
    kind: 'faces_above',
    state: 'firing',
    severity: 'warning',
    message: 'cam-7 saw 12 faces (rule lobby-crowd: more than 10)',
    value: 12,
    threshold: 10,
    ts: ts + 2000,
  } satisfies Alert,
  cameraAlert: {
    v: 1,
    alertId: 'al-382',
    ruleId: 'camera-down',
    deviceId: 'cam-7',
    camera: 'yard',
    kind: 'camera_offline',
    state: 'firing',
    severity: 'critical',
    message:
      'cam-7 camera yard was reconnecting or offline for more than 30 s (42) [rule camera-down]: rtsp://10.0.4.12/stream1: no frame for 5 s',
    value: 42,
    threshold: 30,
    ts: ts + 42_000,
  } satisfies Alert,
  runnerHello: {
    type: 'hello',
    v: 1,
    runner: '0.1.0',
    backend: 'opencv',
    model: 'blazeface',
    modelPath: '/var/lib/facefleet/engines/current/model.onnx',
    modelSha256: sha,
    input: { width: 256, height: 256 },
    source: '/usr/share/doc/opencv-doc/examples/data/Megamind.avi',
    sourceKind: 'file',
    cluster: 'nms',
    cameras: [
      {
        id: '0',
        source: '/usr/share/doc/opencv-doc/examples/data/Megamind.avi',
        sourceKind: 'file',
      },
    ],
    batch: { size: 1, timeoutMs: 40 },
    pid: 2211,
    ts,
  } satisfies RunnerHello,
  /**
   * The same on an AGX Xavier: a trtexec engine built for DLA core 1 (`--useDLACore=1`) with a batch
   * profile up to 2, serving two cameras.
   */
  runnerHelloDla: {
    type: 'hello',
    v: 1,
    runner: '0.1.0',
    backend: 'tensorrt',
    model: 'detectnet_v2',
    modelPath: '/var/lib/facefleet/engines/current/facenet_dla1_int8.engine',
    modelSha256: sha,
    input: { width: 736, height: 416 },
    source: '/dev/video0',
    sourceKind: 'camera',
    cluster: 'nms',
    cameras: [
      { id: 'door', source: '/dev/video0', sourceKind: 'camera' },
      { id: 'lobby', source: 'rtsp://10.0.0.7/stream1', sourceKind: 'stream' },
    ],
    batch: { size: 2, timeoutMs: 40 },
    dlaCore: 1,
    pid: 2211,
    ts,
  } satisfies RunnerHello,
  runnerFrame: {
    type: 'frame',
    camera: '0',
    index: 0,
    ts: ts + 40,
    width: 720,
    height: 528,
    faces: 1,
    boxes: [{ x: 221.4, y: 96.2, w: 36, h: 36.5, conf: 0.87 }],
    ms: { capture: 1.2, pre: 0.8, infer: 12.3, post: 0.05, total: 14.5 },
  } satisfies RunnerFrame,
  runnerStats: {
    type: 'stats',
    ts: ts + 5000,
    frames: 150,
    fps: 29.9,
    inferFps: 80.1,
    latencyMs: { p50: 12.1, p95: 14, p99: 15.2 },
    dropped: 0,
    windowS: 5,
    cameras: [
      {
        id: '0',
        state: 'online',
        frames: 150,
        processedFps: 29.9,
        cameraFps: 29.9,
        skipped: 0,
        dropped: 0,
        reconnects: 0,
      },
    ],
    batch: { batches: 150, meanSize: 1, inferFps: 80.1, batchFps: 80.1 },
  } satisfies RunnerStats,
  runnerCamera: {
    type: 'camera',
    ts: ts + 30_000,
    id: 'yard',
    state: 'reconnecting',
    error: 'rtsp://10.0.4.12/stream1: no frame for 5 s',
  } satisfies RunnerCamera,
  runnerError: {
    type: 'error',
    ts,
    code: 'model_load',
    message: 'cannot load model /var/lib/facefleet/engines/current/model.onnx: file not found',
  } satisfies RunnerError,
} as const;

/**
 * Messages shaped like the examples, for one device and sequence number, stamped a second apart
 * from when this module loaded (so they fall in "the last hour" of the API's series). For tests of
 * every package.
 */
const T0 = Date.now();

export function facesMessage(deviceId: string, seq: number, over: Partial<Faces> = {}): Faces {
  const ts = over.ts ?? T0 + seq * 1000;
  const { boxes: _boxes, ...base } = examples.faces;
  return { ...base, deviceId, seq, ts, start: ts - 1000, end: ts, ...over };
}

export function metricsMessage(
  deviceId: string,
  seq: number,
  over: Partial<Metrics['runner'] & object> = {},
  device: Partial<Metrics['device']> = {},
): Metrics {
  const { cameras: _cameras, batch: _batch, ...runner } = examples.metrics.runner;
  return {
    ...examples.metrics,
    deviceId,
    seq,
    ts: T0 + seq * 1000,
    runner: { ...runner, ...over },
    device: { ...examples.metrics.device, cpuPct: [...examples.metrics.device.cpuPct], ...device },
  };
}

export function statusMessage(
  deviceId: string,
  seq: number,
  state: Status['state'] = 'online',
  cameras?: Status['cameras'],
): Status {
  const { cameras: _cameras, ...base } = examples.status;
  return { ...base, deviceId, seq, ts: T0 + seq * 1000, state, ...(cameras ? { cameras } : {}) };
}

export function reportedMessage(
  deviceId: string,
  seq: number,
  over: Partial<Reported> = {},
): Reported {
  return { ...examples.reported, deviceId, seq, ts: T0 + seq * 1000, engineBench: null, ...over };
}
