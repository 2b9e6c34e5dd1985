import { mkdir, open, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UpdateError } from '../errors.js';

export interface DownloadOptions {
  url: string;
  /** The device's id and token: HTTP Basic `deviceId:token`, as the control plane's blob route expects. */
  deviceId: string;
  token: string;
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
  let res: Response;
  try {
    res = await fetch(url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    throw new UpdateError(`download ${url}: ${(err as Error).message}`, true);
  }
  if (res.status === 416 && offset > 0) {
    await res.body?.cancel();
    // our offset is not inside the resource: the partial file is stale
    await truncate(dest, 0);
    throw new UpdateError(`download ${url}: range ${offset}- not satisfiable; starting over`, true);
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new UpdateError(
      `download ${url}: HTTP ${res.status} ${res.statusText}`,
      res.status >= 500 || res.status === 429,
    );
  }
  if (!res.body) throw new UpdateError(`download ${url}: empty response body`, true);
  let append = res.status === 206;
  if (append) {
    const range = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
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
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
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
    await file.close();
  }
  if (written < expectedSize) {
    throw new UpdateError(`download ${url} ended at ${written} of ${expectedSize} bytes`, true);
  }
}
