import type * as pg from './pg.js';
import type * as sqlite from './sqlite.js';

/**
 * Rows as repositories return them. Both dialects' tables must give exactly these JS types: the
 * checks below fail to compile when a column of ./pg.ts and ./sqlite.ts drifts apart.
 */
export type DeviceRow = typeof sqlite.devices.$inferSelect;
export type FaceWindowRow = typeof sqlite.faceWindows.$inferSelect;
export type MetricsRow = typeof sqlite.metrics.$inferSelect;
export type CameraMetricsRow = typeof sqlite.cameraMetrics.$inferSelect;
export type CameraMetricRollupRow = typeof sqlite.cameraMetricRollups.$inferSelect;
export type ReportedHistoryRow = typeof sqlite.reportedHistory.$inferSelect;
export type StatusHistoryRow = typeof sqlite.statusHistory.$inferSelect;
export type EngineBenchmarkRow = typeof sqlite.engineBenchmarks.$inferSelect;
export type EngineAccuracyRow = typeof sqlite.engineAccuracy.$inferSelect;
export type EngineRow = typeof sqlite.engines.$inferSelect;
export type RolloutRow = typeof sqlite.rollouts.$inferSelect;
export type RolloutTargetRow = typeof sqlite.rolloutTargets.$inferSelect;
export type AlertRuleRow = typeof sqlite.alertRules.$inferSelect;
export type AlertRow = typeof sqlite.alerts.$inferSelect;
export type ApiTokenRow = typeof sqlite.apiTokens.$inferSelect;
export type SubscriberTokenRow = typeof sqlite.subscriberTokens.$inferSelect;
export type FaceRollupRow = typeof sqlite.faceRollups.$inferSelect;
export type MetricRollupRow = typeof sqlite.metricRollups.$inferSelect;
export type LeaseRow = typeof sqlite.leases.$inferSelect;
export type WillExcuseRow = typeof sqlite.willExcuses.$inferSelect;
export type DeviceCertificateRow = typeof sqlite.deviceCertificates.$inferSelect;
export type RevokedSessionRow = typeof sqlite.revokedSessions.$inferSelect;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Table = keyof typeof sqlite & keyof typeof pg;
/** Every table, both ways: select and insert shapes. */
type Checks = {
  [K in Table]: [
    Same<(typeof sqlite)[K]['$inferSelect'], (typeof pg)[K]['$inferSelect']>,
    Same<(typeof sqlite)[K]['$inferInsert'], (typeof pg)[K]['$inferInsert']>,
  ];
};
type Disagreeing = {
  [K in keyof Checks]: Checks[K] extends [true, true] ? never : K;
}[keyof Checks];
/** A compile error here names the tables whose dialects disagree. */
export const schemasAgree: [Disagreeing] extends [never] ? true : Disagreeing = true;
/** Both schema files define the same tables. */
export const sameTables: Same<keyof typeof sqlite, keyof typeof pg> = true;
