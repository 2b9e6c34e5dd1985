import {
  bigint,
  boolean,
  doublePrecision,
  index,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * The control plane's tables on PostgreSQL: the same tables, columns and JS types as ./sqlite.ts
 * (rows.ts checks that at compile time). Integers are bigint (read as JS numbers: every value is
 * below 2^53), reals double precision.
 *
 * The control plane's tables. Timestamps are integer milliseconds since the epoch; JSON columns hold
 * text validated by the protocol schemas before it was written.
 */

export const devices = pgTable('devices', {
  id: text('id').primaryKey(),
  deviceClass: text('device_class').notNull(),
  /** JSON array of strings. */
  tags: text('tags').notNull().default('[]'),
  /** scrypt hash of the device's MQTT / download token. */
  tokenHash: text('token_hash').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  /** Server time of the last message from the device. */
  lastSeen: bigint('last_seen', { mode: 'number' }),
  /** online / offline / degraded, from the device's retained status. */
  state: text('state'),
  statusJson: text('status_json'),
  engineId: text('engine_id'),
  engineSha256: text('engine_sha256'),
  powerMode: text('power_mode'),
  reportedJson: text('reported_json'),
  /** Revision of the last desired state published for the device. */
  desiredRev: bigint('desired_rev', { mode: 'number' }).notNull().default(0),
  desiredJson: text('desired_json'),
  /**
   * The device's seq counter as stored: first and last seq, and how many distinct seqs are
   * stored (of every kind). With the unfired wills (willExcuses) they give the gaps: messages the
   * device sent that never arrived. Kept by the ingest writer; retention does not change them.
   */
  seqFirst: bigint('seq_first', { mode: 'number' }),
  seqLast: bigint('seq_last', { mode: 'number' }),
  seqStored: bigint('seq_stored', { mode: 'number' }).notNull().default(0),
});

export const faceWindows = pgTable(
  'face_windows',
  {
    deviceId: text('device_id').notNull(),
    /** The camera of the window ("0": a device's only camera, or a message without one). */
    camera: text('camera').notNull().default('0'),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    ts: bigint('ts', { mode: 'number' }).notNull(),
    start: bigint('start', { mode: 'number' }).notNull(),
    end: bigint('end', { mode: 'number' }).notNull(),
    frames: bigint('frames', { mode: 'number' }).notNull(),
    last: bigint('last', { mode: 'number' }).notNull(),
    min: bigint('min', { mode: 'number' }).notNull(),
    max: bigint('max', { mode: 'number' }).notNull(),
    mean: doublePrecision('mean').notNull(),
    boxes: text('boxes'),
    receivedAt: bigint('received_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    uniqueIndex('face_windows_device_seq').on(t.deviceId, t.seq),
    index('face_windows_device_start').on(t.deviceId, t.start),
    index('face_windows_device_camera_start').on(t.deviceId, t.camera, t.start),
  ],
);

export const metrics = pgTable(
  'metrics',
  {
    deviceId: text('device_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    ts: bigint('ts', { mode: 'number' }).notNull(),
    intervalS: doublePrecision('interval_s').notNull(),
    fps: doublePrecision('fps'),
    inferFps: doublePrecision('infer_fps'),
    latencyP50: doublePrecision('latency_p50'),
    latencyP95: doublePrecision('latency_p95'),
    latencyP99: doublePrecision('latency_p99'),
    frames: bigint('frames', { mode: 'number' }),
    dropped: bigint('dropped', { mode: 'number' }),
    gpuPct: doublePrecision('gpu_pct'),
    ramUsedMb: doublePrecision('ram_used_mb'),
    tempMaxC: doublePrecision('temp_max_c'),
    temps: text('temps').notNull(),
    powerMode: text('power_mode'),
    deviceClass: text('device_class').notNull(),
    receivedAt: bigint('received_at', { mode: 'number' }).notNull(),
    /** Frames per inference call of a runner that batches its cameras; null from older agents. */
    batchMeanSize: doublePrecision('batch_mean_size'),
  },
  (t) => [
    uniqueIndex('metrics_device_seq').on(t.deviceId, t.seq),
    index('metrics_device_ts').on(t.deviceId, t.ts),
  ],
);

/** Per camera, from each metrics message's `runner.cameras`. */
export const cameraMetrics = pgTable(
  'camera_metrics',
  {
    deviceId: text('device_id').notNull(),
    /** The seq of the metrics message. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    camera: text('camera').notNull(),
    ts: bigint('ts', { mode: 'number' }).notNull(),
    /** online, reconnecting or offline at the end of the interval. */
    state: text('state').notNull(),
    fps: doublePrecision('fps').notNull(),
    cameraFps: doublePrecision('camera_fps').notNull(),
    frames: bigint('frames', { mode: 'number' }).notNull(),
    dropped: bigint('dropped', { mode: 'number' }).notNull(),
    skipped: bigint('skipped', { mode: 'number' }).notNull(),
    reconnects: bigint('reconnects', { mode: 'number' }).notNull(),
  },
  (t) => [
    uniqueIndex('camera_metrics_device_seq_camera').on(t.deviceId, t.seq, t.camera),
    index('camera_metrics_device_camera_ts').on(t.deviceId, t.camera, t.ts),
  ],
);

export const reportedHistory = pgTable(
  'reported_history',
  {
    deviceId: text('device_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    ts: bigint('ts', { mode: 'number' }).notNull(),
    rev: bigint('rev', { mode: 'number' }).notNull(),
    updateState: text('update_state').notNull(),
    engineId: text('engine_id'),
    rolloutId: text('rollout_id'),
    reason: text('reason'),
    json: text('json').notNull(),
  },
  (t) => [uniqueIndex('reported_device_seq').on(t.deviceId, t.seq)],
);

export const statusHistory = pgTable(
  'status_history',
  {
    deviceId: text('device_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    ts: bigint('ts', { mode: 'number' }).notNull(),
    state: text('state').notNull(),
    reason: text('reason'),
  },
  (t) => [uniqueIndex('status_device_seq').on(t.deviceId, t.seq)],
);

/** Per-engine, per-device trtexec figures from `reported.engineBench`. */
export const engineBenchmarks = pgTable(
  'engine_benchmarks',
  {
    engineId: text('engine_id').notNull(),
    deviceId: text('device_id').notNull(),
    inferFps: doublePrecision('infer_fps').notNull(),
    latencyP50: doublePrecision('latency_p50').notNull(),
    latencyP95: doublePrecision('latency_p95').notNull(),
    latencyP99: doublePrecision('latency_p99').notNull(),
    trtVersion: text('trt_version'),
    ts: bigint('ts', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.engineId, t.deviceId] })],
);

/**
 * Per-engine, per-device accuracy-gate figures from `reported.update.gate.accuracy`: the engine's AP
 * on the device's golden set beside the AP of the engine it was to replace (points, 0–100).
 */
export const engineAccuracy = pgTable(
  'engine_accuracy',
  {
    engineId: text('engine_id').notNull(),
    deviceId: text('device_id').notNull(),
    ap: doublePrecision('ap').notNull(),
    previousEngineId: text('previous_engine_id'),
    previousAp: doublePrecision('previous_ap'),
    toleranceAp: doublePrecision('tolerance_ap').notNull(),
    apMode: text('ap_mode').notNull(),
    iou: doublePrecision('iou').notNull(),
    images: bigint('images', { mode: 'number' }).notNull(),
    evalS: doublePrecision('eval_s').notNull(),
    previousEvalS: doublePrecision('previous_eval_s'),
    ts: bigint('ts', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.engineId, t.deviceId] })],
);

export const engines = pgTable('engines', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  model: text('model').notNull(),
  backend: text('backend').notNull(),
  format: text('format').notNull(),
  deviceClass: text('device_class').notNull(),
  trtVersion: text('trt_version'),
  /** The DLA core a TensorRT engine is built for (Xavier, Orin); null: the GPU. */
  dlaCore: bigint('dla_core', { mode: 'number' }),
  precision: text('precision').notNull(),
  /** JSON array of input dimensions, e.g. [3,416,736]. */
  inputDims: text('input_dims').notNull(),
  sha256: text('sha256').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
  signature: text('signature').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  /**
   * Higher for a later upload (signed into the manifest): a device never installs an engine of a
   * lower version than the one it runs unless its desired state asks for a rollback.
   */
  version: bigint('version', { mode: 'number' }).notNull().default(0),
});

