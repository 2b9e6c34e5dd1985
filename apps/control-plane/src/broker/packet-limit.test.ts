import { PassThrough } from 'node:stream';
import { encodeLength, encodePublish } from '@facefleet/test-support';
import { describe, expect, it } from 'vitest';
import { createPacketScanner, limitPacketSize } from './packet-limit.js';

/** Splits bytes into pieces of the given sizes (repeating), as a socket might deliver them. */
function pieces(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0, i = 0; o < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(bytes.subarray(o, o + n));
    o += n;
  }
  return out;
}

describe('createPacketScanner', () => {
  const stream = Buffer.concat([
    encodePublish('a/b', 'x'.repeat(10), 1, 1),
    Buffer.from([0xc0, 0x00]), // PINGREQ: no body
    encodePublish('a/b', 'y'.repeat(20_000), 1, 2), // a 3-byte length
    encodePublish('a/b', '', 0, 0),
    encodePublish('a/b', 'z'.repeat(99_000), 1, 3),
  ]);

  it('passes packets up to the limit however the bytes are split', () => {
    for (const sizes of [[1], [2, 3], [7, 1, 4096], [stream.length]]) {
      const scanner = createPacketScanner(100_000);
      const seen = pieces(stream, sizes).map((p) => scanner.feed(p));
      expect(seen.filter((n) => n !== undefined)).toEqual([]);
    }
  });

  it('reports the first packet over the limit as soon as its length is read', () => {
    for (const sizes of [[1], [5, 2], [stream.length]]) {
      const scanner = createPacketScanner(50_000);
      const seen = pieces(stream, sizes)
        .map((p) => scanner.feed(p))
        .find((n) => n !== undefined);
      expect(seen).toBeGreaterThan(50_000);
      expect(seen).toBeLessThan(100_000);
    }
    // a 4-byte length of 200 MB, with no body sent at all
    const header = Buffer.from([0x30, ...encodeLength(200_000_000)]);
    expect(createPacketScanner(1 << 20).feed(header)).toBeGreaterThan(1 << 20);
  });
});

describe('limitPacketSize', () => {
  /** Reads the way aedes does: `read()` on every 'readable'. */
  function drain(conn: PassThrough, into: Buffer[]) {
    conn.on('readable', () => {
      for (let b = conn.read() as Buffer | null; b; b = conn.read() as Buffer | null) into.push(b);
    });
  }

  it('passes bytes through and ends the connection on an oversized packet', async () => {
    const conn = new PassThrough();
    const announced: number[] = [];
    limitPacketSize(conn, 1000, (n) => announced.push(n));
    const read: Buffer[] = [];
    drain(conn, read);
    const ok = encodePublish('t', 'hello', 0, 0);
    conn.write(ok);
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(read)).toEqual(ok);
    const closed = new Promise((r) => conn.once('close', r));
    conn.write(Buffer.concat([Buffer.from([0x30, ...encodeLength(5000)]), Buffer.alloc(100)]));
    await closed;
    expect(announced).toEqual([5000]);
    expect(conn.destroyed).toBe(true);
    // nothing of the oversized packet reached the reader
    expect(Buffer.concat(read)).toEqual(ok);
  });
});
