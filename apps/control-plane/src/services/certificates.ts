import { X509Certificate } from 'node:crypto';
import type { DeviceCertificateRow, Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { BrokerCredentials } from '../broker/credentials.js';
import { ServiceError } from '../errors.js';
import { certificateFingerprint } from '../tls/peer.js';
import type { ChangeFeed } from './changes.js';

export interface CertificateServiceDeps {
  store: Store;
  credentials: BrokerCredentials;
  changes: ChangeFeed;
  /** The fleet CA's certificates as they are now (re-read on a TLS reload); empty: none configured. */
  fleetCa: () => readonly X509Certificate[];
  log: Logger;
}

/** What a device certificate is, as the API shows it. */
export interface CertificateView {
  fingerprint: string;
  deviceId: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  createdAt: number;
  revokedAt: number | null;
}

const invalid = (message: string) => new ServiceError('invalid', message, 'pem', message);

/**
 * Device certificates: a device may log in to the embedded broker's TLS listeners with a client
 * certificate signed by the fleet CA instead of its token. The device id is the certificate's
 * subject CN (tls/peer.ts says why the CN). Signing is the operator's, with openssl
 * (docs/tls.md); the control plane enrolls the certificate (by the sha256 of its DER) and from
 * then on lets it log in as that device and no other, until it is revoked or expires.
 */
export function createCertificateService(deps: CertificateServiceDeps) {
  const { store } = deps;

  const deviceOf = async (id: string) => {
    if (!(await store.devices.exists(id))) throw new ServiceError('not_found', `no device ${id}`);
  };

  return {
    async list(deviceId: string): Promise<DeviceCertificateRow[]> {
      await deviceOf(deviceId);
      return store.certificates.ofDevice(deviceId);
    },

    /**
     * Enrolls a PEM certificate for `deviceId`: it must be signed by the fleet CA, name the
     * device as its subject CN, be a client certificate and not have expired.
     */
    async enroll(deviceId: string, pem: string): Promise<DeviceCertificateRow> {
      await deviceOf(deviceId);
      const cas = deps.fleetCa();
      if (cas.length === 0) {
        throw new ServiceError(
          'conflict',
          'no fleet CA is configured (tls.clientCaFile): device certificates cannot log in',
        );
      }
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch (err) {
        throw invalid(`not a PEM certificate (${(err as Error).message})`);
      }
      if (cert.ca) throw invalid('a CA certificate, not a device certificate');
      if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
        throw invalid('not signed by the fleet CA');
      }
      const cns = [...cert.subject.matchAll(/^CN=(.*)$/gm)].map((m) => m[1]);
      if (cns.length !== 1 || cns[0] !== deviceId) {
        const named =
          cns.length === 0 ? 'no CN' : `CN ${cns.map((cn) => JSON.stringify(cn)).join(', ')}`;
        throw invalid(`its subject has ${named}, not the device id ${JSON.stringify(deviceId)}`);
      }
      const usage = cert.keyUsage;
      if (usage && usage.length > 0 && !usage.includes('1.3.6.1.5.5.7.3.2')) {
        throw invalid('its extended key usage does not allow client authentication');
      }
      const notAfter = Date.parse(cert.validTo);
      if (notAfter <= Date.now()) throw invalid(`it expired on ${cert.validTo}`);
      const row = await store.certificates.insert({
        fingerprint: certificateFingerprint(cert.fingerprint256),
        deviceId,
        serial: cert.serialNumber.toLowerCase(),
        notBefore: Date.parse(cert.validFrom),
        notAfter,
        createdAt: Date.now(),
      });
      if (!row) throw new ServiceError('conflict', 'this certificate is enrolled already', 'pem');
      deps.log.info({ deviceId, fingerprint: row.fingerprint }, 'device certificate enrolled');
      return row;
    },

    /**
     * Revokes one of the device's certificates: it logs in no more, and the device's open MQTT
     * sessions are closed (those with other valid credentials log in again at once).
     */
    async revoke(deviceId: string, fingerprint: string): Promise<{ warning?: string }> {
      await deviceOf(deviceId);
      const row = await store.certificates.revoke(deviceId, fingerprint.toLowerCase(), Date.now());
      if (!row) {
        throw new ServiceError(
          'not_found',
          `no certificate ${fingerprint} enrolled for ${deviceId} and not revoked`,
        );
      }
      await deps.changes.publish({ kind: 'device', id: deviceId });
      deps.log.info({ deviceId, fingerprint: row.fingerprint }, 'device certificate revoked');
      const login = { kind: 'device', deviceId } as const;
      if (deps.credentials.dropSessions) {
        await deps.credentials.dropSessions(login);
        return {};
      }
      return {
        warning:
          'the external broker checks client certificates itself: add this certificate to its CRL (crlfile) to refuse it there',
      };
    },
  };
}
export type CertificateService = ReturnType<typeof createCertificateService>;
