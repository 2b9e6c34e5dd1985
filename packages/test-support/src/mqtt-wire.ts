import { connect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

/**
 * A minimal MQTT 3.1.1 client that writes the wire format itself, for tests that must send what a
 * well-behaved client library refuses to (any topic, any bytes, a packet past a size limit, an
 * empty password) and must know exactly which QoS 1 publishes the broker acknowledged. It has no
 * store and no reconnect: a closed connection fails what was in flight, and the test decides.
 */

export interface WireClientOptions {
  port: number;
  host?: string;
  clientId: string;
  /** Left out: no username flag. */
  username?: string;
  /** Left out: no password flag; `''` sends an empty one. */
  password?: string;
  /** Default 60 s (nothing pings: keep tests shorter than 1.5 × this). */
  keepaliveS?: number;
  /** How long to wait for the CONNACK (default 10 s). */
  timeoutMs?: number;
  /**
   * MQTT over TLS: the CA the broker's certificate must chain to, and a client certificate and key
   * to present (PEM). A failed handshake rejects like a connection closed before the CONNACK.
   */
  tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'minVersion' | 'maxVersion'>;
}

export interface WireMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

export interface WireClient {
  /** The CONNACK return code: 0 accepted, 4 bad username or password, 5 not authorized. */
  returnCode: number;
  /** Publishes; QoS 1 resolves on the PUBACK, QoS 0 once written. Rejects if the link closes first. */
  publish(
    topic: string,
    payload: string | Uint8Array,
    options?: { qos?: 0 | 1; retain?: boolean },
  ): Promise<void>;
  /** QoS 1 publish without a promise (for floods): `done` on the PUBACK or with the closing error. */
  publishQos1(topic: string, payload: string | Uint8Array, done: (err?: Error) => void): void;
  /** Subscribes to one filter; resolves with the SUBACK's code (the granted QoS, or 128). */
  subscribe(filter: string, qos?: 0 | 1): Promise<number>;
  /** PUBLISH packets received so far (QoS 1 ones are acknowledged). */
  messages: WireMessage[];
  /** QoS 1 publishes sent and not acknowledged yet. */
  readonly inflight: number;
  /** Writes raw bytes; false when the socket is buffering. */
  write(bytes: Uint8Array): boolean;
  readonly closed: boolean;
  /** Resolves when the connection has closed (by either side). */
  whenClosed: Promise<void>;
  /** DISCONNECT, then waits for the close. */
  end(): Promise<void>;
  destroy(): void;
}

/** The MQTT "remaining length" varint. */
export function encodeLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function field(value: string | Uint8Array): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte, ...encodeLength(body.length)]), body]);
}

export function encodeConnect(o: WireClientOptions): Buffer {
  let flags = 0x02; // clean session
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  const keepalive = o.keepaliveS ?? 60;
  return packet(
    0x10,
    Buffer.concat([
      field('MQTT'),
      Buffer.from([4, flags, keepalive >> 8, keepalive & 0xff]),
      field(o.clientId),
      ...(o.username !== undefined ? [field(o.username)] : []),
      ...(o.password !== undefined ? [field(o.password)] : []),
    ]),
  );
}

/** One PUBLISH packet, written into a single buffer (the ingest load generator sends millions). */
export function encodePublish(
  topic: string,
  payload: string | Uint8Array,
  qos: 0 | 1,
  id: number,
  retain = false,
): Buffer {
  const topicLength = Buffer.byteLength(topic);
  const payloadLength =
    typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  const rest = 2 + topicLength + (qos > 0 ? 2 : 0) + payloadLength;
  const header = encodeLength(rest);
  const out = Buffer.allocUnsafe(1 + header.length + rest);
  let o = 0;
  out[o++] = 0x30 | (qos << 1) | (retain ? 1 : 0);
  for (const b of header) out[o++] = b;
  o = out.writeUInt16BE(topicLength, o);
  o += out.write(topic, o, 'utf8');
  if (qos > 0) o = out.writeUInt16BE(id, o);
  if (typeof payload === 'string') out.write(payload, o, 'utf8');
  else out.set(payload, o);
  return out;
}

