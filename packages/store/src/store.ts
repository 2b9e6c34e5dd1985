import type { ClusterBus } from './bus.js';
import type { Dialect } from './dialect.js';
import type { IngestCommitter, RetentionResult } from './ingest/committer.js';
import { alertRepository } from './repositories/alerts.js';
import { certificateRepository } from './repositories/certificates.js';
import { credentialRepository } from './repositories/credentials.js';
import { deviceRepository } from './repositories/devices.js';
import { engineRepository } from './repositories/engines.js';
import { leaseRepository } from './repositories/leases.js';
import { rolloutRepository } from './repositories/rollouts.js';
import { telemetryRepository } from './repositories/telemetry.js';

/**
 * The control plane's storage: repositories over one database, the ingest batch writer and
 * retention. SQLite (one file, the embedded default) or PostgreSQL (several stateless control-plane
 * instances); both give the same answers (the contract tests run on both).
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for logs: the SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string;
  readonly devices: ReturnType<typeof deviceRepository>;
  readonly telemetry: ReturnType<typeof telemetryRepository>;
  readonly engines: ReturnType<typeof engineRepository>;
  readonly rollouts: ReturnType<typeof rolloutRepository>;
  readonly alerts: ReturnType<typeof alertRepository>;
  readonly credentials: ReturnType<typeof credentialRepository>;
  readonly certificates: ReturnType<typeof certificateRepository>;
  readonly leases: ReturnType<typeof leaseRepository>;
  /** Commits ingest batches (SQLite: on the writer thread by default). */
  readonly ingest: IngestCommitter;
  /** Messages between the instances sharing this store (SQLite: this process only). */
  readonly bus: ClusterBus;
  /**
   * Folds raw face windows and metrics older than `rawDays` into their 1-minute rollups and
   * deletes them; deletes rollups older than `rollupDays`. Off the event loop: on SQLite's writer
   * thread, in PostgreSQL's server.
   */
  retention(now: number, rawDays: number, rollupDays: number): Promise<RetentionResult>;
  /** Whether the database answers. */
  ping(): Promise<boolean>;
  /** Stops the writer and closes every connection. */
  close(): Promise<void>;
}

/** The repositories of a dialect (the part of a Store both adapters share). */
export function repositories(dialect: Dialect) {
  return {
    devices: deviceRepository(dialect),
    telemetry: telemetryRepository(dialect),
    engines: engineRepository(dialect),
    rollouts: rolloutRepository(dialect),
    alerts: alertRepository(dialect),
    credentials: credentialRepository(dialect),
    certificates: certificateRepository(dialect),
    leases: leaseRepository(dialect),
  };
}
