#!/usr/bin/env node
/**
 * Ingest load generator: N MQTT devices in one process, each publishing one faces window a second
 * (and metrics every tenth second) — the "held" phase — then as fast as a per-device in-flight
 * window allows — the "peak" phase. Prints `PHASE name start|end` lines and a final `RESULT {json}`.
 * Used by ingest-bench; talks to whatever broker it is pointed at, through a minimal MQTT client
 * (test-support's wire client: mqtt.js spent several times the broker's CPU per message on the
 * client side, which made the generator, not the broker under test, what limited the peak).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { examples, topics } from '@facefleet/protocol';
import { connectWire, type WireClient } from '@facefleet/test-support';
import { percentile } from './proc-stats.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    devices: { type: 'string', default: '100' },
    prefix: { type: 'string', default: 'bench' },
    token: { type: 'string', default: 'x' },
    'held-seconds': { type: 'string', default: '20' },
    'peak-seconds': { type: 'string', default: '10' },
    /** QoS 1 publishes each device keeps in flight at peak: the agent's outbox default (32). */
    'peak-inflight': { type: 'string', default: '32' },
    'connect-concurrency': { type: 'string', default: '100' },
    /** mqtts:// — the CA file the broker's certificate is checked against. */
    ca: { type: 'string' },
  },
});
const url = new URL(values.url ?? 'mqtt://127.0.0.1:1883');
const n = Number(values.devices);
const heldS = Number(values['held-seconds']);
const peakS = Number(values['peak-seconds']);
const peakInflight = Number(values['peak-inflight']);
const connectConcurrency = Number(values['connect-concurrency']);
const secure = url.protocol === 'mqtts:';
const tls = secure ? { ca: values.ca ? readFileSync(values.ca) : undefined } : undefined;

interface Device {
  id: string;
  client: WireClient;
  seq: number;
}

function facesMessage(d: Device): { topic: string; payload: string } {
  const now = Date.now();
  const msg = {
    ...examples.faces,
    deviceId: d.id,
    seq: d.seq++,
    ts: now,
    start: now - 1000,
    end: now,
  };
  return { topic: topics.faces(d.id), payload: JSON.stringify(msg) };
}
function metricsMessage(d: Device): { topic: string; payload: string } {
  const msg = { ...examples.metrics, deviceId: d.id, seq: d.seq++, ts: Date.now() };
  return { topic: topics.metrics(d.id), payload: JSON.stringify(msg) };
}

function publish(d: Device, m: { topic: string; payload: string }): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    d.client.publishQos1(m.topic, m.payload, (err) =>
      err ? reject(err) : resolve(performance.now() - t0),
    );
  });
}

async function connectAll(): Promise<Device[]> {
  const devices: Device[] = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const id = `${values.prefix}-${i}`;
      const client = await connectWire({
        host: url.hostname,
        port: Number(url.port || (secure ? 8883 : 1883)),
        ...(tls ? { tls } : {}),
        clientId: id,
        username: id,
        password: values.token ?? '',
        keepaliveS: 600,
        timeoutMs: 60_000,
      });
      if (client.returnCode !== 0) {
        client.destroy();
        throw new Error(`CONNACK return code ${client.returnCode} for ${id}`);
      }
      devices.push({ id, client, seq: 0 });
    }
  }
  await Promise.all(Array.from({ length: connectConcurrency }, worker));
  return devices;
}

const t0 = Date.now();
const devices = await connectAll();
const connectS = (Date.now() - t0) / 1000;
console.log(`connected ${devices.length} devices in ${connectS.toFixed(1)} s`);

// Held: every device once a second, spread evenly over the second in 10 ms slots. The slots due
// are computed from the clock, not counted from timer callbacks: when the generator's timer fires
// late (two busy cores), the slots it missed are sent at once, so the offered load stays N a second
// instead of sagging with the machine's load.
console.log('PHASE held start');
const latencies: number[] = [];
let errors = 0;
let heldPublished = 0;
const pending = new Set<Promise<unknown>>();
const track = (p: Promise<number>) => {
  const q = p.then(
    (ms) => latencies.push(ms),
    () => errors++,
  );
  pending.add(q);
  q.finally(() => pending.delete(q));
};
const slots = 100;
const slotMs = 1000 / slots;
const totalSlots = heldS * slots;
let tick = 0;
const heldStart = Date.now();
await new Promise<void>((resolve) => {
  const send = () => {
    const due = Math.min(totalSlots, Math.floor((Date.now() - heldStart) / slotMs) + 1);
    for (; tick < due; tick++) {
      const slot = tick % slots;
      const second = Math.floor(tick / slots);
      for (let i = slot; i < devices.length; i += slots) {
        const d = devices[i]!;
        track(publish(d, facesMessage(d)));
        heldPublished++;
        if ((second + i) % 10 === 0) {
          track(publish(d, metricsMessage(d)));
          heldPublished++;
        }
      }
    }
    if (tick >= totalSlots) {
      clearInterval(timer);
      resolve();
    }
  };
  const timer = setInterval(send, slotMs);
  send();
});
const heldPublishS = (Date.now() - heldStart) / 1000;
// Wait for the stragglers (at most a minute); the timer must not outlive them, or it alone keeps
// the process alive for that minute after the result is printed.
let drainTimer: NodeJS.Timeout | undefined;
await Promise.race([
  Promise.all(pending),
  new Promise((r) => {
    drainTimer = setTimeout(r, 60_000);
  }),
]);
clearTimeout(drainTimer);
console.log('PHASE held end');
latencies.sort((a, b) => a - b);
const held = {
  published: heldPublished,
  acked: latencies.length,
  errors,
  seconds: heldPublishS,
  ackedPerS: latencies.length / heldPublishS,
  p50Ms: percentile(latencies, 50),
  p99Ms: percentile(latencies, 99),
  maxMs: latencies.at(-1) ?? 0,
};

// Peak: each device keeps a window of QoS 1 publishes in flight until time is up.
console.log('PHASE peak start');
let peakAcked = 0;
const peakEnd = Date.now() + peakS * 1000;
const peakStart = Date.now();
await Promise.all(
  devices.map(async (d) => {
    const loop = async () => {
      while (Date.now() < peakEnd) {
        try {
          await publish(d, facesMessage(d));
          peakAcked++;
        } catch {
          errors++;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: peakInflight }, loop));
  }),
);
const peakSeconds = (Date.now() - peakStart) / 1000;
console.log('PHASE peak end');
const peak = { acked: peakAcked, seconds: peakSeconds, ackedPerS: peakAcked / peakSeconds };

const sent = devices.reduce((s, d) => s + d.seq, 0);
// DISCONNECT each; a connection the broker has not closed after 5 s is dropped.
await Promise.all(
  devices.map((d) =>
    Promise.race([
      d.client.end(),
      new Promise<void>((r) => setTimeout(r, 5000).unref()).then(() => d.client.destroy()),
    ]),
  ),
);
console.log(
  `RESULT ${JSON.stringify({ devices: devices.length, connectS, held, peak, sent, errors })}`,
);
