import { generateKeyPairSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EngineRef, examples, type RunnerFrame } from '@facefleet/protocol';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type DetectionSource } from './agent.js';
import { configSchema } from './config.js';
import type { HealthCollector } from './health/collector.js';
import { openOutbox } from './outbox/outbox.js';
import type { RunnerSupervisorEvents, SupervisorSnapshot } from './runner/supervisor.js';
import { type Broker, createBroker } from './test-support/mosquitto.js';
import { subscribe } from './test-support/subscriber.js';
import { waitFor } from './test-support/wait.js';

/**
 * The seams the fleet simulator uses: a detection source in place of the runner process, an
 * in-memory outbox and injected device health. The agent itself runs in-process against a real
 * Mosquitto; what it publishes must come from the injected parts.
 */
let broker: Broker;
beforeAll(async () => {
  broker = await createBroker();
});
afterAll(async () => {
  await broker?.stop();
});

/** A hand-driven detection source: the test emits hello, frames and state changes itself. */
function handSource(engine: () => EngineRef) {
  const emitter = new EventEmitter<RunnerSupervisorEvents>();
  let snap: SupervisorSnapshot = {
    state: 'stopped',
    pid: null,
    restarts: 0,
    crashLoop: false,
    invalidLines: 0,
    lastExit: null,
  };
  const engines: string[] = [];
  const source = Object.assign(emitter, {
    start() {
      engines.push(engine().id);
      snap = { ...snap, state: 'running', pid: 4242 };
      emitter.emit('spawn', 4242);
      emitter.emit('state', snap);
    },
    async stop() {
      snap = { ...snap, state: 'stopped', pid: null };
    },
    async restart() {
      engines.push(engine().id);
    },
    snapshot: () => snap,
    frame(faces: number) {
      const f: RunnerFrame = {
        type: 'frame',
        index: 0,
        ts: Date.now(),
        width: 1280,
        height: 720,
        faces,
        boxes: [],
        ms: { capture: 0.5, pre: 1, infer: 3, post: 0.3, total: 4.8 },
      };
      emitter.emit('frame', f);
    },
    crashLoop() {
      snap = { ...snap, state: 'crashloop', crashLoop: true, restarts: 5 };
      emitter.emit('state', snap);
    },
  });
  return { source: source as DetectionSource & typeof source, engines };
}

describe('agent seams: injected detection source, outbox and health', () => {
  it('publishes faces and metrics from the injected parts, and degraded when the source crash-loops', async () => {
    const id = 'seam-1';
    const config = configSchema.parse({
      deviceId: id,
      deviceToken: 'tok',
      brokerUrl: broker.url,
      controlPlaneUrl: 'http://127.0.0.1:9',
      dataDir: mkdtempSync(join(tmpdir(), 'ff-seam-')),
      fleetPublicKey: generateKeyPairSync('ed25519')
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString(),
      deviceClass: 'jetson-xavier-nx',
      runner: { bin: 'unused', bootstrapModel: '/nonexistent/model.plan', source: 'unused' },
      publish: { facesWindowS: 0.2, metricsIntervalS: 0.2, boxes: false },
    });
    let hand: ReturnType<typeof handSource> | undefined;
    const health: HealthCollector = {
      start() {},
      async stop() {},
      sample: () => ({ ...examples.metrics.device, deviceClass: 'jetson-xavier-nx' }),
    };
    const outbox = openOutbox({ path: ':memory:', maxMessages: 100 });
    const sub = await subscribe(broker.url, `facefleet/v1/devices/${id}/#`);
    const agent = createAgent({
      config,
      log: pino({ level: 'silent' }),
      version: 'test',
      outbox,
      health,
      source: (engine) => {
        hand = handSource(engine);
        return hand.source;
      },
    });
    agent.start();
    await waitFor(() => agent.connected(), { what: 'connected' });
    expect(hand?.engines).toEqual(['bootstrap']); // the source read the current engine at start
    const frames = setInterval(() => hand?.source.frame(7), 10);
    await waitFor(
      () => sub.received.some((r) => r.topic.endsWith('/faces') && r.payload.max === 7),
      { what: 'a faces window with 7 faces' },
    );
    await waitFor(
      () =>
        sub.received.some(
          (r) =>
            r.topic.endsWith('/metrics') &&
            (r.payload.device as { model: string }).model === examples.metrics.device.model &&
            (r.payload.runner as { inferFps: number } | null)?.inferFps === 333.333,
        ),
      { what: 'metrics with the injected health and the source inference time' },
    );
    hand?.source.crashLoop();
    await waitFor(
      () => sub.received.some((r) => r.topic.endsWith('/status') && r.payload.state === 'degraded'),
      { what: 'degraded status' },
    );
    clearInterval(frames);
    await agent.stop();
    await waitFor(
      () =>
        sub.received.filter((r) => r.topic.endsWith('/status')).at(-1)?.payload.state === 'offline',
      { what: 'offline status' },
    );
    expect(agent.connected()).toBe(false);
    await sub.close();
  });
});
