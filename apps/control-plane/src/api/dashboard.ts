import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Hono } from 'hono';
import type { Env } from './http.js';

/**
 * The dashboard's static files (apps/dashboard/dist, built by esbuild), read into memory once at
 * start with a gzip copy of each compressible one: a few hundred KB at most, and serving from a
 * map means no request path ever reaches the file system (no traversal to guard against).
 *   - `index.html`: `no-cache` (revalidated with its ETag on every load, so a new build shows at once)
 *   - files under `assets/` carry a content hash in their names: cached for a year, immutable
 */

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.map', '.json', '.svg', '.txt']);

/** Who may run what on the dashboard's pages: only its own files, no inline script. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
  cacheControl: string;
}

export interface DashboardAssets {
  /** null when the dashboard was not built; `reason` says why. */
  files: Map<string, Asset> | null;
  dir: string;
  reason: string | null;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Loads the built dashboard from `dir`; never throws (the API runs without a dashboard). */
export function loadDashboard(dir: string): DashboardAssets {
  if (!existsSync(join(dir, 'index.html'))) {
    return {
      files: null,
      dir,
      reason: `the dashboard is not built (no ${join(dir, 'index.html')}); build it with: pnpm -F @facefleet/dashboard build`,
    };
  }
  const files = new Map<string, Asset>();
  for (const path of walk(dir)) {
    const rel = relative(dir, path).split(sep).join('/');
    const ext = extname(path);
    const body = readFileSync(path);
    const gzip = COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : null;
    files.set(`/${rel}`, {
      body,
      gzip: gzip && gzip.length < body.length ? gzip : null,
      type: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      cacheControl: rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  }
  return { files, dir, reason: null };
}

const NOT_BUILT_HTML = (reason: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>facefleet</title></head>
<body style="font-family:system-ui;margin:2rem;max-width:40rem">
<h1>facefleet control plane</h1>
<p>The API is running (<a href="/docs">/docs</a>), but ${reason.replace(/&/g, '&amp;').replace(/</g, '&lt;')}.</p>
</body></html>`;

/** Serves `/` and the dashboard's files; a plain page that says so when it is not built. */
export function dashboardRoutes(app: Hono<Env>, dashboard: DashboardAssets): void {
  app.get('*', async (c, next) => {
    if (c.req.path.startsWith('/api/')) return next();
    const path = c.req.path === '/' ? '/index.html' : c.req.path;
    if (!dashboard.files) {
      if (path !== '/index.html') return next();
      return c.html(NOT_BUILT_HTML(dashboard.reason ?? 'the dashboard is not built'), 503);
    }
    const asset = dashboard.files.get(path);
    if (!asset) return next();
    const headers: Record<string, string> = {
      'content-type': asset.type,
      'cache-control': asset.cacheControl,
      etag: asset.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (asset.type.startsWith('text/html')) {
      headers['content-security-policy'] = CSP;
      headers['x-frame-options'] = 'DENY';
    }
    const match = c.req.header('if-none-match');
    if (match?.split(',').some((t) => t.trim() === asset.etag)) {
      return c.body(null, 304, headers);
    }
    const gzip = asset.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
    if (gzip) headers['content-encoding'] = 'gzip';
    const body = gzip ? asset.gzip! : asset.body;
    headers['content-length'] = String(body.length);
    return c.body(new Uint8Array(body), 200, headers);
  });
}
