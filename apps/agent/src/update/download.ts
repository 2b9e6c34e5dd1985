import { mkdir, open, stat, truncate } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname } from 'node:path';
import { UpdateError } from '../errors.js';

export interface DownloadOptions {
  url: string;
  /** The device's id and token: HTTP Basic `deviceId:token`, as the control plane's blob route expects. */
  deviceId: string;
  token: string;
  /** The CA an https:// server's certificate is checked against; default: the system's. */
  ca?: Buffer | undefined;
  /** The partial file: its size is the offset to resume from (it survives restarts). */
  dest: string;
  expectedSize: number;
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Streams `url` to `dest` with `Authorization: Basic base64(deviceId:token)`, resuming a partial file with a
 * `Range: bytes=N-` request. A server that ignores Range (200) makes it start over; one that answers
 * 416 means the file is already whole (or was larger: start over). Network faults and 5xx are
 * retryable; 4xx are not.
 */
export async function downloadResumable(options: DownloadOptions): Promise<void> {
  const { url, dest, expectedSize } = options;
  await mkdir(dirname(dest), { recursive: true });
  let offset = await stat(dest).then(
    (s) => s.size,
    () => 0,
  );
  if (offset > expectedSize) {
    await truncate(dest, 0);
    offset = 0;
  }
  if (offset === expectedSize) return;
  const basic = Buffer.from(`${options.deviceId}:${options.token}`).toString('base64');
  const headers: Record<string, string> = { authorization: `Basic ${basic}` };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  let res: IncomingMessage;
  try {
    res = await get(url, headers, options.signal, options.ca);
  } catch (err) {
    throw new UpdateError(`download ${url}: ${(err as Error).message}`, true);
  }
  const status = res.statusCode ?? 0;
  if (status === 416 && offset > 0) {
    res.resume();
    // our offset is not inside the resource: the partial file is stale
    await truncate(dest, 0);
    throw new UpdateError(`download ${url}: range ${offset}- not satisfiable; starting over`, true);
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new UpdateError(
      `download ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd(),
      status >= 500 || status === 429,
    );
  }
  let append = status === 206;
  if (append) {
    const range = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
    if (!range || Number(range[1]) !== offset) {
      append = false; // not the range we asked for: take no chances
    }
  }
  if (!append) {
    await truncate(dest, 0).catch(() => undefined);
    offset = 0;
  }
  let written = offset;
  // every chunk is written before the next is read, so a cut connection or a kill keeps all that
  // arrived: the partial file's size is the offset to resume from
  const file = await open(dest, append ? 'a' : 'w');
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      await file.write(chunk);
      written += chunk.length;
      options.onProgress?.(written);
    }
    await file.sync();
  } catch (err) {
    throw new UpdateError(
      `download ${url} interrupted at ${written} bytes: ${(err as Error).message}`,
      true,
    );
  } finally {
    res.destroy();
    await file.close();
  }
  if (written < expectedSize) {
    throw new UpdateError(`download ${url} ended at ${written} of ${expectedSize} bytes`, true);
  }
}

/** Redirects followed, as fetch() did before the agent had to run on Node 16 (which has none). */
const MAX_REDIRECTS = 5;

/**
 * GET `url` with node:http(s) (Node 16 has no fetch); resolves with the response once its headers
 * are in. Follows redirects; the device's credentials go only to the origin they were meant for.
 */
async function get(
  url: string,
  headers: OutgoingHttpHeaders,
  signal: AbortSignal | undefined,
  ca: Buffer | undefined,
): Promise<IncomingMessage> {
  let target = new URL(url);
  let sent = headers;
  for (let hops = 0; ; hops++) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const opts = { headers: sent, ...(signal ? { signal } : {}) };
      if (target.protocol === 'https:') {
        httpsGet(target, { ...opts, ...(ca ? { ca } : {}) }, resolve).on('error', reject);
      } else if (target.protocol === 'http:') httpGet(target, opts, resolve).on('error', reject);
      else reject(new Error(`unsupported protocol ${target.protocol}`));
    });
    // a connection cut before the body is read must not be an unhandled 'error' event: reading the
    // body then ends early (an interrupted download), and a drained refusal ends anyway
    res.on('error', () => {});
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status < 300 || status >= 400 || status === 304 || !location) return res;
    res.resume();
    if (hops === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, target);
    if (next.origin !== target.origin) {
      sent = Object.fromEntries(Object.entries(sent).filter(([name]) => name !== 'authorization'));
    }
    target = next;
  }
}
