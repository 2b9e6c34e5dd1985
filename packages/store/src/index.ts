export { type ClusterBus, localBus, packMessages } from './bus.js';
export type { Dialect, QueryDb, Statement, Tables } from './dialect.js';
export { StoreError, StoreLocationError, StoreWriterError } from './errors.js';
export type { IngestCommitter, RetentionResult } from './ingest/committer.js';
export {
  type CameraRow,
  type IngestMessage,
  type Row,
  type Touch,
  toRow,
} from './ingest/rows.js';
export { isPostgresUrl, type OpenStoreOptions, openStore } from './open.js';
export {
  openPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
  redactUrl,
} from './pg/open.js';
export type { AlertFilter, AlertRepository } from './repositories/alerts.js';
export type { CertificateRepository } from './repositories/certificates.js';
export type { CredentialRepository } from './repositories/credentials.js';
export type { DeviceRepository, NewDevice, SeqGaps } from './repositories/devices.js';
export type { EngineRepository } from './repositories/engines.js';
export type { LeaseRepository } from './repositories/leases.js';
export {
  FINAL_ROLLOUT_STATES,
  type RolloutChange,
  type RolloutRepository,
  type TargetChange,
} from './repositories/rollouts.js';
export type {
  CameraBucket,
  CameraFpsSample,
  FaceBucket,
  FpsSample,
  LastCameraMetrics,
  LastFaces,
  LastMetrics,
  MetricBucket,
  TelemetryRepository,
} from './repositories/telemetry.js';
export * from './schema/rows.js';
export type { Synchronous } from './sqlite/connection.js';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite/open.js';
export type { Store } from './store.js';
