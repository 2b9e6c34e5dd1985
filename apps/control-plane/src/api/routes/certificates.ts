import type { DeviceCertificateRow } from '@facefleet/store';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { Env } from '../http.js';
import { doc } from '../openapi.js';
import { jsonBody } from '../validate.js';

const enrollBody = z.strictObject({
  /** The device certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  pem: z
    .string()
    .min(1)
    .max(64 * 1024),
});

/** A device certificate as the API shows it (never a key: the control plane has none). */
export const certificateView = (row: DeviceCertificateRow) => ({
  fingerprint: row.fingerprint,
  deviceId: row.deviceId,
  serial: row.serial,
  notBefore: row.notBefore,
  notAfter: row.notAfter,
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
});

/** A device's client certificates for MQTT over TLS; mounted at `/api/v1`. */
export function certificateRoutes({ certificates }: Pick<AppDeps, 'certificates'>) {
  return new Hono<Env>()
    .get(
      '/devices/:id/certificates',
      doc({
        summary: "A device's client certificates (revoked ones too), oldest first",
        tag: 'devices',
        auth: 'viewer',
      }),
      async (c) => {
        const rows = await certificates.list(c.req.param('id'));
        return c.json({ certificates: rows.map(certificateView) });
      },
    )
    .post(
      '/devices/:id/certificates',
      doc({
        summary:
          'Enroll a client certificate for a device: signed by the fleet CA (tls.clientCaFile), its subject CN the device id; it may then log in to the MQTT TLS listeners without the token',
        tag: 'devices',
        auth: 'admin',
        ok: [201, 'The enrolled certificate'],
      }),
      jsonBody(enrollBody),
      async (c) => {
        const row = await certificates.enroll(c.req.param('id'), c.req.valid('json').pem);
        return c.json({ certificate: certificateView(row) }, 201);
      },
    )
    .delete(
      '/devices/:id/certificates/:fingerprint',
      doc({
        summary:
          "Revoke a device certificate: it logs in no more, and the device's open MQTT sessions are closed",
        tag: 'devices',
        auth: 'admin',
      }),
      async (c) => {
        const { id, fingerprint } = c.req.param();
        const { warning } = await certificates.revoke(id, fingerprint);
        return c.json(warning ? { revoked: fingerprint, warning } : { revoked: fingerprint });
      },
    );
}
