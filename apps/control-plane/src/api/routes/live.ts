import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { SESSION_COOKIE } from '../../auth/sessions.js';
import { ApiError } from '../../errors.js';
import type { LiveEvent } from '../../live/types.js';
import { authenticateRequest, authenticateSession } from '../authenticate.js';
import type { AppDeps } from '../deps.js';
import { type Env, type HttpPrincipal, requireRole } from '../http.js';
import { doc } from '../openapi.js';

/**
 * `GET /api/v1/events`: server-sent events for the dashboard. Authenticated like every API call
 * (the session cookie a browser's EventSource sends by itself, or a bearer token for other clients);
 * any role may listen, since events only tell what viewers may read anyway. The stream opens with
 * `hello`, then sends batches every `flushMs` (faces and metrics coalesced per device) and a
 * comment line as heartbeat when idle. Its credentials are checked again before anything is sent
 * once the last check is `recheckMs` old, busy or idle: a revoked token, a signed-out or expired
 * session gets `signed-out` and the stream ends. One API token (with all the sessions it signed
 * in) may hold a few streams at once (the hub's limit); past it, 429.
 */
export function liveRoutes(
  deps: Pick<
    AppDeps,
    'hub' | 'tokens' | 'store' | 'secrets' | 'throttle' | 'telemetry' | 'sessions' | 'liveRecheckMs'
  >,
) {
  return new Hono<Env>().get(
    '/events',
    doc({
      summary:
        'Live events (text/event-stream): hello, device, device-removed, faces, metrics, reported, rollout, alert',
      tag: 'live',
      auth: 'viewer',
      ok: [200, 'An event stream'],
    }),
    (c) => {
      const principal = requireRole(c, 'viewer');
      const header = c.req.header('authorization');
      const cookie = header ? undefined : getCookie(c, SESSION_COOKIE);
      const stillValid = async (): Promise<boolean> => {
        try {
          const p: HttpPrincipal | undefined = header
            ? await authenticateRequest(header, deps)
            : cookie
              ? await authenticateSession(cookie, deps)
              : undefined;
          return p?.kind === 'operator';
        } catch {
          return false;
        }
      };
      const connection = deps.hub.open(principal.tokenId);
      if (!connection) {
        deps.telemetry.sessionsRefused.inc({ reason: 'live_streams' });
        throw new ApiError(
          'too_many_requests',
          'this token holds as many event streams as it may: close one first',
        );
      }
      let checkedAt = Date.now();
      c.req.raw.signal?.addEventListener('abort', () => connection.close());
      let id = 0;
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => connection.close());
        const send = (event: LiveEvent) =>
          stream.writeSSE({ event: event.type, data: JSON.stringify(event), id: String(++id) });
        await stream.writeSSE({
          event: 'hello',
          data: JSON.stringify({
            type: 'hello',
            serverTime: Date.now(),
            principal: { name: principal.name, role: principal.role },
          } satisfies LiveEvent),
          id: String(++id),
          retry: 2000,
        });
        for (;;) {
          const batch = await connection.next();
          if (batch === null || stream.aborted) break;
          if (batch.length === 0 || Date.now() - checkedAt >= deps.liveRecheckMs) {
            if (!(await stillValid())) {
              await stream.writeSSE({ event: 'signed-out', data: '{"type":"signed-out"}' });
              break;
            }
            checkedAt = Date.now();
          }
          if (batch.length === 0) await stream.write(': heartbeat\n\n');
          for (const event of batch) await send(event);
        }
        connection.close();
      });
    },
  );
}