/** Connects and resolves once the CONNACK arrived, whatever its code (check `returnCode`). */
export function connectWire(options: WireClientOptions): Promise<WireClient> {
  return new Promise((resolve, reject) => {
    const host = options.host ?? '127.0.0.1';
    const socket: Socket = options.tls
      ? tlsConnect({ host, port: options.port, ...options.tls })
      : connect(options.port, host);
    socket.setNoDelay(true);
    const waiting = new Map<number, (err?: Error) => void>();
    const subacks = new Map<number, (code: number) => void>();
    const messages: WireMessage[] = [];
    let nextId = 1;
    let rx = Buffer.alloc(0);
    let closedError: Error | undefined;
    let connack: ((code: number) => void) | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no CONNACK for ${options.clientId} within ${options.timeoutMs ?? 10_000} ms`),
      );
    }, options.timeoutMs ?? 10_000);

    const allocId = () => {
      let id = nextId;
      while (waiting.has(id) || subacks.has(id)) id = (id % 65535) + 1;
      nextId = (id % 65535) + 1;
      return id;
    };
    const whenClosed = new Promise<void>((done) => socket.once('close', () => done()));
    const fail = (err: Error) => {
      closedError ??= err;
      for (const done of waiting.values()) done(closedError);
      waiting.clear();
      for (const done of subacks.values()) done(-1);
      subacks.clear();
      if (connack) {
        connack = undefined;
        clearTimeout(timer);
        reject(new Error(`${options.clientId}: connection closed before CONNACK (${err.message})`));
      }
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));

    const onPacket = (type: number, flags: number, body: Buffer) => {
      if (type === 2 && body.length >= 2) connack?.(body[1]!);
      else if (type === 4 && body.length >= 2) {
        const id = body.readUInt16BE(0);
        const done = waiting.get(id);
        waiting.delete(id);
        done?.();
      } else if (type === 9 && body.length >= 3) {
        const id = body.readUInt16BE(0);
        const done = subacks.get(id);
        subacks.delete(id);
        done?.(body[2]!);
      } else if (type === 3) {
        const qos = (flags >> 1) & 3;
        const topicLen = body.readUInt16BE(0);
        const topic = body.subarray(2, 2 + topicLen).toString('utf8');
        let o = 2 + topicLen;
        if (qos > 0) {
          const id = body.readUInt16BE(o);
          o += 2;
          socket.write(Buffer.from([0x40, 2, id >> 8, id & 0xff]));
        }
        messages.push({
          topic,
          payload: Buffer.from(body.subarray(o)),
          qos,
          retain: (flags & 1) === 1,
        });
      }
    };
    socket.on('data', (chunk: Buffer) => {
      let buf = rx.length > 0 ? Buffer.concat([rx, chunk]) : chunk;
      let o = 0;
      while (buf.length - o >= 2) {
        let len = 0;
        let mul = 1;
        let i = o + 1;
        let complete = false;
        while (i < buf.length) {
          const b = buf[i++]!;
          len += (b & 0x7f) * mul;
          mul *= 128;
          if ((b & 0x80) === 0) {
            complete = true;
            break;
          }
        }
        if (!complete || buf.length - i < len) break;
        onPacket(buf[o]! >> 4, buf[o]! & 0x0f, buf.subarray(i, i + len));
        o = i + len;
      }
      buf = buf.subarray(o);
      rx = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
    });

    const client: WireClient = {
      returnCode: -1,
      messages,
      get inflight() {
        return waiting.size;
      },
      get closed() {
        return closedError !== undefined;
      },
      whenClosed,
      publishQos1(topic, payload, done) {
        if (closedError) {
          done(closedError);
          return;
        }
        const id = allocId();
        waiting.set(id, done);
        socket.write(encodePublish(topic, payload, 1, id));
      },
      publish(topic, payload, { qos = 1, retain = false } = {}) {
        if (closedError) return Promise.reject(closedError);
        if (qos === 0) {
          return new Promise((res, rej) =>
            socket.write(encodePublish(topic, payload, 0, 0, retain), (err) =>
              err ? rej(err) : res(),
            ),
          );
        }
        return new Promise((res, rej) => {
          const id = allocId();
          waiting.set(id, (err) => (err ? rej(err) : res()));
          socket.write(encodePublish(topic, payload, 1, id, retain));
        });
      },
      subscribe(filter, qos = 1) {
        if (closedError) return Promise.reject(closedError);
        return new Promise((res) => {
          const id = allocId();
          subacks.set(id, res);
          socket.write(
            packet(
              0x82,
              Buffer.concat([Buffer.from([id >> 8, id & 0xff]), field(filter), Buffer.from([qos])]),
            ),
          );
        });
      },
      write: (bytes) => socket.write(bytes),
      async end() {
        if (!closedError) socket.end(Buffer.from([0xe0, 0x00]));
        await whenClosed;
      },
      destroy: () => socket.destroy(),
    };
    connack = (code) => {
      connack = undefined;
      clearTimeout(timer);
      client.returnCode = code;
      resolve(client);
    };
    socket.once('connect', () => socket.write(encodeConnect(options)));
  });
}
