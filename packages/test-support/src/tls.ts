import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Certificates for TLS tests, made by Debian's `openssl` in a temp folder when the test runs (no
 * key is committed): CAs, server certificates for `127.0.0.1`/`localhost`, and client (device)
 * certificates whose subject CN is the device id. Keys are ECDSA P-256. Validity is set exactly
 * (`openssl ca -startdate/-enddate`), so expired and not-yet-valid certificates can be made.
 */

/** Where openssl is (Debian's `openssl` package; scripts/setup.sh installs it). */
export const opensslBin = '/usr/bin/openssl';

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate, PEM. */
  pem: string;
  /** sha256 of the DER, lowercase hex: what the control plane enrolls a device certificate by. */
  fingerprint: string;
}

export interface IssueOptions {
  /** Default: now − 1 h (clocks differ a little). */
  notBefore?: Date;
  /** Default: notBefore + 30 days. */
  notAfter?: Date;
  /** `server`: serverAuth with SANs for 127.0.0.1 and localhost (and `sans`); `client`: clientAuth. */
  kind?: 'server' | 'client';
  /** More subjectAltName entries (`DNS:name`, `IP:10.0.0.1`, `URI:…`). */
  sans?: string[];
}

export interface CertificateAuthority {
  name: string;
  certFile: string;
  keyFile: string;
  pem: string;
  /** A certificate with subject `CN=<commonName>` signed by this CA. */
  issue(commonName: string, options?: IssueOptions): IssuedCertificate;
}

export interface TestPki {
  dir: string;
  /** A self-signed CA (30 days from an hour ago). */
  ca(name: string): CertificateAuthority;
  /**
   * Makes the folder and every file in it readable by all: for a broker started as root that
   * reads them after switching to its own user (Mosquitto). Test keys only.
   */
  makeReadable(): void;
  /** Removes the folder. */
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync(opensslBin, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`);
  }
}

/** openssl's GeneralizedTime: YYYYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return `${d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, '')}Z`;
}

/** sha256 of a PEM certificate's DER, lowercase hex. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/** A folder of test certificates; `cleanup()` removes it. */
export function createTestPki(dir = mkdtempSync(join(tmpdir(), 'ff-test-pki-'))): TestPki {
  let serial = 1;
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  return {
    dir,
    ca(name) {
      const base = join(dir, name);
      mkdirSync(`${base}.db`, { recursive: true });
      writeFileSync(`${base}.db/index.txt`, '');
      const certFile = `${base}.crt`;
      const keyFile = `${base}.key`;
      openssl(
        [
          'req',
          '-x509',
          ...ecKey,
          '-keyout',
          keyFile,
          '-out',
          certFile,
          '-subj',
          `/CN=${name}`,
          '-days',
          '30',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        dir,
      );
      // `openssl ca` takes exact dates; it wants a database and a config to keep them in.
      const config = `${base}.db/ca.cnf`;
      writeFileSync(
        config,
        [
          '[ca]',
          'default_ca = test_ca',
          '[test_ca]',
          `database = ${base}.db/index.txt`,
          `new_certs_dir = ${base}.db`,
          `certificate = ${certFile}`,
          `private_key = ${keyFile}`,
          'default_md = sha256',
          'policy = any',
          'unique_subject = no',
          'rand_serial = yes',
          'copy_extensions = none',
          '[any]',
          'commonName = supplied',
          '',
        ].join('\n'),
      );
      const pem = readFileSync(certFile, 'utf8');
      return {
        name,
        certFile,
        keyFile,
        pem,
        issue(commonName, options = {}) {
          const n = serial++;
          const leaf = join(dir, `${commonName}-${n}`);
          const kind = options.kind ?? 'client';
          const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000);
          const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 30 * 86_400_000);
          openssl(
            [
              'req',
              '-new',
              ...ecKey,
              '-keyout',
              `${leaf}.key`,
              '-out',
              `${leaf}.csr`,
              '-subj',
              `/CN=${commonName}`,
            ],
            dir,
          );
          const sans =
            kind === 'server'
              ? ['IP:127.0.0.1', 'DNS:localhost', ...(options.sans ?? [])]
              : (options.sans ?? []);
          writeFileSync(
            `${leaf}.ext`,
            [
              '[leaf]',
              'basicConstraints = critical,CA:FALSE',
              'keyUsage = critical,digitalSignature',
              `extendedKeyUsage = ${kind === 'server' ? 'serverAuth' : 'clientAuth'}`,
              ...(sans.length > 0 ? [`subjectAltName = ${sans.join(',')}`] : []),
              '',
            ].join('\n'),
          );
          openssl(
            [
              'ca',
              '-batch',
              '-notext',
              '-config',
              config,
              '-in',
              `${leaf}.csr`,
              '-out',
              `${leaf}.crt`,
              '-startdate',
              asn1Time(notBefore),
              '-enddate',
              asn1Time(notAfter),
              '-extfile',
              `${leaf}.ext`,
              '-extensions',
              'leaf',
            ],
            dir,
          );
          const pem = readFileSync(`${leaf}.crt`, 'utf8');
          return {
            certFile: `${leaf}.crt`,
            keyFile: `${leaf}.key`,
            pem,
            fingerprint: certificateFingerprint(pem),
          };
        },
      };
    },
    makeReadable() {
      chmodSync(dir, 0o755);
      for (const name of readdirSync(dir))
        chmodSync(join(dir, name), name.endsWith('.db') ? 0o755 : 0o644);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
