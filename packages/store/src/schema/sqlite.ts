import {
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

/**
 * The control plane's tables (SQLite: the embedded default; ./pg.ts is the same on PostgreSQL).
 * Timestamps are integer milliseconds since the epoch; JSON columns hold
 * text validated by the protocol schemas before it was written.
 */

export const devices = sqliteTable('devices', {
  id: text('id').primaryKey(),
  deviceClass: text('device_class').notNull(),
  /** JSON array of strings. */
  tags: text('tags').notNull().default('[]'),
  /** scrypt hash of the device's MQTT / download token. */
  tokenHash: text('token_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  /** Server time of the last message from the device. */
  lastSeen: integer('last_seen'),
  /** online / offline / degraded, from the device's retained status. */
  state: text('state'),
  statusJson: text('status_json'),
  engineId: text('engine_id'),
  engineSha256: text('engine_sha256'),
  powerMode: text('power_mode'),
  reportedJson: text('reported_json'),
  /** Revision of the last desired state published for the device. */
  desiredRev: integer('desired_rev').notNull().default(0),
  desiredJson: text('desired_json'),
  /**
   * The device's seq counter as stored: first and last seq, and how many distinct seqs are
   * stored (of every kind). With the unfired wills (willExcuses) they give the gaps: messages the
   * device sent that never arrived. Kept by the ingest writer; retention does not change them.
   */
  seqFirst: integer('seq_first'),
  seqLast: integer('seq_last'),
  seqStored: integer('seq_stored').notNull().default(0),
});

export const faceWindows = sqliteTable(
  'face_windows',
  {
    deviceId: text('device_id').notNull(),
    /** The camera of the window ("0": a device's only camera, or a message without one). */
    camera: text('camera').notNull().default('0'),
    seq: integer('seq').notNull(),
    ts: integer('ts').notNull(),
    start: integer('start').notNull(),
    end: integer('end').notNull(),
    frames: integer('frames').notNull(),
    last: integer('last').notNull(),
    min: integer('min').notNull(),
    max: integer('max').notNull(),
    mean: real('mean').notNull(),
    boxes: text('boxes'),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    uniqueIndex('face_windows_device_seq').on(t.deviceId, t.seq),
    index('face_windows_device_start').on(t.deviceId, t.start),
    index('face_windows_device_camera_start').on(t.deviceId, t.camera, t.start),
  ],
);

export const metrics = sqliteTable(
  'metrics',
  {
    deviceId: text('device_id').notNull(),
    seq: integer('seq').notNull(),
    ts: integer('ts').notNull(),
    intervalS: real('interval_s').notNull(),
    fps: real('fps'),
    inferFps: real('infer_fps'),
    latencyP50: real('latency_p50'),
    latencyP95: real('latency_p95'),
    latencyP99: real('latency_p99'),
    frames: integer('frames'),
    dropped: integer('dropped'),
    gpuPct: real('gpu_pct'),
    ramUsedMb: real('ram_used_mb'),
    tempMaxC: real('temp_max_c'),
    temps: text('temps').notNull(),
    powerMode: text('power_mode'),
    deviceClass: text('device_class').notNull(),
    receivedAt: integer('received_at').notNull(),
    /** Frames per inference call of a runner that batches its cameras; null from older agents. */
    batchMeanSize: real('batch_mean_size'),
  },
  (t) => [
    uniqueIndex('metrics_device_seq').on(t.deviceId, t.seq),
    index('metrics_device_ts').on(t.deviceId, t.ts),
  ],
);

/** Per camera, from each metrics message's `runner.cameras`. */
export const cameraMetrics = sqliteTable(
  'camera_metrics',
  {
    deviceId: text('device_id').notNull(),
    /** The seq of the metrics message. */
    seq: integer('seq').notNull(),
    camera: text('camera').notNull(),
    ts: integer('ts').notNull(),
    /** online, reconnecting or offline at the end of the interval. */
    state: text('state').notNull(),
    fps: real('fps').notNull(),
    cameraFps: real('camera_fps').notNull(),
    frames: integer('frames').notNull(),
    dropped: integer('dropped').notNull(),
    skipped: integer('skipped').notNull(),
    reconnects: integer('reconnects').notNull(),
  },
  (t) => [
    uniqueIndex('camera_metrics_device_seq_camera').on(t.deviceId, t.seq, t.camera),
    index('camera_metrics_device_camera_ts').on(t.deviceId, t.camera, t.ts),
  ],
);

export const reportedHistory = sqliteTable(
  'reported_history',
  {
    deviceId: text('device_id').notNull(),
    seq: integer('seq').notNull(),
    ts: integer('ts').notNull(),
    rev: integer('rev').notNull(),
    updateState: text('update_state').notNull(),
    engineId: text('engine_id'),
    rolloutId: text('rollout_id'),
    reason: text('reason'),
    json: text('json').notNull(),
  },
  (t) => [uniqueIndex('reported_device_seq').on(t.deviceId, t.seq)],
);

export const statusHistory = sqliteTable(
  'status_history',
  {
    deviceId: text('device_id').notNull(),
    seq: integer('seq').notNull(),
    ts: integer('ts').notNull(),
    state: text('state').notNull(),
    reason: text('reason'),
  },
  (t) => [uniqueIndex('status_device_seq').on(t.deviceId, t.seq)],
);

/** Per-engine, per-device trtexec figures from `reported.engineBench`. */
export const engineBenchmarks = sqliteTable(
  'engine_benchmarks',
  {
    engineId: text('engine_id').notNull(),
    deviceId: text('device_id').notNull(),
    inferFps: real('infer_fps').notNull(),
    latencyP50: real('latency_p50').notNull(),
    latencyP95: real('latency_p95').notNull(),
    latencyP99: real('latency_p99').notNull(),
    trtVersion: text('trt_version'),
    ts: integer('ts').notNull(),
  },
  (t) => [primaryKey({ columns: [t.engineId, t.deviceId] })],
);

/**
 * Per-engine, per-device accuracy-gate figures from `reported.update.gate.accuracy`: the engine's AP
 * on the device's golden set beside the AP of the engine it was to replace (points, 0–100).
 */
export const engineAccuracy = sqliteTable(
  'engine_accuracy',
  {
    engineId: text('engine_id').notNull(),
    deviceId: text('device_id').notNull(),
    ap: real('ap').notNull(),
    previousEngineId: text('previous_engine_id'),
    previousAp: real('previous_ap'),
    toleranceAp: real('tolerance_ap').notNull(),
    apMode: text('ap_mode').notNull(),
    iou: real('iou').notNull(),
    images: integer('images').notNull(),
    evalS: real('eval_s').notNull(),
    previousEvalS: real('previous_eval_s'),
    ts: integer('ts').notNull(),
  },
  (t) => [primaryKey({ columns: [t.engineId, t.deviceId] })],
);

export const engines = sqliteTable('engines', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  model: text('model').notNull(),
  backend: text('backend').notNull(),
  format: text('format').notNull(),
  deviceClass: text('device_class').notNull(),
  trtVersion: text('trt_version'),
  /** The DLA core a TensorRT engine is built for (Xavier, Orin); null: the GPU. */
  dlaCore: integer('dla_core'),
  precision: text('precision').notNull(),
  /** JSON array of input dimensions, e.g. [3,416,736]. */
  inputDims: text('input_dims').notNull(),
  sha256: text('sha256').notNull(),
  size: integer('size').notNull(),
  signature: text('signature').notNull(),
  createdAt: integer('created_at').notNull(),
  /**
   * Higher for a later upload (signed into the manifest): a device never installs an engine of a
   * lower version than the one it runs unless its desired state asks for a rollback.
   */
  version: integer('version').notNull().default(0),
});

export const rollouts = sqliteTable('rollouts', {
  id: text('id').primaryKey(),
  engineId: text('engine_id').notNull(),
  /** JSON: { deviceIds?, tag?, deviceClass? } as given at creation. */
  selector: text('selector').notNull(),
  canaryShare: real('canary_share').notNull(),
  holdS: real('hold_s').notNull(),
  failureLimit: integer('failure_limit').notNull(),
  minFpsRatio: real('min_fps_ratio').notNull(),
  /** AP points a new engine may lose on a device's golden set (the accuracy gate). */
  apTolerance: real('ap_tolerance').notNull().default(1),
  /** The device-side health gate: seconds the new engine must run healthy before `applied`. */
  gateHoldS: real('gate_hold_s').notNull(),
  /** canary, rolling, paused, completed, halted, aborted */
  state: text('state').notNull(),
  /** The state to go back to on resume. */
  pausedFrom: text('paused_from'),
  /** When every canary was applied (the hold starts); null before. */
  canaryDoneAt: integer('canary_done_at'),
  reason: text('reason'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const rolloutTargets = sqliteTable(
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
    rev: integer('rev'),
    reason: text('reason'),
    /** JSON: what the device's gates measured (`reported.update.gate`), from its report. */
    gateJson: text('gate_json'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.deviceId] })],
);

export const alertRules = sqliteTable('alert_rules', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  /** The threshold the kind compares with (faces, seconds, ratio, °C). */
  threshold: real('threshold').notNull(),
  /** How long the condition must hold before the alert fires, in seconds. */
  forS: real('for_s').notNull(),
  severity: text('severity').notNull(),
  /** JSON: { deviceIds?, tag?, deviceClass? }; empty = every device. */
  selector: text('selector').notNull(),
  webhookUrl: text('webhook_url'),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at').notNull(),
});

