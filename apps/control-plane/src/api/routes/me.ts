import { Hono } from 'hono';
import { ApiError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import type { Env } from '../http.js';
import { doc } from '../openapi.js';

/**
 * `GET /api/v1/me`: who the caller is and where the MQTT broker listens, so a client that knows only
 * the server URL and a token (the CLI's `status`, `faces tail`, `simulate`) can find the rest.
 */
export function meRoutes({ broker }: Pick<AppDeps, 'broker'>) {
  return new Hono<Env>().get(
    '/me',
    doc({
      summary:
        'Who the token belongs to (operator name and role, or device id), and the MQTT ports of the embedded broker (plain, WebSocket, TLS, secure WebSocket)',
      tag: 'admin',
      auth: 'device',
    }),
    (c) => {
      const p = c.get('principal');
      if (!p) {
        throw new ApiError('unauthorized', 'a valid Authorization: Bearer token is required');
      }
      const mqtt = {
        /** null behind an external broker: the operator knows its address. */
        port: broker.ports.mqtt,
        wsPort: broker.ports.ws,
        /** MQTT over TLS (mqtts://) and over secure WebSocket (wss://); null when not listening. */
        tlsPort: broker.ports.tls,
        wssPort: broker.ports.wss,
      };
      return c.json(
        p.kind === 'operator'
          ? { kind: 'operator' as const, name: p.name, role: p.role, tokenId: p.tokenId, mqtt }
          : { kind: 'device' as const, deviceId: p.deviceId, mqtt },
      );
    },
  );
}
