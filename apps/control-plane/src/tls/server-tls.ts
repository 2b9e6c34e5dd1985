import { X509Certificate } from 'node:crypto';
import { readFileSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import {
  createSecureContext,
  type SecureContextOptions,
  type Server,
  type TlsOptions,
} from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';

export interface ServerTlsOptions {
  certFile: string;
  keyFile: string;
  /** The fleet CA that device (client) certificates are checked against; null: none asked for. */
  clientCaFile: string | null;
  /** How often the files are checked for a change (ms). */
  watchMs: number;
  log: Logger;
  /** Told after every reload attempt (metrics). */
  onReload?: (ok: boolean) => void;
}

/** What a reload read: the options of the new context, the certificate's end of validity, the fleet CA. */
interface Material {
  options: SecureContextOptions;
  notAfter: Date;
  fleetCa: X509Certificate[];
  /** The files' bytes, to tell a change from a rewrite of the same content. */
  bytes: Buffer;
}

/** The certificates of a PEM bundle (a CA file may hold several). */
export function certificatesOf(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/**
 * The certificate and key every TLS listener of the control plane serves (MQTT over TLS and secure
 * WebSocket, HTTPS), with the fleet CA when device certificates may log in. TLS 1.2 is the lowest
 * version offered.
 *
 * `reload()` reads the files again and hands the new context to every server (Node's
 * `server.setSecureContext`): connections made from then on get the new certificate, connections
 * already open keep theirs, so no session is dropped. The files are watched (polled every
 * `watchMs`, which also sees a symlink or a folder swapped underneath, as certbot and Kubernetes
 * secrets do) and SIGHUP reloads at once (main.ts). A reload that fails (a missing file, a key that
 * does not match the certificate) keeps the context in use and logs why.
 *
 * Client certificates are asked for, not required (`rejectUnauthorized: false`): a device may still
 * log in with its token over TLS. Whether a certificate that was sent verified is decided when the
 * MQTT login is checked (tls/peer.ts, broker/hooks.ts), which refuses any that did not.
 */
export function createServerTls(options: ServerTlsOptions) {
  const { log } = options;
  const servers = new Set<Server>();

  const read = (): Material => {
    const file = (path: string, what: string) => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new ConfigError([
          { path: what, message: `cannot read ${path}: ${(err as Error).message}` },
        ]);
      }
    };
    const cert = file(options.certFile, 'tls.certFile');
    const key = file(options.keyFile, 'tls.keyFile');
    const ca = options.clientCaFile ? file(options.clientCaFile, 'tls.clientCaFile') : undefined;
    const contextOptions: SecureContextOptions = {
      cert,
      key,
      minVersion: 'TLSv1.2',
      ...(ca ? { ca } : {}),
    };
    let notAfter: Date;
    let fleetCa: X509Certificate[] = [];
    try {
      // Throws on a key that does not belong to the certificate, or on unreadable PEM.
      createSecureContext(contextOptions);
      notAfter = new Date(new X509Certificate(cert).validTo);
      if (ca) {
        fleetCa = certificatesOf(ca.toString('utf8'));
        if (fleetCa.length === 0)
          throw new Error(`${options.clientCaFile} holds no PEM certificate`);
      }
    } catch (err) {
      throw new ConfigError([
        {
          path: 'tls',
          message: `${options.certFile}, ${options.keyFile}: ${(err as Error).message}`,
        },
      ]);
    }
    return {
      options: contextOptions,
      notAfter,
      fleetCa,
      bytes: Buffer.concat([cert, key, ca ?? Buffer.alloc(0)]),
    };
  };

  let current = read();
  log.info(
    { certFile: options.certFile, notAfter: current.notAfter, clientCa: options.clientCaFile },
    'TLS certificate loaded',
  );

  /** `onlyIfChanged`: a watcher's reload, skipped when the files hold what is served already. */
  const reload = (reason: string, { onlyIfChanged = false } = {}): boolean => {
    let next: Material;
    try {
      next = read();
    } catch (err) {
      log.error(
        { reason, err: (err as Error).message },
        'TLS reload failed: the certificate in use stays',
      );
      options.onReload?.(false);
      return false;
    }
    if (onlyIfChanged && next.bytes.equals(current.bytes)) {
      log.debug({ reason }, 'TLS files rewritten with what is served already');
      return true;
    }
    current = next;
    for (const server of servers) server.setSecureContext(current.options);
    log.info(
      { reason, notAfter: current.notAfter, servers: servers.size },
      'TLS certificate reloaded',
    );
    options.onReload?.(true);
    return true;
  };

  // A new certificate usually arrives as two or three files written one after the other: reload
  // once the last change is a moment old rather than once per file.
  let pending: NodeJS.Timeout | undefined;
  const changed = (path: string) => (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino) return;
    clearTimeout(pending);
    pending = setTimeout(() => reload(`${path} changed`, { onlyIfChanged: true }), 200);
    pending.unref();
  };
  const watched = [options.certFile, options.keyFile, options.clientCaFile].filter(
    (p): p is string => p !== null,
  );
  const listeners = watched.map((path) => {
    const listener = changed(path);
    watchFile(path, { interval: options.watchMs, persistent: false }, listener);
    return { path, listener };
  });

  return {
    /**
     * Options for `tls.createServer` / `https.createServer`: the current material, and with
     * `clientCertificates` (the MQTT listeners) client certificates asked for when a fleet CA is set.
     */
    serverOptions({ clientCertificates }: { clientCertificates: boolean }): TlsOptions {
      return {
        ...current.options,
        // a connection that has not finished its handshake by then is dropped (Node's default: 120 s)
        handshakeTimeout: 10_000,
        ...(clientCertificates && options.clientCaFile
          ? { requestCert: true, rejectUnauthorized: false }
          : {}),
      };
    },
    /** The fleet CA's certificates as last (re)loaded; empty without one. */
    fleetCa: (): readonly X509Certificate[] => current.fleetCa,
    /** A server whose context every reload replaces. */
    attach(server: Server): void {
      servers.add(server);
      server.once('close', () => servers.delete(server));
    },
    reload,
    /** When the served certificate stops being valid. */
    get notAfter(): Date {
      return current.notAfter;
    },
    close(): void {
      clearTimeout(pending);
      for (const { path, listener } of listeners) unwatchFile(path, listener);
    },
  };
}
export type ServerTls = ReturnType<typeof createServerTls>;
