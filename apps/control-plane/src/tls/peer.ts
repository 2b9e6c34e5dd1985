import { TLSSocket } from 'node:tls';

/** The client certificate a TLS connection presented. */
export interface PeerCertificate {
  /**
   * It chains to the fleet CA and is within its validity, as OpenSSL checked it during the
   * handshake (the listener asks for a certificate without requiring one).
   */
  trusted: boolean;
  /** Why it is not trusted: OpenSSL's code (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID, …), else null. */
  error: string | null;
  /** sha256 of its DER, lowercase hex: the key it is enrolled under. */
  fingerprint: string;
  /**
   * Its subject's common name, which names the device (null when it has none, or several). The
   * CN, not a subjectAltName, so that Mosquitto (`use_identity_as_username`) and EMQX
   * (`peer_cert_as_username = cn`) read the same device id from the same certificate.
   */
  commonName: string | null;
}

/**
 * The client certificate of a connection, or undefined when there is none (plain TCP or
 * WebSocket, or TLS without a client certificate). `socket`: the TLS socket itself, or for a
 * WebSocket the socket under its upgrade request.
 */
export function peerCertificate(socket: unknown): PeerCertificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate();
  // An empty object when the client sent none.
  if (!cert?.raw) return undefined;
  const cn: unknown = cert.subject?.CN;
  const authorizationError = socket.authorizationError as unknown;
  return {
    trusted: socket.authorized,
    error: socket.authorized ? null : String(authorizationError ?? 'not verified'),
    fingerprint: certificateFingerprint(cert.fingerprint256),
    commonName: typeof cn === 'string' && cn !== '' ? cn : null,
  };
}

/** `AB:CD:…` (Node's fingerprint256) as the lowercase hex the store keeps. */
export function certificateFingerprint(colonHex: string): string {
  return colonHex.replaceAll(':', '').toLowerCase();
}
