import { fieldIssues } from '@facefleet/protocol';
import type { Context } from 'hono';
import type { z } from 'zod';
import { type Role, roleAllows } from '../auth/api-tokens.js';
import { ApiError } from '../errors.js';

/** Who made an HTTP request. */
export type HttpPrincipal =
  | {
      kind: 'operator';
      tokenId: string;
      role: Role;
      name: string;
      /** Set when the request came with a dashboard session cookie: when that session ends. */
      sessionExpiresAt?: number;
    }
  | { kind: 'device'; deviceId: string };

export type Env = { Variables: { principal: HttpPrincipal | undefined } };

function invalid(where: string, error: z.ZodError): ApiError {
  const issues = fieldIssues(error);
  return new ApiError(
    400,
    'invalid_request',
    `invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  );
}

/** Parses and validates the JSON body; a 400 naming every wrong field otherwise. */
export async function jsonBody<S extends z.ZodType>(
  c: Context<Env>,
  schema: S,
): Promise<z.infer<S>> {
  let data: unknown;
  try {
    data = await c.req.json();
  } catch (err) {
    throw new ApiError(400, 'invalid_request', `body: not JSON (${(err as Error).message})`, [
      { path: '(body)', message: 'not JSON' },
    ]);
  }
  const result = schema.safeParse(data);
  if (!result.success) throw invalid('body', result.error);
  return result.data;
}

/** Validates the query string. */
export function query<S extends z.ZodType>(c: Context<Env>, schema: S): z.infer<S> {
  const result = schema.safeParse(c.req.query());
  if (!result.success) throw invalid('query', result.error);
  return result.data;
}

/** The operator making the request, with at least `role`; 401 / 403 otherwise. */
export function requireRole(
  c: Context<Env>,
  role: Role,
): Extract<HttpPrincipal, { kind: 'operator' }> {
  const p = c.get('principal');
  if (!p)
    throw new ApiError(401, 'unauthorized', 'a valid Authorization: Bearer token is required');
  if (p.kind !== 'operator' || !roleAllows(p.role, role)) {
    throw new ApiError(403, 'forbidden', `this needs the ${role} role`);
  }
  return p;
}

/** `60s`, `5m`, `1h` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return n * unit;
}

/** Nearest-rank percentile of unsorted values; null for none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
