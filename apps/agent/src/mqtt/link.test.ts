import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@facefleet/protocol';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOutbox } from '../outbox/outbox.js';
import { type Broker, createBroker, makeTestCertificates } from '../test-support/mosquitto.js';
import { subscribe } from '../test-support/subscriber.js';
import { waitFor } from '../test-support/wait.js';
import { brokerStream, createMqttLink, type MqttLinkOptions } from './link.js';

const log = pino({ level: 'silent' });
let broker: Broker;
beforeAll(async () => {
  broker = await createBroker();
});
afterAll(async () => {
  await broker.stop();
});

/** A link for device `id` with an outbox of its own in `dir` and short timers; `options` override. */
function openLink(dir: string, id: string, options: Partial<MqttLinkOptions> & { url: string }) {
  const outbox = openOutbox({ path: join(dir, `${id}.db`), maxMessages: 100 });
  const link = createMqttLink({
    deviceId: id,
    token: 't',
    outbox,
    log,
    inflight: 4,
    keepaliveS: 5,
    reconnectMs: 200,
    will: (seq) => ({ seq, state: 'offline' }),
    ...options,
  });
  return { link, outbox };
}

describe('mqtt link over a real Mosquitto broker', () => {
  it('delivers the outbox in order, across a broker restart, each message once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-link-'));
    const outbox = openOutbox({ path: join(dir, 'agent.db'), maxMessages: 10_000 });
    const sub = await subscribe(broker.url, 'facefleet/v1/devices/cam-1/#');
    const desired: string[] = [];
    const link = createMqttLink({
      url: broker.url,
      deviceId: 'cam-1',
      token: 't',
      outbox,
      log,
      inflight: 4,
      keepaliveS: 5,
      reconnectMs: 200,
      will: (seq) => ({ seq, state: 'offline' }),
      onDesired: (p) => desired.push(p.toString()),
    });
    const put = (n: number) => {
      for (let i = 0; i < n; i++) {
        outbox.enqueue({ kind: 'faces', topic: topics.faces('cam-1'), build: (seq) => ({ seq }) });
      }
      link.pump();
    };
    await waitFor(() => link.connected(), { what: 'link to connect' });
    put(50);
    await waitFor(() => outbox.pending() === 0, { what: 'first 50 acked' });

    await broker.stop();
    await waitFor(() => !link.connected(), { what: 'link to notice the broker is gone' });
    put(30); // queued while the broker is down
    expect(outbox.pending()).toBe(30);
    await broker.start();
    await waitFor(() => outbox.pending() === 0, {
      timeoutMs: 15_000,
      what: 'backlog acked after restart',
    });
    await waitFor(() => new Set(sub.seqs('faces')).size === 80, {
      what: 'subscriber to get all 80',
    }).catch((err) => {
      const got = new Set(sub.seqs('faces'));
      const missing = Array.from({ length: 80 }, (_, i) => i + 1).filter((i) => !got.has(i));
      throw new Error(`${(err as Error).message}; missing seqs ${missing.join(',')}`);
    });
    const faces = sub.seqs('faces');
    // every seq exactly once after de-duplication, and in order
    const firstSeen = faces.filter((s, i) => faces.indexOf(s) === i);
    const fromOutbox = firstSeen.filter((s) => s >= 0);
    expect(fromOutbox).toEqual([...fromOutbox].sort((a, b) => a - b));
    expect(new Set(faces).size).toBe(80);

    // desired state published by the control plane reaches the agent
    await sub.client.publishAsync(topics.desired('cam-1'), '{"rev":1}', { qos: 1, retain: true });
    await waitFor(() => desired.length === 1, { what: 'desired to arrive' });
    expect(desired[0]).toBe('{"rev":1}');

    await link.close();
    await sub.close();
    outbox.close();
  });
});

describe('the will seq', () => {
  it('reserves one seq per connection made, not one per failed attempt while the broker is down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-link-will-'));
    const outbox = openOutbox({ path: join(dir, 'agent.db'), maxMessages: 10_000 });
    const link = createMqttLink({
      url: broker.url,
      deviceId: 'cam-will',
      token: 't',
      outbox,
      log,
      inflight: 4,
      keepaliveS: 5,
      reconnectMs: 100,
      will: (seq) => ({ seq, state: 'offline' }),
    });
    await waitFor(() => link.connected(), { what: 'link to connect' });
    const first = link.willSeq();
    await broker.stop();
    await waitFor(() => !link.connected(), { what: 'link to notice the broker is gone' });
    // about ten refused attempts at 100 ms
    await new Promise((r) => setTimeout(r, 1000));
    await broker.start();
    await waitFor(() => link.connected(), { timeoutMs: 15_000, what: 'link to reconnect' });
    // one new will seq for the one new connection; the next message follows it directly
    expect(link.willSeq()).toBe(first + 1);
    outbox.enqueue({ kind: 'faces', topic: topics.faces('cam-will'), build: (seq) => ({ seq }) });
    expect(outbox.claim(1)[0]?.seq).toBe(first + 2);
    await link.close();
    outbox.close();
  });
});