export const alerts = sqliteTable(
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
    value: real('value'),
    threshold: real('threshold'),
    firedAt: integer('fired_at').notNull(),
    resolvedAt: integer('resolved_at'),
  },
  (t) => [index('alerts_rule_device').on(t.ruleId, t.deviceId)],
);

export const apiTokens = sqliteTable('api_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** admin, operator or viewer */
  role: text('role').notNull(),
  hash: text('hash').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const subscriberTokens = sqliteTable('subscriber_tokens', {
  name: text('name').primaryKey(),
  hash: text('hash').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** 1-minute rollups of face windows, kept longer than the raw rows. */
export const faceRollups = sqliteTable(
  'face_rollups',
  {
    deviceId: text('device_id').notNull(),
    camera: text('camera').notNull().default('0'),
    minute: integer('minute').notNull(),
    windows: integer('windows').notNull(),
    frames: integer('frames').notNull(),
    maxFaces: integer('max_faces').notNull(),
    meanSum: real('mean_sum').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.camera, t.minute] })],
);

/** 1-minute rollups of metrics. */
export const metricRollups = sqliteTable(
  'metric_rollups',
  {
    deviceId: text('device_id').notNull(),
    minute: integer('minute').notNull(),
    samples: integer('samples').notNull(),
    fpsSum: real('fps_sum').notNull(),
    fpsMin: real('fps_min'),
    inferFpsSum: real('infer_fps_sum').notNull(),
    latencyP95Max: real('latency_p95_max'),
    tempMaxC: real('temp_max_c'),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.minute] })],
);

