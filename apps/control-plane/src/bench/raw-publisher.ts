import { connect, type Socket } from 'node:net';

/**
 * A minimal MQTT 3.1.1 publisher for the load generator: CONNECT with username/password, QoS 1
 * PUBLISH, PUBACK matching by packet id — nothing else (no store, no reconnect, no subscriptions).
 * mqtt.js spends several times the broker's CPU per message on the client side; on a 2-core machine
 * that made the generator, not the broker under test, the bottleneck of the peak phase.
 */

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function encodeConnect(clientId: string, username: string, password: string): Buffer {
  const body = Buffer.concat([
    utf8Field('MQTT'),
    Buffer.from([4, 0b1100_0010, 0x02, 0x58]), // level 4; username, password, clean; keepalive 600 s
    utf8Field(clientId),
    utf8Field(username),
    utf8Field(password),
  ]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

export function encodePublishQos1(topic: string, id: number, payload: string): Buffer {
  const topicLen = Buffer.byteLength(topic);
  const payloadLen = Buffer.byteLength(payload);
  const rest = 2 + topicLen + 2 + payloadLen;
  const header = remainingLength(rest);
  const buf = Buffer.allocUnsafe(1 + header.length + rest);
  let o = 0;
  buf[o++] = 0x32; // PUBLISH, QoS 1
  for (const b of header) buf[o++] = b;
  buf.writeUInt16BE(topicLen, o);
  o += 2;
  o += buf.write(topic, o, 'utf8');
  buf.writeUInt16BE(id, o);
  o += 2;
  buf.write(payload, o, 'utf8');
  return buf;
}

export class ConnectRefused extends Error {}

export class RawPublisher {
  private socket: Socket;
  private nextId = 1;
  private readonly waiting = new Map<number, (err?: Error) => void>();
  private rx = Buffer.alloc(0);
  private onConnack: ((code: number) => void) | undefined;
  private closedError: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.receive(chunk));
    const fail = (err: Error) => {
      this.closedError = err;
      for (const done of this.waiting.values()) done(err);
      this.waiting.clear();
      this.onConnack?.(-1);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(
    host: string,
    port: number,
    clientId: string,
    username: string,
    password: string,
  ): Promise<RawPublisher> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      const p = new RawPublisher(socket);
      p.onConnack = (code) => {
        p.onConnack = undefined;
        if (code === 0) resolve(p);
        else {
          socket.destroy();
          reject(new ConnectRefused(`CONNACK return code ${code} for ${clientId}`));
        }
      };
      socket.once('connect', () => socket.write(encodeConnect(clientId, username, password)));
    });
  }

  /** Publishes with QoS 1; calls back on the PUBACK (or with the error that closed the link). */
  publish(topic: string, payload: string, done: (err?: Error) => void): void {
    if (this.closedError) {
      done(this.closedError);
      return;
    }
    let id = this.nextId;
    while (this.waiting.has(id)) id = (id % 65535) + 1;
    this.nextId = (id % 65535) + 1;
    this.waiting.set(id, done);
    this.socket.write(encodePublishQos1(topic, id, payload));
  }

  private receive(chunk: Buffer): void {
    let buf = this.rx.length > 0 ? Buffer.concat([this.rx, chunk]) : chunk;
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
      const type = buf[o]! >> 4;
      if (type === 4 && len >= 2) {
        const id = buf.readUInt16BE(i);
        const done = this.waiting.get(id);
        this.waiting.delete(id);
        done?.();
      } else if (type === 2 && len >= 2) {
        this.onConnack?.(buf[i + 1]!);
      }
      o = i + len;
    }
    buf = buf.subarray(o);
    this.rx = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }

  /** DISCONNECT, then waits for the socket to close (destroying it after `timeoutMs`). */
  end(timeoutMs = 5000): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end(Buffer.from([0xe0, 0x00]));
    });
  }
}
