import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { facesMessage, metricsMessage, reportedMessage, statusMessage } from '@facefleet/protocol';
import { freshStoreLocation, waitFor } from '@facefleet/test-support';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { IngestCommitter } from './ingest/committer.js';
import { type IngestMessage, type Row, type Touch, toRow } from './ingest/rows.js';
import { openStore } from './open.js';
import type { RolloutRow, RolloutTargetRow } from './schema/rows.js';
import type { Store } from './store.js';
import { query, STORE_KINDS } from './testing.js';

/**
 * The store's contract: every repository and the ingest writer give the same answers on SQLite and
 * on PostgreSQL (a real server: the vitest run's cluster).
 */

const commit = (
  ingest: IngestCommitter,
  rows: Row[],
  touches: Touch[] = [],
  announce?: (stored: Uint8Array) => string[],
) =>
  new Promise<number[]>((resolve, reject) =>
    ingest.commit(
      rows,
      touches,
      (err, stored) => (err ? reject(err) : resolve([...stored!])),
      announce,
    ),
  );
const rowsOf = (messages: IngestMessage[], at = 1000) => messages.map((m) => toRow(m, at));

describe.each(STORE_KINDS)('store contract (%s)', (kind) => {
  let store: Store;
  let cleanup: () => void;
  let location: string;
  beforeEach(async () => {
    const place = freshStoreLocation(kind, inject('postgresUrl'));
    cleanup = place.cleanup;
    location = place.location;
    store = await openStore(location);
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  const enroll = (id: string, deviceClass = 'jetson-nano', tags: string[] = []) =>
    store.devices.insert({ id, deviceClass, tags, tokenHash: `h-${id}`, createdAt: 1 });

  it('devices: insert once, read, retag, rehash, delete', async () => {
    const row = await enroll('cam-b', 'jetson-nano', ['lobby']);
    expect(row).toMatchObject({ id: 'cam-b', tags: '["lobby"]', desiredRev: 0, lastSeen: null });
    expect(await enroll('cam-b')).toBeUndefined();
    await enroll('cam-a');
    expect((await store.devices.list()).map((d) => d.id)).toEqual(['cam-a', 'cam-b']);
    expect(await store.devices.exists('cam-a')).toBe(true);
    expect(await store.devices.exists('nope')).toBe(false);
    expect(await store.devices.tokenHash('cam-a')).toBe('h-cam-a');
    expect((await store.devices.setTags('cam-a', ['x', 'y']))?.tags).toBe('["x","y"]');
    expect((await store.devices.setTokenHash('cam-a', 'h2'))?.tokenHash).toBe('h2');
    // an upgrade of the hash happens only if nobody changed it meanwhile
    expect(await store.devices.upgradeTokenHash('cam-a', 'stale', 'h3')).toBe(false);
    expect(await store.devices.upgradeTokenHash('cam-a', 'h2', 'h3')).toBe(true);
    expect(await store.devices.tokenHash('cam-a')).toBe('h3');
    expect(await store.devices.setTags('nope', [])).toBeUndefined();
    expect(await store.devices.delete('cam-a')).toBe(true);
    expect(await store.devices.delete('cam-a')).toBe(false);
    expect(await store.devices.ids()).toEqual(['cam-b']);
  });

  it('devices: desired revisions count up per device; engines of many devices at once', async () => {
    await enroll('cam-1');
    expect(await store.devices.nextDesiredRev('cam-1')).toBe(1);
    expect(await store.devices.nextDesiredRev('cam-1')).toBe(2);
    expect(await store.devices.nextDesiredRev('nope')).toBeUndefined();
    await store.devices.setDesiredJson('cam-1', '{"rev":2}');
    expect((await store.devices.get('cam-1'))?.desiredJson).toBe('{"rev":2}');
    // More ids than one statement takes on SQLite (chunked).
    const ids = Array.from({ length: 2500 }, (_, i) => `d-${String(i).padStart(4, '0')}`);
    for (const id of ids.slice(0, 3)) await enroll(id);
    const engines = await store.devices.engineIds(ids);
    expect([...engines.keys()]).toEqual(ids.slice(0, 3));
    expect([...engines.values()]).toEqual([null, null, null]);
  });

  it('ingest: stores each (device, seq) once, says which rows were new, updates the device', async () => {
    await enroll('cam-1');
    await enroll('cam-2');
    const first = rowsOf([
      { kind: 'faces', data: facesMessage('cam-1', 1) },
      { kind: 'faces', data: facesMessage('cam-1', 2) },
      { kind: 'faces', data: facesMessage('cam-1', 2) }, // a replay inside the batch
      { kind: 'metrics', data: metricsMessage('cam-1', 3, {}, { powerMode: 'MAXN' }) },
      { kind: 'status', data: statusMessage('cam-2', 1, 'online') },
      { kind: 'status', data: statusMessage('cam-2', 2, 'degraded') },
    ]);
    expect(await commit(store.ingest, first, [['cam-1', 5000]])).toEqual([1, 1, 0, 1, 1, 1]);
    // Replayed after a crash: nothing new, nothing changed.
    expect(await commit(store.ingest, first)).toEqual([0, 0, 0, 0, 0, 0]);
    const cam2 = await store.devices.get('cam-2');
    expect(cam2?.state).toBe('degraded'); // the last status of the batch wins
    expect((await store.devices.get('cam-1'))?.powerMode).toBe('MAXN');
    expect((await store.devices.get('cam-1'))?.lastSeen).toBe(5000);
    // last-seen only moves forward
    await commit(store.ingest, [], [['cam-1', 4000]]);
    expect((await store.devices.get('cam-1'))?.lastSeen).toBe(5000);
    expect(await query(store, 'SELECT count(*) AS n FROM face_windows')).toEqual([{ n: 2 }]);
    expect((await store.telemetry.statuses('cam-2', 10)).map((s) => s.state)).toEqual([
      'degraded',
      'online',
    ]);
  });

  it('ingest: reports update the device and upsert its engine benchmark (the last wins)', async () => {
    await enroll('cam-1');
    const bench = (fps: number) => ({
      engineId: 'eng-1',
      inferFps: fps,
      latencyMs: { p50: 1, p95: 2, p99: 3 },
      trtVersion: '8.6.2',
    });
    const stored = await commit(
      store.ingest,
      rowsOf([
        { kind: 'reported', data: reportedMessage('cam-1', 1, { engineBench: bench(100) }) },
        { kind: 'reported', data: reportedMessage('cam-1', 2, { engineBench: bench(120) }) },
      ]),
    );
    expect(stored).toEqual([1, 1]);
    const [b] = await store.engines.benchmarks('eng-1');
    expect(b).toMatchObject({
      engineId: 'eng-1',
      deviceId: 'cam-1',
      inferFps: 120,
      trtVersion: '8.6.2',
    });
    const device = await store.devices.get('cam-1');
    expect(JSON.parse(device!.reportedJson!).seq).toBe(2);
    const updates = await store.telemetry.updates('cam-1', 1);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ rev: reportedMessage('cam-1', 2).rev });
  });

  it("ingest: a report's accuracy gate becomes the engine's accuracy record, failed updates too", async () => {
    await enroll('cam-1');
    const gate = (ap: number) => ({
      engineId: 'eng-2',
      fps: null,
      accuracy: {
        engine: { engineId: 'eng-2', ap, evalS: 1.5 },
        previous: { engineId: 'eng-1', ap: 83.9, evalS: 1.4 },
        toleranceAp: 1,
        apMode: 'voc2010' as const,
        iou: 0.5,
        images: 4,
        groundTruths: 1,
      },
    });
    const report = (seq: number, ap: number) =>
      reportedMessage('cam-1', seq, {
        update: {
          state: 'failed',
          engineId: 'eng-2',
          rolloutId: 'ro-1',
          progress: null,
          reason: 'accuracy_regression: …',
          gate: gate(ap),
        },
      });
    await commit(
      store.ingest,
      rowsOf([
        { kind: 'reported', data: report(1, 12) },
        { kind: 'reported', data: report(2, 10.5) },
      ]),
    );
    expect(await store.engines.accuracy('eng-2')).toEqual([
      {
        engineId: 'eng-2',
        deviceId: 'cam-1',
        ap: 10.5,
        previousEngineId: 'eng-1',
        previousAp: 83.9,
        toleranceAp: 1,
        apMode: 'voc2010',
        iou: 0.5,
        images: 4,
        evalS: 1.5,
        previousEvalS: 1.4,
        ts: report(2, 10.5).ts,
      },
    ]);
    expect(await store.engines.accuracy('eng-1')).toEqual([]);
  });

  it('ingest: a batch that fails writes nothing of itself, and the next one commits', async () => {
    await enroll('cam-1');
    await query(store, 'ALTER TABLE metrics RENAME TO metrics_away');
    const batch = rowsOf([
      { kind: 'faces', data: facesMessage('cam-1', 1) },
      { kind: 'metrics', data: metricsMessage('cam-1', 2) },
    ]);
    await expect(commit(store.ingest, batch)).rejects.toThrow();
    await query(store, 'ALTER TABLE metrics_away RENAME TO metrics');
    expect(await query(store, 'SELECT count(*) AS n FROM face_windows')).toEqual([{ n: 0 }]);
    expect(await commit(store.ingest, batch)).toEqual([1, 1]);
  });

  it('telemetry: newest window and sample per device, FPS samples, series in buckets', async () => {
    await enroll('cam-1');
    await enroll('cam-2');
    const now = facesMessage('cam-1', 0).ts;
    await commit(
      store.ingest,
      rowsOf([
        { kind: 'faces', data: facesMessage('cam-1', 1, { max: 2, mean: 1 }) },
        { kind: 'faces', data: facesMessage('cam-1', 2, { max: 5, mean: 3, last: 4 }) },
        { kind: 'faces', data: facesMessage('cam-2', 1, { max: 1 }) },
        { kind: 'metrics', data: metricsMessage('cam-1', 3, { fps: 10, inferFps: 20 }) },
        { kind: 'metrics', data: metricsMessage('cam-1', 4, { fps: 12, inferFps: 22 }) },
      ]),
    );
    const last = await store.telemetry.lastFaces();
    expect(last.get('cam-1')).toMatchObject({ max: 5, last: 4 });
    expect(last.get('cam-2')).toMatchObject({ max: 1 });
    expect((await store.telemetry.lastMetrics()).get('cam-1')).toMatchObject({
      fps: 12,
      inferFps: 22,
    });
    expect((await store.telemetry.fpsSamples(0)).map((s) => s.fps)).toEqual([10, 12]);
    expect((await store.telemetry.latestMetrics('cam-1'))?.seq).toBe(4);
    const buckets = await store.telemetry.faceBuckets(
      'cam-1',
      now - 3_600_000,
      now + 3_600_000,
      3_600_000,
    );
    expect(buckets.reduce((n, b) => n + b.windows, 0)).toBe(2);
    expect(Math.max(...buckets.map((b) => b.maxFaces))).toBe(5);
    const metricBuckets = await store.telemetry.metricBuckets(
      'cam-1',
      0,
      now + 86_400_000,
      86_400_000,
    );
    expect(metricBuckets).toHaveLength(1);
    expect(metricBuckets[0]).toMatchObject({ samples: 2, fps: 11, inferFps: 21, fpsMin: 10 });
  });

  it('cameras: windows and metrics per camera, series and newest per camera, a device-wide series of all', async () => {
    await enroll('cam-1');
    const now = facesMessage('cam-1', 0).ts;
    const camMetrics = (seq: number, yard: 'online' | 'reconnecting', fps: number) =>
      metricsMessage('cam-1', seq, {
        cameras: [
          {
            id: '0',
            state: 'online',
            fps: 10,
            cameraFps: 25,
            frames: 100,
            dropped: 1,
            skipped: 150,
            reconnects: 0,
          },
          {
            id: 'yard',
            state: yard,
            fps,
            cameraFps: fps,
            frames: fps * 10,
            dropped: 0,
            skipped: 0,
            reconnects: yard === 'online' ? 1 : 0,
          },
        ],
        batch: { batches: 50, meanSize: 1.8 },
      });
    const stored = await commit(
      store.ingest,
      rowsOf([
        { kind: 'faces', data: facesMessage('cam-1', 1, { max: 2, mean: 1 }) },
        { kind: 'faces', data: facesMessage('cam-1', 2, { camera: 'yard', max: 7, mean: 3 }) },
        {
          kind: 'faces',
          data: facesMessage('cam-1', 3, { camera: 'yard', max: 1, mean: 1, last: 1 }),
        },
        { kind: 'metrics', data: camMetrics(4, 'reconnecting', 0) },
        { kind: 'metrics', data: camMetrics(5, 'online', 8) },
      ]),
    );
    expect(stored).toEqual([1, 1, 1, 1, 1]);
    // a replayed metrics message stores no second set of camera rows
    expect(
      await commit(store.ingest, rowsOf([{ kind: 'metrics', data: camMetrics(5, 'online', 8) }])),
    ).toEqual([0]);
    expect(await query(store, 'SELECT count(*) AS n FROM camera_metrics')).toEqual([{ n: 4 }]);
    expect(await query(store, 'SELECT batch_mean_size AS b FROM metrics ORDER BY seq')).toEqual([
      { b: 1.8 },
      { b: 1.8 },
    ]);
    // a window without a camera is camera "0"
    expect(await query(store, 'SELECT seq, camera FROM face_windows ORDER BY seq')).toEqual([
      { seq: 1, camera: '0' },
      { seq: 2, camera: 'yard' },
      { seq: 3, camera: 'yard' },
    ]);
    const range = [now - 3_600_000, now + 3_600_000, 7_200_000] as const;
    const yard = await store.telemetry.faceBuckets('cam-1', ...range, 'yard');
    expect(yard.map((b) => [b.windows, b.maxFaces])).toEqual([[2, 7]]);
    const zero = await store.telemetry.faceBuckets('cam-1', ...range, '0');
    expect(zero.map((b) => [b.windows, b.maxFaces])).toEqual([[1, 2]]);
    const all = await store.telemetry.faceBuckets('cam-1', ...range);
    expect(all.map((b) => [b.windows, b.maxFaces])).toEqual([[3, 7]]);
    const lastFaces = await store.telemetry.lastCameraFaces('cam-1');
    expect(Object.fromEntries([...lastFaces].map(([c, f]) => [c, f.max]))).toEqual({
      '0': 2,
      yard: 1,
    });
    const lastCam = await store.telemetry.lastCameraMetrics('cam-1');
    expect(lastCam.get('yard')).toMatchObject({ state: 'online', fps: 8, reconnects: 1 });
    expect(lastCam.get('0')).toMatchObject({ state: 'online', fps: 10, cameraFps: 25 });
    const buckets = await store.telemetry.cameraBuckets(
      'cam-1',
      'yard',
      0,
      now + 86_400_000,
      86_400_000,
    );
    expect(buckets).toEqual([
      {
        t: buckets[0]!.t,
        samples: 2,
        fps: 4,
        fpsMin: 0,
        cameraFps: 4,
        frames: 80,
        dropped: 0,
        skipped: 0,
        reconnects: 1,
        offline: 0.5,
      },
    ]);
    const samples = await store.telemetry.cameraFpsSamples(0);
    expect(samples.map((x) => `${x.camera}:${x.fps}:${x.state}`)).toEqual([
      '0:10:online',
      '0:10:online',
      'yard:0:reconnecting',
      'yard:8:online',
    ]);
  });

  it('seq gaps: lost messages counted, unfired wills excused, a will that fires counted once', async () => {
    await enroll('cam-1');
    await enroll('cam-2');
    const status = (id: string, seq: number, over: Record<string, unknown> = {}) =>
      ({ kind: 'status', data: { ...statusMessage(id, seq), ...over } }) as IngestMessage;
    const faces = (id: string, seq: number) =>
      ({ kind: 'faces', data: facesMessage(id, seq) }) as IngestMessage;
    // cam-1: seqs 1..10 sent; 5 lost; 7 is the will of the connection status 3 was sent on.
    const batch = rowsOf([
      faces('cam-1', 1),
      faces('cam-1', 2),
      status('cam-1', 3, { willSeq: 7 }),
      faces('cam-1', 4),
      faces('cam-1', 6),
      faces('cam-1', 8),
      faces('cam-1', 9),
      faces('cam-1', 10),
    ]);
    await commit(store.ingest, batch);
    expect(await store.devices.seqGaps('cam-1')).toEqual({
      first: 1,
      last: 10,
      stored: 8,
      unfiredWills: 1,
      gaps: 1,
    });
    await commit(store.ingest, batch); // a replay changes nothing
    // The will fires after all: stored once, no longer excused.
    await commit(store.ingest, rowsOf([status('cam-1', 7, { state: 'offline', will: true })]));
    expect(await store.devices.seqGaps('cam-1')).toMatchObject({
      stored: 9,
      unfiredWills: 0,
      gaps: 1,
    });
    // cam-2: the will (seq 2) arrives before the status that announced it (seq 1, from the outbox).
    await commit(store.ingest, rowsOf([status('cam-2', 2, { state: 'offline', will: true })]));
    await commit(store.ingest, rowsOf([status('cam-2', 1, { willSeq: 2 }), faces('cam-2', 3)]));
    expect(await store.devices.seqGaps('cam-2')).toEqual({
      first: 1,
      last: 3,
      stored: 3,
      unfiredWills: 0,
      gaps: 0,
    });
    expect(await store.devices.totalSeqGaps()).toBe(1);
    expect(await store.devices.seqGaps('nope')).toBeUndefined();
  });

  it('engines: insert once, newest first, benchmarks by engine', async () => {
    const engine = (id: string, createdAt: number) => ({
      id,
      name: id,
      model: 'blazeface',
      backend: 'opencv',
      format: 'onnx',
      deviceClass: 'generic-x86_64',
      trtVersion: null,
      dlaCore: null,
      precision: 'fp32',
      inputDims: '[3,128,128]',
      sha256: 'a'.repeat(64),
      size: 10,
      signature: 'sig',
      createdAt,
      version: createdAt,
    });
    expect(await store.engines.maxVersion()).toBe(0);
    expect(await store.engines.insert(engine('e1', 1))).toMatchObject({ id: 'e1' });
    expect(await store.engines.insert(engine('e1', 1))).toBeUndefined();
    await store.engines.insert(engine('e2', 2));
    expect((await store.engines.list()).map((e) => e.id)).toEqual(['e2', 'e1']);
    expect(await store.engines.exists('e2')).toBe(true);
    expect(await store.engines.benchmarks('e1')).toEqual([]);
    expect(await store.engines.maxVersion()).toBe(2);
    // e1 and e2 share one blob: it counts once
    expect(await store.engines.totalBytes()).toBe(10);
    expect(await store.engines.countBySha256('a'.repeat(64))).toBe(2);
    await store.engines.setSignatures([{ id: 'e1', signature: 'sig2' }]);
    expect((await store.engines.get('e1'))?.signature).toBe('sig2');
  });

  it('engines: what still uses one, and deleting it', async () => {
    const engine = {
      id: 'e1',
      name: 'e1',
      model: 'blazeface',
      backend: 'opencv',
      format: 'onnx',
      deviceClass: 'generic-x86_64',
      trtVersion: null,
      dlaCore: null,
      precision: 'fp32',
      inputDims: '[3,128,128]',
      sha256: 'b'.repeat(64),
      size: 10,
      signature: 'sig',
      createdAt: 1,
      version: 1,
    };
    await store.engines.insert(engine);
    expect(await store.engines.users('e1')).toEqual({ rollouts: [], devices: [] });
    await store.rollouts.create(rollout('ro-1'), [
      { ...target('ro-1', 'd-1'), previousEngineId: 'e1' },
    ]);
    expect(await store.engines.users('e1')).toEqual({ rollouts: ['ro-1'], devices: [] });
    await store.rollouts.update('ro-1', { state: 'completed', updatedAt: 2 });
    expect(await store.engines.users('e1')).toEqual({ rollouts: [], devices: [] });
    expect(await store.engines.delete('e1')).toBe(true);
    expect(await store.engines.delete('e1')).toBe(false);
    expect(await store.engines.totalBytes()).toBe(0);
  });

  it('certificates: enrolled once per fingerprint, listed per device, revoked once', async () => {
    const cert = (fingerprint: string, deviceId: string) => ({
      fingerprint,
      deviceId,
      serial: '01',
      notBefore: 1,
      notAfter: 2,
      createdAt: 3,
    });
    expect(await store.certificates.insert(cert('f1', 'cam-a'))).toMatchObject({
      fingerprint: 'f1',
      revokedAt: null,
    });
    expect(await store.certificates.insert(cert('f1', 'cam-b'))).toBeUndefined();
    await store.certificates.insert(cert('f2', 'cam-a'));
    expect((await store.certificates.ofDevice('cam-a')).map((c) => c.fingerprint)).toEqual([
      'f1',
      'f2',
    ]);
    // only the device's own certificate, and only once
    expect(await store.certificates.revoke('cam-b', 'f1', 9)).toBeUndefined();
    expect(await store.certificates.revoke('cam-a', 'f1', 9)).toMatchObject({ revokedAt: 9 });
    expect(await store.certificates.revoke('cam-a', 'f1', 10)).toBeUndefined();
    expect((await store.certificates.get('f1'))?.revokedAt).toBe(9);
    await store.certificates.deleteOfDevice('cam-a');
    expect(await store.certificates.ofDevice('cam-a')).toEqual([]);
  });

  it('rollouts: created with every target at once; active, busy and finished', async () => {
    const targets = Array.from({ length: 1200 }, (_, i) => target('ro-1', `d-${i}`));
    await store.rollouts.create(rollout('ro-1'), targets);
    const loaded = await store.rollouts.load('ro-1');
    expect(loaded?.targets).toHaveLength(1200);
    expect(await store.rollouts.activeIds()).toEqual(['ro-1']);
    expect(await store.rollouts.busy(['d-5', 'other'])).toEqual([
      { deviceId: 'd-5', rolloutId: 'ro-1' },
    ]);
    await store.rollouts.updateTarget('ro-1', 'd-5', { state: 'desired', rev: 3, updatedAt: 2 });
    const [active] = await store.rollouts.activeFor('d-5');
    expect(active?.target).toMatchObject({ state: 'desired', rev: 3 });
    expect(active?.rollout.id).toBe('ro-1');
    await store.rollouts.update('ro-1', { state: 'completed', reason: 'done', updatedAt: 3 });
    expect(await store.rollouts.activeIds()).toEqual([]);
    expect(await store.rollouts.busy(['d-5'])).toEqual([]);
    expect(await store.rollouts.countByState()).toEqual({ completed: 1 });
    // A rollout whose targets cannot all be stored is not stored at all.
    await expect(
      store.rollouts.create(rollout('ro-2'), [target('ro-2', 'a'), target('ro-2', 'a')]),
    ).rejects.toThrow();
    expect(await store.rollouts.get('ro-2')).toBeUndefined();
  });

  it('alerts: rules, firing and resolved, filtered newest first', async () => {
    const rule = {
      id: 'r1',
      kind: 'faces_above',
      threshold: 3,
      forS: 0,
      severity: 'warning',
      selector: '{}',
      webhookUrl: null,
      enabled: true,
      createdAt: 1,
    };
    expect(await store.alerts.insertRule(rule)).toMatchObject({ id: 'r1', enabled: true });
    expect(await store.alerts.insertRule(rule)).toBeUndefined();
    await store.alerts.insertRule({ ...rule, id: 'r2', enabled: false, createdAt: 2 });
    expect((await store.alerts.enabledRules()).map((r) => r.id)).toEqual(['r1']);
    expect((await store.alerts.rules()).map((r) => r.id)).toEqual(['r1', 'r2']);
    const alert = (id: string, firedAt: number) => ({
      id,
      ruleId: 'r1',
      deviceId: 'cam-1',
      kind: 'faces_above',
      severity: 'warning',
      message: 'm',
      value: 4,
      threshold: 3,
      firedAt,
    });
    await store.alerts.insertFiring(alert('a1', 10));
    await store.alerts.insertFiring(alert('a2', 20));
    await store.alerts.resolve('a1', 30);
    expect((await store.alerts.firing()).map((a) => a.id)).toEqual(['a2']);
    expect((await store.alerts.find({ limit: 10 })).map((a) => a.id)).toEqual(['a2', 'a1']);
    expect(await store.alerts.find({ state: 'resolved', limit: 10 })).toMatchObject([
      { id: 'a1', resolvedAt: 30 },
    ]);
    expect(await store.alerts.deleteRule('r2')).toBe(true);
    expect(await store.alerts.deleteRule('r2')).toBe(false);
  });

  it('credentials: API tokens and subscribers, with undo of a subscriber change', async () => {
    expect(await store.credentials.countApiTokens()).toBe(0);
    await store.credentials.insertApiToken({
      id: 't1',
      name: 'n',
      role: 'admin',
      hash: 'h',
      createdAt: 1,
    });
    expect(await store.credentials.countApiTokens()).toBe(1);
    expect((await store.credentials.apiToken('t1'))?.role).toBe('admin');
    expect(await store.credentials.apiTokens()).toEqual([
      { id: 't1', name: 'n', role: 'admin', createdAt: 1 },
    ]);
    expect(await store.credentials.deleteApiToken('t1')).toBe(true);
    expect(await store.credentials.deleteApiToken('t1')).toBe(false);

    await store.credentials.putSubscriber('ha', 'h1', 1);
    const before = await store.credentials.subscriber('ha');
    await store.credentials.putSubscriber('ha', 'h2', 2);
    expect((await store.credentials.subscriber('ha'))?.hash).toBe('h2');
    await store.credentials.restoreSubscriber(before, 'ha');
    expect((await store.credentials.subscriber('ha'))?.hash).toBe('h1');
    await store.credentials.restoreSubscriber(undefined, 'ha');
    expect(await store.credentials.subscriberNames()).toEqual([]);
    expect(await store.credentials.deleteSubscriber('ha')).toBe(false);

    await store.credentials.putSubscriber('ha', 'h1', 1);
    await store.credentials.upgradeSubscriberHash('ha', 'stale', 'h9');
    expect((await store.credentials.subscriber('ha'))?.hash).toBe('h1');
    await store.credentials.upgradeSubscriberHash('ha', 'h1', 'h9');
    expect((await store.credentials.subscriber('ha'))?.hash).toBe('h9');
    await store.credentials.insertApiToken({
      id: 't2',
      name: 'n',
      role: 'viewer',
      hash: 'a',
      createdAt: 1,
    });
    await store.credentials.upgradeApiTokenHash('t2', 'a', 'b');
    expect((await store.credentials.apiToken('t2'))?.hash).toBe('b');

    // signed-out sessions: refused until they expire, then forgotten
    await store.credentials.revokeSession('s1', 100);
    await store.credentials.revokeSession('s1', 100);
    await store.credentials.revokeSession('s2', 300);
    expect(await store.credentials.isSessionRevoked('s1')).toBe(true);
    expect(await store.credentials.isSessionRevoked('s3')).toBe(false);
    expect(await store.credentials.pruneRevokedSessions(200)).toBe(1);
    expect(await store.credentials.isSessionRevoked('s1')).toBe(false);
    expect(await store.credentials.isSessionRevoked('s2')).toBe(true);
  });

  it('leases: one holder at a time, renewed by it, taken by another once expired or released', async () => {
    expect(await store.leases.acquire('rollouts', 'a', 60_000)).toBe(true);
    expect(await store.leases.acquire('rollouts', 'b', 60_000)).toBe(false);
    expect(await store.leases.acquire('rollouts', 'a', 60_000)).toBe(true); // renewed
    expect(await store.leases.holder('rollouts')).toBe('a');
    expect(await store.leases.acquire('alerts', 'b', 60_000)).toBe(true); // another name
    await store.leases.release('rollouts', 'b'); // not b's: nothing happens
    expect(await store.leases.acquire('rollouts', 'b', 60_000)).toBe(false);
    await store.leases.release('rollouts', 'a');
    expect(await store.leases.acquire('rollouts', 'b', 200)).toBe(true);
    // b stops renewing: a gets it once it has expired, not before.
    const tookAt = Date.now();
    await waitFor(() => store.leases.acquire('rollouts', 'a', 60_000), 5000, 'the lease to expire');
    expect(Date.now() - tookAt).toBeGreaterThanOrEqual(150);
  });

  it('bus: a batch is announced if and only if it commits; publish reaches every listener', async () => {
    const heard: string[] = [];
    // PostgreSQL: a second instance on the same data hears it; SQLite has one instance only.
    const other = kind === 'postgres' ? await openStore(location) : store;
    try {
      other.bus.subscribe((m) => heard.push(m));
      await commit(
        store.ingest,
        rowsOf([{ kind: 'faces', data: facesMessage('cam-1', 1) }]),
        [],
        (stored) => [`batch ${[...stored].join('')}`],
      );
      await query(store, 'ALTER TABLE face_windows RENAME TO face_windows_away');
      await expect(
        commit(
          store.ingest,
          rowsOf([{ kind: 'faces', data: facesMessage('cam-1', 2) }]),
          [],
          () => ['never'],
        ),
      ).rejects.toThrow();
      await query(store, 'ALTER TABLE face_windows_away RENAME TO face_windows');
      await store.bus.publish('changed');
      await waitFor(() => heard.includes('changed'), 5000, 'the published message');
      expect(heard).toEqual(['batch 1', 'changed']);
    } finally {
      if (other !== store) await other.close();
    }
  });

  it('answers ping and keeps its data across close and reopen', async () => {
    expect(await store.ping()).toBe(true);
    await enroll('cam-1');
    await store.close();
    // Migrations ran once: opening again finds the tables and the row.
    store = await openStore(location);
    expect(await store.devices.ids()).toEqual(['cam-1']);
  });
});

