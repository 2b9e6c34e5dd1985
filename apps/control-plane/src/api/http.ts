import type { Context } from 'hono';
import { type Role, roleAllows } from '../auth/api-tokens.js';
import { ApiError } from '../errors.js';

/** Who made an HTTP request. */
export type HttpPrincipal =
  | {
      kind: 'operator';
      tokenId: string;
      role: Role;
      name: string;
      /** Set when the request came with a dashboard session cookie: its id, and when it ends. */
      sessionId?: string;
      sessionExpiresAt?: number;
    }
  | { kind: 'device'; deviceId: string };

export type Env = { Variables: { principal: HttpPrincipal | undefined } };

/**
 * The client's IP address: the socket's under @hono/node-server, API Gateway's `sourceIp` under
 * hono/aws-lambda; null when neither says (`app.request()` in tests). A proxy in front sees every
 * client as itself: failed-login throttling then counts them together (X-Forwarded-For is not
 * trusted, anyone can send it).
 */
export function clientAddress(c: Context<Env>): string | null {
  const env = c.env as
    | {
        incoming?: { socket?: { remoteAddress?: string } };
        requestContext?: { http?: { sourceIp?: string }; identity?: { sourceIp?: string } };
      }
    | undefined;
  return (
    env?.incoming?.socket?.remoteAddress ??
    env?.requestContext?.http?.sourceIp ??
    env?.requestContext?.identity?.sourceIp ??
    null
  );
}

/** The operator making the request, with at least `role`; 401 / 403 otherwise. */
export function requireRole(
  c: Context<Env>,
  role: Role,
): Extract<HttpPrincipal, { kind: 'operator' }> {
  const p = c.get('principal');
  if (!p) throw new ApiError('unauthorized', 'a valid Authorization: Bearer token is required');
  if (p.kind !== 'operator' || !roleAllows(p.role, role)) {
    throw new ApiError('forbidden', `this needs the ${role} role`);
  }
  return p;
}

/**
 * `60s`, `5m`, `1h` → milliseconds; undefined for anything else, a count of more than 12 digits
 * among it (`999…9s` would be Infinity, and a bound compared with it would pass).
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,12})(ms|s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  const ms = n * unit;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Nearest-rank percentile of unsorted values; null for none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
