import {
  type Desired,
  type EngineRef,
  examples,
  type Faces,
  facesSchema,
  type Metrics,
  metricsSchema,
  parsePayload,
  type Reported,
  reportedSchema,
  type Status,
  statusSchema,
  topics,
} from '@facefleet/protocol';
import mqtt, { type MqttClient } from 'mqtt';

/**
 * Simulated devices for the browser tests: real mqtt.js clients that log in with enrolled device
 * credentials, publish protocol-valid status, faces and metrics (each validated by the protocol's
 * own schema before it is sent), and answer `desired` with `reported` as the agent does.
 *
 * This is the one file to swap for the CLI's fleet simulator (`facefleet simulate`) once it lands.
 */

export interface SimulatedDeviceOptions {
  mqttUrl: string;
  id: string;
  token: string;
  deviceClass: Status['deviceClass'];
  /** Inference FPS it reports (compare with the class's model-card figure). */
  inferFps: number;
  /** Publish metrics every this many ms (0: only when asked). */
  metricsEveryMs?: number;
}

export interface SimulatedDevice {
  id: string;
  /** Publishes one face-count window whose max and last are `count`. */
  faces(count: number): Promise<void>;
  metrics(): Promise<void>;
  /** Engine updates it applied, in order. */
  applied: string[];
  close(): Promise<void>;
}

const SHA = 'a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00';

export async function startSimulatedDevice(o: SimulatedDeviceOptions): Promise<SimulatedDevice> {
  let seq = 1;
  let engine: EngineRef | null = {
    id: `factory-${o.deviceClass}`,
    sha256: SHA,
    backend: 'tensorrt',
    model: 'detectnet_v2',
  };
  const startedAt = Date.now();
  const status = (state: Status['state']): string =>
    JSON.stringify(
      parsePayload(
        statusSchema,
        {
          ...examples.status,
          deviceId: o.id,
          seq: seq++,
          ts: Date.now(),
          state,
          deviceClass: o.deviceClass,
          agent: { version: '0.1.0', startedAt },
          engine,
        } satisfies Status,
        'status',
      ),
    );

  const client: MqttClient = await new Promise((resolve, reject) => {
    const c = mqtt.connect(o.mqttUrl, {
      username: o.id,
      password: o.token,
      clientId: o.id,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      will: {
        topic: topics.status(o.id),
        payload: Buffer.from(status('offline')),
        qos: 1,
        retain: true,
      },
    });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  const publish = (topic: string, payload: string, retain = false) =>
    client.publishAsync(topic, payload, { qos: 1, retain }).then(() => {});

  const applied: string[] = [];
  client.on('message', (_topic, payload) => {
    if (payload.length === 0) return;
    const desired = JSON.parse(payload.toString()) as Desired;
    if (!desired.engine) return;
    const previous = engine;
    engine = {
      id: desired.engine.id,
      sha256: desired.engine.sha256,
      backend: desired.engine.backend,
      model: desired.engine.model,
    };
    applied.push(desired.engine.id);
    const report: Reported = {
      v: 1,
      deviceId: o.id,
      seq: seq++,
      ts: Date.now(),
      rev: desired.rev,
      engine,
      previousEngine: previous,
      update: {
        state: 'applied',
        engineId: desired.engine.id,
        rolloutId: desired.rolloutId,
        progress: 1,
        reason: null,
      },
      engineBench: null,
      outboxDropped: 0,
    };
    void publish(
      topics.reported(o.id),
      JSON.stringify(parsePayload(reportedSchema, report, 'reported')),
    )
      .then(() => publish(topics.status(o.id), status('online'), true))
      .catch(() => {});
  });
  await client.subscribeAsync(topics.desired(o.id), { qos: 1 });
  await publish(topics.status(o.id), status('online'), true);

  const device: SimulatedDevice = {
    id: o.id,
    applied,
    async faces(count) {
      const ts = Date.now();
      const message: Faces = {
        v: 1,
        deviceId: o.id,
        seq: seq++,
        ts,
        start: ts - 1000,
        end: ts,
        frames: 30,
        last: count,
        min: Math.max(0, count - 1),
        max: count,
        mean: Math.max(0, count - 0.5),
      };
      await publish(
        topics.faces(o.id),
        JSON.stringify(parsePayload(facesSchema, message, 'faces')),
      );
    },
    async metrics() {
      const jitter = 1 + (Math.random() - 0.5) * 0.04;
      const message: Metrics = {
        ...examples.metrics,
        deviceId: o.id,
        seq: seq++,
        ts: Date.now(),
        runner: {
          ...examples.metrics.runner,
          inferFps: o.inferFps * jitter,
          fps: Math.min(30, o.inferFps) * jitter,
          latencyMs: { p50: 1000 / o.inferFps, p95: 1100 / o.inferFps, p99: 1250 / o.inferFps },
        },
        device: {
          ...examples.metrics.device,
          deviceClass: o.deviceClass,
          cpuPct: [...examples.metrics.device.cpuPct],
          tempsC: { CPU: 47.5 * jitter, GPU: 46 * jitter, AO: 44.5 },
        },
      };
      await publish(
        topics.metrics(o.id),
        JSON.stringify(parsePayload(metricsSchema, message, 'metrics')),
      );
    },
    async close() {
      clearInterval(timer);
      // A clean disconnect does not send the will: say offline first, as the agent does on SIGTERM.
      if (client.connected)
        await publish(topics.status(o.id), status('offline'), true).catch(() => {});
      await client.endAsync(true);
    },
  };
  const timer = o.metricsEveryMs
    ? setInterval(() => void device.metrics().catch(() => {}), o.metricsEveryMs)
    : undefined;
  await device.metrics();
  return device;
}
