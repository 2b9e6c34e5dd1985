#!/usr/bin/env node
/**
 * The ingest benchmark's baseline consumer: one MQTT subscriber (persistent session, QoS 1) on an
 * external broker that inserts every device message raw into SQLite with better-sqlite3 — one
 * prepared INSERT per message, WAL, synchronous=NORMAL: the minimal thing a user would write.
 * Prints `COUNT n` every second and `RESULT {json}` on SIGTERM.
 */
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { percentile } from './proc-stats.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, db: { type: 'string' } } });
const db = new Database(values.db ?? ':memory:');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(
  'CREATE TABLE IF NOT EXISTS messages (topic TEXT NOT NULL, device_id TEXT, seq INTEGER, payload TEXT NOT NULL, stored_at INTEGER NOT NULL)',
);
const insert = db.prepare(
  'INSERT INTO messages (topic, device_id, seq, payload, stored_at) VALUES (?, ?, ?, ?, ?)',
);
const latencies: number[] = [];
let count = 0;
const client = mqtt.connect(values.url ?? 'mqtt://127.0.0.1:1883', {
  clientId: 'raw-subscriber',
  clean: false,
  reconnectPeriod: 1000,
});
client.on('connect', () => {
  client.subscribe('facefleet/v1/devices/+/+', { qos: 1 }, () => console.log('SUBSCRIBED'));
});
client.on('message', (topic, payload) => {
  const now = Date.now();
  const text = payload.toString('utf8');
  let deviceId: string | null = null;
  let seq: number | null = null;
  let ts = now;
  try {
    const m = JSON.parse(text) as { deviceId?: string; seq?: number; ts?: number };
    deviceId = m.deviceId ?? null;
    seq = m.seq ?? null;
    ts = m.ts ?? now;
  } catch {}
  insert.run(topic, deviceId, seq, text, now);
  latencies.push(now - ts);
  count++;
});
const timer = setInterval(() => console.log(`COUNT ${count}`), 1000);
// SIGUSR1: print the latency of everything stored so far and start a new span.
process.on('SIGUSR1', () => {
  latencies.sort((a, b) => a - b);
  const snapshot = {
    stored: count,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
  console.log(`SNAPSHOT ${JSON.stringify(snapshot)}`);
  latencies.length = 0;
});
process.once('SIGTERM', () => {
  clearInterval(timer);
  latencies.sort((a, b) => a - b);
  const result = {
    stored: count,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  client.end(true, () => {
    db.close();
    process.exit(0);
  });
});
