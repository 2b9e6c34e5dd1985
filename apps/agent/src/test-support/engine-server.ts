import { createHash, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EngineManifest, engineSigningPayload } from '@facefleet/protocol';
import { genericDeviceClass } from '../health/jetson-info.js';

interface Blob {
  data: Buffer;
  /** Close the connection after this many bytes on the first request (to test resuming). */
  cutAfter?: number;
  /** Send the body `chunkBytes` at a time, `intervalMs` apart (a slow link), on every request. */
  throttle?: { chunkBytes: number; intervalMs: number };
  served: number;
}

/**
 * A small node:http server standing in for the control plane's `GET /api/v1/engines/:id/blob`:
 * device auth (HTTP Basic deviceId:token, as the control plane), Range requests (206 with Content-Range, 416 past the end).
 */
export async function startEngineServer(token: string) {
  const blobs = new Map<string, Blob>();
  const redirects = new Map<string, string>();
  const requests: { path: string; range: string | undefined; auth: string | undefined }[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.push({ path, range: req.headers.range, auth: req.headers.authorization });
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [user, password] = Buffer.from(basic?.[1] ?? '', 'base64')
      .toString('utf8')
      .split(/:(.*)/s);
    if (!user || password !== token) {
      res.writeHead(401).end('unauthorized');
      return;
    }
    const location = redirects.get(path);
    if (location) {
      res.writeHead(302, { location }).end();
      return;
    }
    const blob = blobs.get(path);
    if (!blob) {
      res.writeHead(404).end('not found');
      return;
    }
    const total = blob.data.length;
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (start >= total) {
        res.writeHead(416, { 'content-range': `bytes */${total}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${total - 1}/${total}`,
        'content-length': total - start,
      });
    } else {
      res.writeHead(200, { 'content-length': total, 'accept-ranges': 'bytes' });
    }
    blob.served += 1;
    if (blob.served === 1 && blob.cutAfter !== undefined && blob.cutAfter > start) {
      res.write(blob.data.subarray(start, blob.cutAfter), () => res.socket?.destroy());
      return;
    }
    const { throttle } = blob;
    if (throttle) {
      let at = start;
      const timer = setInterval(() => {
        const end = Math.min(total, at + throttle.chunkBytes);
        if (end >= total) {
          clearInterval(timer);
          res.end(blob.data.subarray(at, end));
        } else res.write(blob.data.subarray(at, end));
        at = end;
      }, throttle.intervalMs);
      res.once('close', () => clearInterval(timer)); // finished, or the client went away
      return;
    }
    res.end(blob.data.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    put(
      path: string,
      data: Buffer,
      options: { cutAfter?: number; throttle?: { chunkBytes: number; intervalMs: number } } = {},
    ) {
      blobs.set(path, { data, served: 0, ...options });
    },
    /** Answer `path` with a 302 to `location` (after the device auth check, as a proxy would). */
    redirect(path: string, location: string) {
      redirects.set(path, location);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A manifest for `data`, signed with `privateKey` (override fields to break it on purpose). */
export function signedManifest(
  data: Buffer,
  privateKey: KeyObject,
  fields: Partial<EngineManifest> & Pick<EngineManifest, 'id'>,
): EngineManifest {
  const base: Omit<EngineManifest, 'signature'> = {
    name: fields.id,
    sha256: createHash('sha256').update(data).digest('hex'),
    size: data.length,
    version: 1,
    url: `/api/v1/engines/${fields.id}/blob`,
    // the class this machine detects itself as (tests run on x86_64 and arm64 alike)
    deviceClass: genericDeviceClass(process.arch),
    trtVersion: null,
    backend: 'opencv',
    model: 'blazeface',
    format: 'onnx',
    calibration: null,
    ...fields,
  };
  const signature = sign(null, engineSigningPayload(base), privateKey).toString('base64');
  return { ...base, signature, ...(fields.signature ? { signature: fields.signature } : {}) };
}