describe('mqtt link over TLS (mqtts://) to a real Mosquitto', () => {
  it('verifies the broker against the configured CA, and refuses a broker it cannot verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-tls-'));
    const certs = makeTestCertificates(dir);
    const tlsBroker = await createBroker({ tls: certs });
    const lines: { id: string; msg: string; err?: string }[] = [];
    const captured = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const open = (id: string, caFile?: string) =>
      openLink(dir, id, { url: tlsBroker.tlsUrl ?? '', log: captured.child({ id }), caFile });
    const certificateErrors = (id: string) =>
      lines.filter(
        (l) => l.id === id && l.msg === 'mqtt error' && /certificate/i.test(l.err ?? ''),
      );
    // the subscriber reads on the plain listener what the device published over TLS
    const sub = await subscribe(tlsBroker.url, 'facefleet/v1/devices/tls-ok/#');
    const ok = open('tls-ok', certs.caFile);
    const wrongCa = open('tls-wrong-ca', certs.otherCaFile);
    const noCa = open('tls-no-ca');
    try {
      await waitFor(() => ok.link.connected(), { what: 'the link with the right CA to connect' });
      ok.outbox.enqueue({
        kind: 'faces',
        topic: topics.faces('tls-ok'),
        build: (seq) => ({ seq }),
      });
      ok.link.pump();
      await waitFor(() => sub.seqs('faces').length === 1, { what: 'a message sent over TLS' });
      await waitFor(
        () =>
          certificateErrors('tls-wrong-ca').length > 0 && certificateErrors('tls-no-ca').length > 0,
        { what: 'both links that cannot verify the broker to report a certificate error' },
      );
      expect(wrongCa.link.connected()).toBe(false);
      expect(noCa.link.connected()).toBe(false);
      expect(wrongCa.outbox.pending() + noCa.outbox.pending()).toBe(0);
    } finally {
      await Promise.all([ok.link.close(), wrongCa.link.close(), noCa.link.close()]);
      for (const o of [ok, wrongCa, noCa]) o.outbox.close();
      await sub.close();
      await tlsBroker.stop();
    }
  });

  it('over wss:// and with a device certificate, the broker verified against the CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-tls-ws-'));
    const certs = makeTestCertificates(dir, 'tls-cert');
    const tlsBroker = await createBroker({ tls: certs });
    const open = (id: string, url: string, extra: Partial<MqttLinkOptions>) =>
      openLink(dir, id, { url, caFile: certs.caFile, ...extra });
    const sub = await subscribe(tlsBroker.url, 'facefleet/v1/devices/+/faces');
    // a listener that takes only client certificates of the CA, the CN as the username
    const byCert = open('tls-cert', tlsBroker.certUrl ?? '', certs.device);
    const noCert = open('tls-cert-missing', tlsBroker.certUrl ?? '', {});
    const overWss = open('tls-wss', tlsBroker.wssUrl ?? '', {});
    try {
      for (const [id, l] of [
        ['tls-cert', byCert],
        ['tls-wss', overWss],
      ] as const) {
        await waitFor(() => l.link.connected(), { what: `${id} to connect` });
        l.outbox.enqueue({ kind: 'faces', topic: topics.faces(id), build: (seq) => ({ seq }) });
        l.link.pump();
      }
      await waitFor(
        () =>
          sub.received.some((m) => m.topic === topics.faces('tls-cert')) &&
          sub.received.some((m) => m.topic === topics.faces('tls-wss')),
        { what: 'a message over the certificate login and one over wss://' },
      );
      expect(noCert.link.connected()).toBe(false);
    } finally {
      await Promise.all([byCert, noCert, overWss].map((l) => l.link.close()));
      for (const l of [byCert, noCert, overWss]) l.outbox.close();
      await sub.close();
      await tlsBroker.stop();
    }
  });

  it('refuses a broker URL that is not mqtt://, mqtts://, ws:// or wss://', () => {
    expect(() => brokerStream('http://broker.example')).toThrow(
      /not mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//,
    );
  });
});