/** 1-minute rollups of camera metrics. */
export const cameraMetricRollups = sqliteTable(
  'camera_metric_rollups',
  {
    deviceId: text('device_id').notNull(),
    camera: text('camera').notNull(),
    minute: integer('minute').notNull(),
    samples: integer('samples').notNull(),
    fpsSum: real('fps_sum').notNull(),
    fpsMin: real('fps_min'),
    cameraFpsSum: real('camera_fps_sum').notNull(),
    frames: integer('frames').notNull(),
    dropped: integer('dropped').notNull(),
    skipped: integer('skipped').notNull(),
    reconnects: integer('reconnects').notNull(),
    /** Samples in which the camera was not online. */
    offlineSamples: integer('offline_samples').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.camera, t.minute] })],
);

/**
 * Who does a piece of singleton work (rollout executor, alert evaluation, retention, broker
 * reconcile) until when: one instance holds a lease and renews it; when it stops renewing, another
 * takes it after `expires_at`.
 */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  /** Database time (ms) after which another instance may take it. */
  expiresAt: integer('expires_at').notNull(),
});

/**
 * Seqs a device reserved for MQTT wills that have not fired (the device said so in a status): not
 * gaps. A will that fires later is stored and its row here removed.
 */
export const willExcuses = sqliteTable(
  'will_excuses',
  {
    deviceId: text('device_id').notNull(),
    seq: integer('seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.seq] })],
);

/**
 * Device certificates enrolled for MQTT logins over TLS: a client certificate signed by the fleet
 * CA logs its device in only while it is enrolled here and not revoked.
 */
export const deviceCertificates = sqliteTable(
  'device_certificates',
  {
    /** sha256 of the certificate's DER, lowercase hex. */
    fingerprint: text('fingerprint').primaryKey(),
    deviceId: text('device_id').notNull(),
    serial: text('serial').notNull(),
    notBefore: integer('not_before').notNull(),
    notAfter: integer('not_after').notNull(),
    createdAt: integer('created_at').notNull(),
    /** When it was revoked; null while it may log in. */
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('device_certificates_device').on(t.deviceId)],
);

/** Dashboard sessions signed out before they expired (kept until then, so their cookie is refused). */
export const revokedSessions = sqliteTable('revoked_sessions', {
  id: text('id').primaryKey(),
  expiresAt: integer('expires_at').notNull(),
});
