import type { MiddlewareHandler } from 'hono';
import type { RouterRoute } from 'hono/types';
import { z } from 'zod';
import type { Role } from '../auth/api-tokens.js';
import { type Env, requireRole } from './http.js';
import { validatedInput } from './validate.js';

/** What the OpenAPI document says about one route, beside its handler (`doc(…)`). */
export interface RouteDoc {
  summary: string;
  tag: string;
  /**
   * Who may call it: a role (enforced by `doc` itself: 401 without a principal, 403 below the
   * role), `device` (a device token or any operator: the handler checks), or `public`.
   */
  auth: Role | 'device' | 'public';
  /**
   * The JSON body, for a route that must read the raw body itself before validating it (the HTTP
   * ingest checks its signature first); every other route documents its body by its validator.
   */
  body?: z.ZodType;
  /** A raw (binary) request body instead of JSON. */
  rawBody?: string;
  /** Success status and its description. */
  ok?: [number, string];
}

const DOC = Symbol('facefleet.doc');

/**
 * The first middleware of every API route: describes it for the OpenAPI document and enforces
 * its `auth` role, so that what the document says of a route is what the route does. Its method
 * and path are the route's own, its body and query schemas those of its validators (validate.ts).
 */
export function doc(route: RouteDoc): MiddlewareHandler<Env> {
  const { auth } = route;
  const check: MiddlewareHandler<Env> =
    auth === 'public' || auth === 'device'
      ? (_c, next) => next()
      : (c, next) => {
          requireRole(c, auth);
          return next();
        };
  return Object.assign(check, { [DOC]: route });
}

function docOf(handler: unknown): RouteDoc | undefined {
  return (handler as { [DOC]?: RouteDoc })[DOC];
}

/** Method and path of every route registered with `doc`, in registration order. */
export function documentedRoutes(
  routes: readonly RouterRoute[],
): { method: string; path: string }[] {
  return routes
    .filter((r) => docOf(r.handler))
    .map((r) => ({ method: r.method.toLowerCase(), path: r.path }));
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: {
          description: 'For invalid input: the wrong fields, as { path, message } pairs.',
          oneOf: [
            {
              type: 'array',
              items: {
                type: 'object',
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
            { type: 'object' },
            { type: 'null' },
          ],
        },
      },
    },
  },
};

function jsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
}

/** Builds the OpenAPI 3.1 document from an app's routes (`app.routes`): those described by `doc`. */
export function openApiDocument(appRoutes: readonly RouterRoute[], version: string): unknown {
  const key = (r: RouterRoute) => `${r.method} ${r.path}`;
  const inputs = new Map<string, { body?: z.ZodType; query?: z.ZodObject }>();
  for (const r of appRoutes) {
    const input = validatedInput(r.handler);
    if (!input) continue;
    const entry = inputs.get(key(r)) ?? {};
    if (input.target === 'json') entry.body = input.schema;
    else entry.query = input.schema as z.ZodObject;
    inputs.set(key(r), entry);
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of appRoutes) {
    const described = docOf(route.handler);
    if (!described) continue;
    const r = {
      ...described,
      ...inputs.get(key(route)),
      method: route.method.toLowerCase(),
      path: route.path,
    };
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params: unknown[] = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (r.query) {
      const shape = r.query.shape as Record<string, z.ZodType>;
      for (const [name, field] of Object.entries(shape)) {
        params.push({
          name,
          in: 'query',
          required: !field.safeParse(undefined).success,
          schema: jsonSchema(field),
        });
      }
    }
    const [status, description] = r.ok ?? [200, 'OK'];
    const operation: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      parameters: params,
      security:
        r.auth === 'public'
          ? []
          : r.auth === 'device'
            ? [{ bearer: [] }, { deviceBasic: [] }]
            : [{ bearer: [] }],
      'x-required-role': r.auth,
      responses: {
        [status]: { description },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (r.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(r.body) } },
      };
    } else if (r.rawBody) {
      operation.requestBody = {
        required: true,
        description: r.rawBody,
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      };
    }
    paths[path] ??= {};
    paths[path][r.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'facefleet control plane',
      version,
      description:
        'Fleet API of facefleet. Authenticate with `Authorization: Bearer <token>` (roles: viewer reads, operator rolls out and edits alert rules, admin manages devices and tokens). Devices download engines with HTTP Basic `deviceId:deviceToken`. Every error is `{ error: { code, message, details } }`.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        deviceBasic: { type: 'http', scheme: 'basic', description: 'deviceId:deviceToken' },
      },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}

/** The interactive docs page: renders /openapi.json in the browser and sends requests; no CDN. */
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>facefleet API</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1em;color:#222}
h1{font-size:1.4em}.op{border:1px solid #ddd;border-radius:6px;margin:.5em 0}
.op summary{cursor:pointer;padding:.5em;display:flex;gap:.8em;align-items:center}
.m{font-weight:bold;text-transform:uppercase;width:4em}.get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c22}
.body{padding:.5em 1em;border-top:1px solid #eee}pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:24em}
input,textarea{font:inherit;width:100%;box-sizing:border-box}label{display:block;margin:.3em 0}.role{color:#888;margin-left:auto}
</style></head><body>
<h1>facefleet control plane API</h1>
<label>Bearer token <input id="token" placeholder="ff_…" autocomplete="off"></label>
<div id="ops">loading /openapi.json …</div>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
fetch('/openapi.json').then((r) => r.json()).then((spec) => {
  const ops = document.getElementById('ops'); ops.innerHTML = '';
  for (const [path, methods] of Object.entries(spec.paths)) for (const [method, op] of Object.entries(methods)) {
    const d = document.createElement('details'); d.className = 'op';
    const params = (op.parameters || []).map((p) => '<label>' + esc(p.name) + ' (' + p.in + (p.required ? ', required' : '') + ') <input data-in="' + p.in + '" data-name="' + esc(p.name) + '"></label>').join('');
    const body = op.requestBody && op.requestBody.content['application/json'] ? '<label>JSON body<textarea rows="6"></textarea></label><pre>' + esc(JSON.stringify(op.requestBody.content['application/json'].schema, null, 2)) + '</pre>' : '';
    d.innerHTML = '<summary><span class="m ' + method + '">' + method + '</span><code>' + esc(path) + '</code> ' + esc(op.summary) + '<span class="role">' + esc(op['x-required-role']) + '</span></summary><div class="body">' + params + body + '<button>Send</button><pre class="out"></pre></div>';
    d.querySelector('button').onclick = async () => {
      let url = path; const q = new URLSearchParams();
      for (const i of d.querySelectorAll('input[data-in]')) { if (!i.value) continue; if (i.dataset.in === 'path') url = url.replace('{' + i.dataset.name + '}', encodeURIComponent(i.value)); else q.set(i.dataset.name, i.value); }
      const headers = {}; const t = document.getElementById('token').value; if (t) headers.authorization = 'Bearer ' + t;
      const ta = d.querySelector('textarea'); if (ta) headers['content-type'] = 'application/json';
      const res = await fetch(url + (q.size ? '?' + q : ''), { method: method.toUpperCase(), headers, body: ta ? ta.value : undefined });
      d.querySelector('.out').textContent = res.status + ' ' + res.statusText + '\\n' + await res.text();
    };
    ops.appendChild(d);
  }
});
</script></body></html>
`;
