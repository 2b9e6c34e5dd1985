import { ApiError } from '../../errors.js';
import type { AppDeps, Registrar } from '../app.js';

/**
 * `GET /api/v1/me`: who the caller is and where the MQTT broker listens, so a client that knows only
 * the server URL and a token (the CLI's `status`, `faces tail`, `simulate`) can find the rest.
 */
export function meRoutes({ app, doc }: Registrar, deps: AppDeps): void {
  doc({
    method: 'get',
    path: '/api/v1/me',
    summary:
      'Who the token belongs to (operator name and role, or device id), and the MQTT ports of the embedded broker',
    tag: 'admin',
    auth: 'device',
  });
  app.get('/api/v1/me', (c) => {
    const p = c.get('principal');
    if (!p) {
      throw new ApiError(401, 'unauthorized', 'a valid Authorization: Bearer token is required');
    }
    const mqtt = {
      /** null behind an external broker: the operator knows its address. */
      port: deps.broker.ports.mqtt,
      wsPort: deps.broker.ports.ws,
    };
    return c.json(
      p.kind === 'operator'
        ? { kind: 'operator', name: p.name, role: p.role, tokenId: p.tokenId, mqtt }
        : { kind: 'device', deviceId: p.deviceId, mqtt },
    );
  });
}
