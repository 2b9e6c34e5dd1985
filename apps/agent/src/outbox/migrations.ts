/**
 * Schema of the agent's SQLite database, one entry per version (PRAGMA user_version). Append only:
 * a device upgrading the agent runs the ones it has not run yet.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the outbox, its counters, and small named state records (engine and update state)
  `CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY,
     kind TEXT NOT NULL,
     topic TEXT NOT NULL,
     payload TEXT NOT NULL,
     retain INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX outbox_kind_seq ON outbox (kind, seq);
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
   INSERT INTO counters (name, value) VALUES ('next_seq', 0), ('dropped', 0);
   CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);`,
];
