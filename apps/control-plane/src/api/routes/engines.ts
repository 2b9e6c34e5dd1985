import { Readable } from 'node:stream';
import {
  deviceClassSchema,
  ENGINE_FORMATS,
  idRule,
  isValidId,
  RUNNER_BACKENDS,
  RUNNER_MODELS,
} from '@facefleet/protocol';
import type { EngineRow } from '@facefleet/store';
import { Hono } from 'hono';
import { z } from 'zod';
import { engineManifest } from '../../engines/manifest.js';
import { ApiError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import { type Env, requireRole } from '../http.js';
import { doc } from '../openapi.js';
import { query } from '../validate.js';

/**
 * A display name: ASCII letters, digits, spaces and `. _ + ( ) -`, starting with a letter or digit,
 * no `..`. Names never reach the file system (blobs are stored by sha256), but operators read them
 * in lists and rollouts: no look-alike letters from other scripts (a Cyrillic `а` in `fаcenet`), no
 * direction-changing or invisible characters that make one name read as another, no path tricks
 * (`../../etc/passwd`) for a CLI saving a download under its name.
 */
const engineName = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9 ._+()-]*$/,
    'must be ASCII letters, digits, spaces and . _ + ( ) - only, starting with a letter or digit',
  )
  .refine((n) => !n.includes('..'), 'must not contain ..');

export const ENGINE_PRECISIONS = ['int8', 'fp16', 'fp32'] as const;

export const uploadQuery = z.strictObject({
  id: z.string().refine(isValidId, `engine id ${idRule}`).optional(),
  name: engineName,
  model: z.enum(RUNNER_MODELS),
  backend: z.enum(RUNNER_BACKENDS),
  format: z.enum(ENGINE_FORMATS),
  deviceClass: deviceClassSchema,
  trtVersion: z
    .string()
    .regex(/^\d+(\.\d+){0,3}$/, 'must look like 8.5.2')
    .optional(),
  precision: z.enum(ENGINE_PRECISIONS),
  /** The DLA core a TensorRT engine is built for (classes with DLA only); absent: the GPU. */
  dlaCore: z.coerce.number().int().min(0).max(15).optional(),
  /** C,H,W: `3,416,736`. */
  inputDims: z
    .string()
    .regex(/^\d{1,5}(,\d{1,5}){1,4}$/, 'must be comma-separated integers, like 3,416,736'),
});

function engineView(row: EngineRow) {
  return {
    ...engineManifest(row),
    precision: row.precision,
    inputDims: JSON.parse(row.inputDims) as number[],
    createdAt: row.createdAt,
  };
}

/** Parses a single `bytes=` range against `size`; null for no header, 'unsatisfiable' when outside. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/** Engines: upload, list, download, and the fleet key they are signed with; mounted at `/api/v1`. */
export function engineRoutes({
  store,
  engines,
  blobs,
  fleetKey,
  maxEngineBytes,
}: Pick<AppDeps, 'store' | 'engines' | 'blobs' | 'fleetKey' | 'maxEngineBytes'>) {
  return new Hono<Env>()
    .post(
      '/engines',
      doc({
        summary: 'Upload an engine (streamed; sha256 computed; signed with the fleet key)',
        tag: 'engines',
        auth: 'operator',
        rawBody: 'The engine file (a TensorRT plan or an ONNX model).',
        ok: [201, 'The engine manifest'],
      }),
      query(uploadQuery),
      async (c) => {
        const meta = c.req.valid('query');
        const declared = Number(c.req.header('content-length') ?? Number.NaN);
        if (declared > maxEngineBytes) {
          throw new ApiError('too_large', `engine larger than ${maxEngineBytes} bytes`);
        }
        const body = c.req.raw.body;
        if (!body) throw new ApiError('invalid_request', 'body: the engine file is missing');
        const row = await engines.upload(
          { ...meta, inputDims: meta.inputDims.split(',').map(Number) },
          Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>),
          Number.isFinite(declared) ? declared : undefined,
        );
        return c.json({ engine: engineView(row) }, 201);
      },
    )
    .get(
      '/engines',
      doc({
        summary: 'List engines, with the bytes their files take and the quota uploads are held to',
        tag: 'engines',
        auth: 'viewer',
      }),
      async (c) =>
        c.json({
          engines: (await store.engines.list()).map(engineView),
          usage: await engines.usage(),
        }),
    )
    .get(
      '/engines/:id',
      doc({
        summary:
          'Show an engine with the trtexec figures and the accuracy-gate APs devices reported for it',
        tag: 'engines',
        auth: 'viewer',
      }),
      async (c) => {
        const row = await engines.find(c.req.param('id'));
        const [benchmarks, accuracy] = await Promise.all([
          store.engines.benchmarks(row.id),
          store.engines.accuracy(row.id),
        ]);
        return c.json({ engine: engineView(row), benchmarks, accuracy });
      },
    )
    .get(
      '/engines/:id/blob',
      doc({
        summary: 'Download an engine (devices: HTTP Basic deviceId:token); supports Range',
        tag: 'engines',
        auth: 'device',
        ok: [200, 'The engine bytes (206 for a range)'],
      }),
      async (c) => {
        const p = c.get('principal');
        if (!p) throw new ApiError('unauthorized', 'a device or operator token is required');
        if (p.kind === 'operator') requireRole(c, 'viewer');
        const row = await engines.find(c.req.param('id'));
        if (p.kind === 'device') {
          // A device downloads what it is asked to run (its desired state) or runs already, no
          // other engine of the fleet.
          const device = await store.devices.get(p.deviceId);
          const desired = device?.desiredJson
            ? (JSON.parse(device.desiredJson) as { engine?: { id?: string } | null }).engine?.id
            : undefined;
          if (!device || (desired !== row.id && device.engineId !== row.id)) {
            throw new ApiError('forbidden', `engine ${row.id} is not assigned to ${p.deviceId}`);
          }
        }
        const size = blobs.size(row.sha256);
        if (size === undefined)
          throw new ApiError('not_found', `the blob of engine ${row.id} is missing`);
        const headers: Record<string, string> = {
          'content-type': 'application/octet-stream',
          'accept-ranges': 'bytes',
          etag: `"${row.sha256}"`,
          'x-facefleet-sha256': row.sha256,
        };
        const range = parseRange(c.req.header('range'), size);
        if (range === 'unsatisfiable') {
          throw new ApiError('range_not_satisfiable', `range outside 0-${size - 1}`, {
            headers: { 'content-range': `bytes */${size}` },
          });
        }
        const start = range?.start ?? 0;
        const end = range?.end ?? size - 1;
        headers['content-length'] = String(end - start + 1);
        if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
        const stream = Readable.toWeb(
          blobs.read(row.sha256, start, end),
        ) as unknown as ReadableStream;
        return new Response(stream, { status: range ? 206 : 200, headers });
      },
    )
    .delete(
      '/engines/:id',
      doc({
        summary:
          'Delete an engine no rollout under way and no device needs any more (its file too, unless another engine shares it)',
        tag: 'engines',
        auth: 'operator',
        ok: [200, 'Deleted'],
      }),
      async (c) => {
        await engines.remove(c.req.param('id'));
        return c.json({ deleted: c.req.param('id'), ...(await engines.usage()) });
      },
    )
    .get(
      '/fleet/public-key',
      doc({
        summary: "The fleet's Ed25519 public key (SPKI PEM) that engine signatures verify with",
        tag: 'engines',
        auth: 'public',
      }),
      (c) => c.json({ algorithm: 'ed25519', publicKeyPem: fleetKey.publicKeyPem }),
    );
}
