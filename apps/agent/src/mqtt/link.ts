import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP, connect as netConnect } from 'node:net';
import type * as Tls from 'node:tls';
import { agentClientId, topics } from '@facefleet/protocol';
import { type IClientOptions, MqttClient, type StreamBuilder } from 'mqtt';
import type { Logger } from 'pino';
import type * as Ws from 'ws';
import type { Outbox } from '../outbox/outbox.js';

export interface MqttLinkOptions {
  url: string;
  deviceId: string;
  token: string;
  outbox: Outbox;
  log: Logger;
  /** Messages handed to MQTT and not yet acknowledged at once. */
  inflight: number;
  keepaliveS: number;
  reconnectMs: number;
  /** The CA the broker's certificate must chain to (mqtts://, wss://); default: the system's. */
  caFile?: string | undefined;
  /**
   * The device certificate and key (mqtts://, wss://): the login is by certificate, and the token
   * is not sent.
   */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** The retained offline status the broker publishes if the link dies (built with a fresh seq). */
  will: (seq: number) => unknown;
  /** Called after every (re)connect, once subscribed: the agent queues its current status. */
  onConnect?: () => void;
  /** A message on the device's own `desired` topic (an empty payload when it was cleared). */
  onDesired?: (payload: Buffer) => void;
}

export interface MqttLink {
  /** Sends what the outbox holds, as far as the in-flight window allows. Call after enqueueing. */
  pump(): void;
  connected(): boolean;
  /** The seq reserved for the will of the current (or next) connection. */
  willSeq(): number;
  /** Waits until the outbox is empty or the deadline passes; true when it emptied. */
  drain(timeoutMs: number): Promise<boolean>;
  /** Disconnects cleanly (no will); messages not acknowledged stay in the outbox for the next start. */
  close(): Promise<void>;
}

/** What the agent presents over TLS: the CA it trusts, and its device certificate and key. */
export interface BrokerTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

/**
 * The connection to the broker for mqtt.js's `new MqttClient(streamBuilder, options)`: TCP for
 * mqtt://, TLS for mqtts://, WebSocket for ws:// and secure WebSocket for wss:// (verifying the
 * broker's certificate, against `tls.ca` when given, and presenting the device certificate when
 * given; TLS 1.2 at least), the scheme's default port when the URL names none. It does what
 * `mqtt.connect()` does for these schemes, without what `mqtt.connect()` loads first: every
 * transport mqtt.js knows (WebSocket, SOCKS, TLS), ~350 KB of code and ~3 MB of RSS the agent
 * would never use (`pnpm bench agent`). node:tls and `ws` are loaded only for the schemes that
 * need them (`ws` from the agent's node_modules, not from the bundle).
 */
