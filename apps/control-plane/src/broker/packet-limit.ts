import { Duplex } from 'node:stream';

/**
 * Reads MQTT fixed headers as bytes stream by and says when one announces a packet longer than
 * `maxBytes` (its "remaining length"). It only counts: the bytes after a header are skipped, not
 * parsed or kept.
 */
export function createPacketScanner(maxBytes: number) {
  // 0: expecting a fixed header's first byte; 1: reading its remaining-length varint; 2: skipping
  let state = 0;
  let length = 0;
  let multiplier = 1;
  let skip = 0;
  return {
    /** Scans `chunk`; returns the announced length of the first packet over the limit, if any. */
    feed(chunk: Uint8Array): number | undefined {
      let i = 0;
      while (i < chunk.length) {
        if (state === 2) {
          const n = Math.min(skip, chunk.length - i);
          skip -= n;
          i += n;
          if (skip === 0) state = 0;
          continue;
        }
        const byte = chunk[i++]!;
        if (state === 0) {
          state = 1;
          length = 0;
          multiplier = 1;
          continue;
        }
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if (length > maxBytes) return length;
        // a varint longer than 4 bytes is malformed: the MQTT parser refuses it, not us
        if ((byte & 0x80) !== 0 && multiplier <= 128 ** 3) continue;
        skip = length;
        state = skip > 0 ? 2 : 0;
      }
      return undefined;
    },
  };
}

/**
 * A client connection as aedes sees it, with a cap on the size of one MQTT packet: a packet whose
 * header announces more than `maxBytes` ends the connection at once (`onTooLarge` is told), before
 * its body is read. Without it the MQTT parser buffers a packet of any announced size (up to the
 * protocol's 256 MiB) in memory before anything can look at it, so one client could exhaust the
 * server's memory with a single publish, or an unauthenticated one with its CONNECT.
 * Backpressure passes through: when aedes stops reading, the socket is paused.
 */
export function limitPacketSize(
  conn: Duplex,
  maxBytes: number,
  onTooLarge: (announced: number, limited: Duplex) => void,
): Duplex {
  const scanner = createPacketScanner(maxBytes);
  let waitingForDrain: (() => void) | undefined;
  const limited = new Duplex({
    readableHighWaterMark: conn.readableHighWaterMark,
    writableHighWaterMark: conn.writableHighWaterMark,
    allowHalfOpen: false,
    read() {
      conn.resume();
    },
    write(chunk, encoding, callback) {
      if (conn.write(chunk, encoding)) callback();
      else waitingForDrain = callback;
    },
    writev(chunks, callback) {
      // mqtt-packet corks the stream while it writes one packet in pieces: keep them together
      let flushed = true;
      conn.cork();
      for (const { chunk, encoding } of chunks) flushed = conn.write(chunk, encoding);
      conn.uncork();
      if (flushed) callback();
      else waitingForDrain = callback;
    },
    final(callback) {
      conn.end(callback);
    },
    destroy(err, callback) {
      conn.destroy();
      callback(err);
    },
  });
  conn.on('data', (chunk: Buffer) => {
    const announced = scanner.feed(chunk);
    if (announced !== undefined) {
      conn.pause();
      onTooLarge(announced, limited);
      limited.destroy();
      return;
    }
    if (!limited.push(chunk)) conn.pause();
  });
  conn.on('drain', () => {
    const callback = waitingForDrain;
    waitingForDrain = undefined;
    callback?.();
  });
  conn.on('end', () => limited.push(null));
  conn.on('error', (err) => limited.destroy(err));
  conn.on('close', () => limited.destroy());
  return limited;
}