export const rollouts = pgTable('rollouts', {
  id: text('id').primaryKey(),
  engineId: text('engine_id').notNull(),
  /** JSON: { deviceIds?, tag?, deviceClass? } as given at creation. */
  selector: text('selector').notNull(),
  canaryShare: doublePrecision('canary_share').notNull(),
  holdS: doublePrecision('hold_s').notNull(),
  failureLimit: bigint('failure_limit', { mode: 'number' }).notNull(),
  minFpsRatio: doublePrecision('min_fps_ratio').notNull(),
  /** AP points a new engine may lose on a device's golden set (the accuracy gate). */
  apTolerance: doublePrecision('ap_tolerance').notNull().default(1),
  /** The device-side health gate: seconds the new engine must run healthy before `applied`. */
  gateHoldS: doublePrecision('gate_hold_s').notNull(),
  /** canary, rolling, paused, completed, halted, aborted */
  state: text('state').notNull(),
  /** The state to go back to on resume. */
  pausedFrom: text('paused_from'),
  /** When every canary was applied (the hold starts); null before. */
  canaryDoneAt: bigint('canary_done_at', { mode: 'number' }),
  reason: text('reason'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

export const rolloutTargets = pgTable(
  'rollout_targets',
  {
    rolloutId: text('rollout_id').notNull(),
    deviceId: text('device_id').notNull(),
    /** canary or rest */
    stage: text('stage').notNull(),
    /** pending, desired, applied, failed, reverted */
    state: text('state').notNull(),
    /** The engine the device ran before the rollout, to revert to. */
    previousEngineId: text('previous_engine_id'),
    rev: bigint('rev', { mode: 'number' }),
    reason: text('reason'),
    /** JSON: what the device's gates measured (`reported.update.gate`), from its report. */
    gateJson: text('gate_json'),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.deviceId] })],
);