export function brokerStream(url: string, tls: BrokerTls = {}): StreamBuilder {
  const u = new URL(url);
  // URL keeps the brackets of an IPv6 literal; net and tls want the bare address
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const require = createRequire(import.meta.url);
  const secure = {
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2' as const,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  };
  switch (u.protocol) {
    case 'mqtt:': {
      const port = Number(u.port || 1883);
      return () => netConnect({ host, port });
    }
    case 'mqtts:': {
      const port = Number(u.port || 8883);
      const { connect } = require('node:tls') as typeof Tls;
      return () =>
        connect({
          host,
          port,
          // SNI only for a name, not for an address (RFC 6066)
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...secure,
        });
    }
    case 'ws:':
    case 'wss:': {
      const { WebSocket, createWebSocketStream } = require('ws') as typeof Ws;
      return () => {
        const socket = new WebSocket(url, ['mqtt'], {
          perMessageDeflate: false,
          ...(u.protocol === 'wss:' ? secure : {}),
        });
        const stream = createWebSocketStream(socket);
        socket.on('close', () => stream.destroy());
        return stream;
      };
    }
    default:
      throw new Error(`broker URL ${url}: not mqtt://, mqtts://, ws:// or wss://`);
  }
}

/**
 * The device's MQTT connection. The SQLite outbox, not the MQTT session, is the source of truth:
 * `clean: true`, and every message leaves the outbox only on its PUBACK. Messages handed to mqtt.js
 * stay in its in-memory store across reconnects (it re-sends them first, in order, on reconnect),
 * so within one process nothing is sent twice on purpose; after a restart everything unacknowledged
 * is sent again from the outbox, and the control plane de-duplicates by (deviceId, seq).
 * At most `inflight` messages are outstanding, so a long outage costs no memory.
 */
export function createMqttLink(options: MqttLinkOptions): MqttLink {
  const { outbox, log } = options;
  const statusTopic = topics.status(options.deviceId);
  const desiredTopic = topics.desired(options.deviceId);
  let inflight = 0;
  let closing = false;
  const drainWaiters = new Set<() => void>();

  /** The seq of the will the current (or next) connection carries. */
  let willSeq = -1;
  /** Whether a connection carrying that will was established (a refused attempt does not use it). */
  let willUsed = false;
  const willFor = (): NonNullable<IClientOptions['will']> => {
    willSeq = outbox.reserveSeq();
    willUsed = false;
    return {
      topic: statusTopic,
      payload: Buffer.from(JSON.stringify(options.will(willSeq))),
      qos: 1,
      retain: true,
    };
  };

  const clientOptions: IClientOptions = {
    clientId: agentClientId(options.deviceId),
    username: options.deviceId,
    // with a device certificate the login is by the certificate: the token stays on the device
    ...(options.certFile ? {} : { password: options.token }),
    clean: true,
    keepalive: options.keepaliveS,
    reconnectPeriod: options.reconnectMs,
    connectTimeout: 10_000,
    protocolVersion: 4,
    // mqtt-packet's cache of the 65,536 two-byte packet ids: 65,536 Buffer objects, ~7 MB of heap
    // for a client that has at most `inflight` ids in use (pnpm bench agent)
    writeCache: false,
    will: willFor(),
  };
  const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const client = new MqttClient(
    brokerStream(options.url, {
      ca: read(options.caFile),
      cert: read(options.certFile),
      key: read(options.keyFile),
    }),
    clientOptions,
  );

  const notifyDrained = () => {
    if (outbox.pending() === 0) for (const w of drainWaiters) w();
  };

  function pump(): void {
    if (!client.connected || closing) return;
    const room = options.inflight - inflight;
    if (room <= 0) return;
    for (const m of outbox.claim(room)) {
      inflight += 1;
      client.publish(m.topic, m.payload, { qos: 1, retain: m.retain }, (err) => {
        inflight -= 1;
        if (err) {
          // only when the client is ended: the message stays in the outbox for the next start
          log.debug({ seq: m.seq, err: err.message }, 'publish not acknowledged');
          return;
        }
        outbox.ack(m.seq);
        notifyDrained();
        pump();
      });
    }
  }

  client.on('connect', () => {
    willUsed = true;
    log.info({ url: options.url }, 'mqtt connected');
    client.subscribe(desiredTopic, { qos: 1 }, (err) => {
      if (err)
        log.error({ err: err.message, topic: desiredTopic }, 'cannot subscribe to desired state');
    });
    options.onConnect?.();
    pump();
  });
  client.on('message', (topic, payload) => {
    if (topic === desiredTopic) options.onDesired?.(payload);
  });
  client.on('close', () => {
    if (closing) return;
    log.warn('mqtt connection closed; reconnecting');
    // The next connection carries a will with a fresh seq, once this one's was used: attempts
    // that never connected keep theirs, so a long outage does not burn a seq per attempt (each
    // unused one would look like a lost message to the control plane).
    if (willUsed) client.options.will = willFor();
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt error'));

  return {
    pump,
    connected: () => client.connected,
    willSeq: () => willSeq,
    drain(timeoutMs) {
      if (outbox.pending() === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          drainWaiters.delete(onDrained);
          resolve(ok);
        };
        const onDrained = () => done(true);
        const timer = setTimeout(() => done(outbox.pending() === 0), timeoutMs);
        drainWaiters.add(onDrained);
        pump();
      });
    },
    async close() {
      closing = true;
      outbox.flushAcks();
      // a clean DISCONNECT (no will); forced if the broker does not answer in time
      const ended = client.endAsync(false);
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2000).unref());
      if ((await Promise.race([ended, timeout])) === 'timeout') await client.endAsync(true);
      outbox.flushAcks();
    },
  };
}