function rollout(id: string): RolloutRow {
  return {
    id,
    engineId: 'e1',
    selector: '{}',
    canaryShare: 0.1,
    holdS: 0,
    failureLimit: 0,
    minFpsRatio: 0.9,
    apTolerance: 1,
    gateHoldS: 1,
    state: 'canary',
    pausedFrom: null,
    canaryDoneAt: null,
    reason: null,
    createdAt: 1,
    updatedAt: 1,
  };
}

function target(rolloutId: string, deviceId: string): RolloutTargetRow {
  return {
    rolloutId,
    deviceId,
    stage: 'rest',
    state: 'pending',
    previousEngineId: null,
    rev: null,
    reason: null,
    gateJson: null,
    updatedAt: 1,
  };
}

describe('SQLite file permissions', () => {
  it('makes the database, its WAL and -shm 0600 and a new folder 0700, even under umask 022', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-store-mode-'));
    const old = process.umask(0o022);
    try {
      const file = join(dir, 'data', 'facefleet.db');
      const store = await openStore(file);
      await store.devices.insert({
        id: 'a',
        deviceClass: 'x',
        tags: [],
        tokenHash: 'h',
        createdAt: 1,
      });
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      }
      expect((statSync(join(dir, 'data')).mode & 0o777).toString(8)).toBe('700');
      await store.close();
      // a database made readable by others before is made private again when it opens
      chmodSync(file, 0o644);
      const again = await openStore(file);
      expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      await again.close();
    } finally {
      process.umask(old);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('packMessages', () => {
  it('packs items into messages under the limit and leaves out what can never fit', async () => {
    const { packMessages } = await import('./bus.js');
    const items = Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(90) }));
    const { messages, dropped } = packMessages([...items, { huge: 'y'.repeat(2000) }], 1000);
    expect(dropped).toBe(1);
    expect(messages.every((m) => Buffer.byteLength(m) <= 1000)).toBe(true);
    expect(messages.flatMap((m) => JSON.parse(m) as unknown[])).toEqual(items);
  });
});