export const alertRules = pgTable('alert_rules', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  /** The threshold the kind compares with (faces, seconds, ratio, °C). */
  threshold: doublePrecision('threshold').notNull(),
  /** How long the condition must hold before the alert fires, in seconds. */
  forS: doublePrecision('for_s').notNull(),
  severity: text('severity').notNull(),
  /** JSON: { deviceIds?, tag?, deviceClass? }; empty = every device. */
  selector: text('selector').notNull(),
  webhookUrl: text('webhook_url'),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id').notNull(),
    deviceId: text('device_id').notNull(),
    /** The camera of a per-camera alert; null for a device-wide one. */
    camera: text('camera'),
    kind: text('kind').notNull(),
    /** firing or resolved */
    state: text('state').notNull(),
    severity: text('severity').notNull(),
    message: text('message').notNull(),
    value: doublePrecision('value'),
    threshold: doublePrecision('threshold'),
    firedAt: bigint('fired_at', { mode: 'number' }).notNull(),
    resolvedAt: bigint('resolved_at', { mode: 'number' }),
  },
  (t) => [index('alerts_rule_device').on(t.ruleId, t.deviceId)],
);

export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** admin, operator or viewer */
  role: text('role').notNull(),
  hash: text('hash').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

export const subscriberTokens = pgTable('subscriber_tokens', {
  name: text('name').primaryKey(),
  hash: text('hash').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

/** 1-minute rollups of face windows, kept longer than the raw rows. */
export const faceRollups = pgTable(
  'face_rollups',
  {
    deviceId: text('device_id').notNull(),
    camera: text('camera').notNull().default('0'),
    minute: bigint('minute', { mode: 'number' }).notNull(),
    windows: bigint('windows', { mode: 'number' }).notNull(),
    frames: bigint('frames', { mode: 'number' }).notNull(),
    maxFaces: bigint('max_faces', { mode: 'number' }).notNull(),
    meanSum: doublePrecision('mean_sum').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.camera, t.minute] })],
);

/** 1-minute rollups of metrics. */
export const metricRollups = pgTable(
  'metric_rollups',
  {
    deviceId: text('device_id').notNull(),
    minute: bigint('minute', { mode: 'number' }).notNull(),
    samples: bigint('samples', { mode: 'number' }).notNull(),
    fpsSum: doublePrecision('fps_sum').notNull(),
    fpsMin: doublePrecision('fps_min'),
    inferFpsSum: doublePrecision('infer_fps_sum').notNull(),
    latencyP95Max: doublePrecision('latency_p95_max'),
    tempMaxC: doublePrecision('temp_max_c'),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.minute] })],
);

/** 1-minute rollups of camera metrics. */
export const cameraMetricRollups = pgTable(
  'camera_metric_rollups',
  {
    deviceId: text('device_id').notNull(),
    camera: text('camera').notNull(),
    minute: bigint('minute', { mode: 'number' }).notNull(),
    samples: bigint('samples', { mode: 'number' }).notNull(),
    fpsSum: doublePrecision('fps_sum').notNull(),
    fpsMin: doublePrecision('fps_min'),
    cameraFpsSum: doublePrecision('camera_fps_sum').notNull(),
    frames: bigint('frames', { mode: 'number' }).notNull(),
    dropped: bigint('dropped', { mode: 'number' }).notNull(),
    skipped: bigint('skipped', { mode: 'number' }).notNull(),
    reconnects: bigint('reconnects', { mode: 'number' }).notNull(),
    /** Samples in which the camera was not online. */
    offlineSamples: bigint('offline_samples', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.camera, t.minute] })],
);

/**
 * Who does a piece of singleton work (rollout executor, alert evaluation, retention, broker
 * reconcile) until when: one instance holds a lease and renews it; when it stops renewing, another
 * takes it after `expires_at`.
 */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  /** Database time (ms) after which another instance may take it. */
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
});

/**
 * Seqs a device reserved for MQTT wills that have not fired (the device said so in a status): not
 * gaps. A will that fires later is stored and its row here removed.
 */
export const willExcuses = pgTable(
  'will_excuses',
  {
    deviceId: text('device_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.seq] })],
);

/**
 * Device certificates enrolled for MQTT logins over TLS: a client certificate signed by the fleet
 * CA logs its device in only while it is enrolled here and not revoked.
 */
export const deviceCertificates = pgTable(
  'device_certificates',
  {
    /** sha256 of the certificate's DER, lowercase hex. */
    fingerprint: text('fingerprint').primaryKey(),
    deviceId: text('device_id').notNull(),
    serial: text('serial').notNull(),
    notBefore: bigint('not_before', { mode: 'number' }).notNull(),
    notAfter: bigint('not_after', { mode: 'number' }).notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** When it was revoked; null while it may log in. */
    revokedAt: bigint('revoked_at', { mode: 'number' }),
  },
  (t) => [index('device_certificates_device').on(t.deviceId)],
);

/** Dashboard sessions signed out before they expired (kept until then, so their cookie is refused). */
export const revokedSessions = pgTable('revoked_sessions', {
  id: text('id').primaryKey(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
});
