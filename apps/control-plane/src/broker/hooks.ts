import { type AclOptions, mayPublish, maySubscribe, parseTopic } from '@facefleet/protocol';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { MqttAuthenticator } from '../auth/mqtt-auth.js';
import { IngestError } from '../errors.js';
import { decodeDeviceMessage } from '../ingest/decode.js';
import type { Ingest } from '../ingest/ingest.js';
import { createLogLimiter } from '../log-limit.js';
import type { Telemetry } from '../telemetry.js';
import { peerCertificate } from '../tls/peer.js';
import type { SessionRegistry } from './sessions.js';

/** The peer address of a client's connection (TCP, TLS or WebSocket); `local` for an in-memory stream. */
export function clientAddress(client: Client): string {
  const socket = client.req?.socket ?? (client.conn as { remoteAddress?: string });
  return socket?.remoteAddress ?? 'local';
}

/** Whether a topic the ACL let a device publish to is its status (the one it may retain). */
function isStatusTopic(topic: string): boolean {
  try {
    return parseTopic(topic).kind === 'status';
  } catch {
    return false;
  }
}

export interface BrokerHooksOptions {
  /** Who is connected: the hooks' only state. */
  sessions: SessionRegistry<Client>;
  /** Checks a login's username and password against the store. */
  authenticate: MqttAuthenticator;
  /** Failed logins per address: past its limit, logins are refused unchecked. */
  throttle: LoginThrottle;
  ingest: Pick<Ingest, 'enqueue'>;
  telemetry: Telemetry;
  log: Logger;
  /** The ACL's settings (Home Assistant's discovery prefix). */
  acl: AclOptions;
}

type Hook<
  K extends 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward',
> = NonNullable<AedesOptions[K]>;

/**
 * facefleet's rules as aedes hooks, named as aedes names them, over one session registry. Nothing
 * gets in by default: a login must be a known device or subscriber with the right token; every
 * publish and subscribe is checked against the protocol ACL.
 *
 * Device messages are ingested inside `authorizePublish`: aedes writes the QoS 1 PUBACK only after
 * that hook calls back, and the hook calls back only after the message's batch committed, so an
 * acknowledged message is on disk. Because aedes reads the next chunk of a client's socket only
 * when every packet of the previous chunk has been handled, a client that publishes faster than
 * the ingest commits is held back by TCP itself. On top of that each session has a token bucket:
 * over it, the hook waits before it calls back, which throttles the flooder without dropping
 * anything.
 *
 * An invalid device message (bad JSON, a field out of range, deviceId not matching the topic) is
 * counted under its reason and logged, and then acknowledged without being stored or forwarded:
 * the agent's outbox would otherwise resend the same poison message forever. A publish the ACL
 * forbids (another device's topic, a subscriber publishing) is refused and the client
 * disconnected, as MQTT 3.1.1 has no negative PUBACK.
 */
export function createBrokerHooks(options: BrokerHooksOptions) {
  const { sessions, ingest, telemetry, log } = options;
  const refusals = createLogLimiter(log);
  /** Payloads of invalid messages: acknowledged, never forwarded (aedes copies the Buffer by reference). */
  const dropped = new WeakSet<Buffer>();
  const deny = (returnCode: number, message: string): AuthenticateError =>
    Object.assign(new Error(message), { returnCode }) as AuthenticateError;

  /**
   * A refused login, counted and logged within bounds: at most a few lines a minute per `code`
   * (log-limit.ts), with at most 64 characters of the username and client id (a CONNECT may carry
   * up to 64 KiB of each).
   */
  const refuse = (
    client: Client,
    username: string | undefined,
    code: string,
    detail: string,
    returnCode: number,
  ): AuthenticateError => {
    telemetry.authFailures.inc({ reason: code });
    refusals.warn(
      `login:${code}`,
      {
        clientId: client.id?.slice(0, 64),
        username: username?.slice(0, 64),
        ...(username && username.length > 64 ? { usernameLength: username.length } : {}),
        address: clientAddress(client),
      },
      `mqtt login refused: ${detail}`,
    );
    return deny(returnCode, detail);
  };

  /**
   * CONNECT: the address's failed-login count; a client certificate the TLS handshake could not
   * verify is refused; then the certificate or the password against the store, the client-id rule
   * and the login's session limit; the session is admitted.
   */
  const authenticate: Hook<'authenticate'> = (client, username, password, done) => {
    // (the address costs a system call: asked only once some address failed lately)
    const wait = options.throttle.idle ? 0 : options.throttle.retryAfterMs(clientAddress(client));
    if (wait > 0) {
      telemetry.loginThrottled.inc({ transport: 'mqtt' });
      const detail = `too many failed logins from this address: retry in ${Math.ceil(wait / 1000)} s`;
      done(refuse(client, username, 'throttled', detail, 3), false);
      return;
    }
    const certificate = peerCertificate(client.req?.socket ?? client.conn);
    if (certificate && !certificate.trusted) {
      // another CA, expired, not yet valid: refused whatever password comes with it
      options.throttle.failed(clientAddress(client));
      const detail = `not authorized: client certificate not trusted (${certificate.error})`;
      done(refuse(client, username, 'certificate', detail, 5), false);
      return;
    }
    const name = username ?? '';
    const epoch = sessions.epoch(name);
    options.authenticate({ username, password, certificate }).then(
      (principal) => {
        if (!principal || sessions.epoch(name) !== epoch) {
          if (!principal) options.throttle.failed(clientAddress(client));
          done(refuse(client, username, 'bad_credentials', 'bad username or password', 4), false);
          return;
        }
        const refusal = sessions.clientIdRefusal(client.id, name);
        if (refusal) {
          const detail = `identifier rejected: ${refusal}`;
          done(refuse(client, username, 'client_id', detail, 2), false);
          return;
        }
        const limit = sessions.sessionLimitRefusal(principal, name, client.id);
        if (limit) {
          telemetry.sessionsRefused.inc({ reason: 'per_login_limit' });
          done(refuse(client, username, 'session_limit', `server unavailable: ${limit}`, 3), false);
          return;
        }
        sessions.admit(client, principal, name, epoch);
        done(null, true);
      },
      (err: unknown) => {
        log.error({ err }, 'mqtt authentication failed');
        done(deny(3, 'server unavailable'), false);
      },
    );
  };

  /** PUBLISH: the ACL, then the device message is decoded and committed before the PUBACK. */
  const authorizePublish: Hook<'authorizePublish'> = (client, packet, callback) => {
    const session = client ? sessions.get(client) : undefined;
    if (!session) {
      // No session: a will restored for a client that is gone; aedes's internal publishes
      // ($SYS heartbeats) do not pass through this hook.
      callback(new Error('not authorized'));
      return;
    }
    if (session.revoked) {
      callback(new Error('credentials revoked'));
      return;
    }
    if (!mayPublish(session.principal, packet.topic, options.acl)) {
      telemetry.rejected.inc({ reason: 'acl' });
      refusals.warn(
        'acl',
        { clientId: client?.id, topic: packet.topic },
        'publish refused by the ACL',
      );
      callback(new Error(`not authorized to publish to ${packet.topic}`));
      return;
    }
    // Of a device's messages only its status is retained (its will, and what is read on
    // arrival): a device cannot leave retained messages on its other topics, never to be cleared.
    if (packet.retain && session.principal.kind === 'device' && !isStatusTopic(packet.topic)) {
      packet.retain = false;
    }
    const proceed = () => {
      // Not a device: a subscriber's Home Assistant birth message, passed on as it is.
      if (session.principal.kind !== 'device') {
        callback(null);
        return;
      }
      let message: ReturnType<typeof decodeDeviceMessage>;
      try {
        message = decodeDeviceMessage(packet.topic, packet.payload as Buffer);
      } catch (err) {
        if (!(err instanceof IngestError)) {
          callback(err as Error);
          return;
        }
        telemetry.rejected.inc({ reason: err.reason });
        refusals.warn(
          err.reason,
          { clientId: client?.id, topic: packet.topic, reason: err.reason },
          `device message refused: ${err.message}`,
        );
        dropped.add(packet.payload as Buffer);
        packet.retain = false;
        callback(null);
        return;
      }
      ingest.enqueue(message, (err) => callback(err ?? null));
    };
    const wait = session.bucket.take();
    if (wait > 0) {
      telemetry.rateLimited.inc();
      setTimeout(proceed, wait);
    } else proceed();
  };

  /** SUBSCRIBE: the ACL; a refused filter is negated (SUBACK 128) and the client stays. */
  const authorizeSubscribe: Hook<'authorizeSubscribe'> = (client, subscription, callback) => {
    const session = sessions.get(client);
    if (!session || !maySubscribe(session.principal, subscription.topic, options.acl)) {
      telemetry.rejected.inc({ reason: 'acl_subscribe' });
      log.info({ clientId: client.id, filter: subscription.topic }, 'subscribe refused by the ACL');
      callback(null, null);
      return;
    }
    callback(null, subscription);
  };

  /** Delivery to subscribers: never an invalid message that was acknowledged unstored. */
  const authorizeForward: Hook<'authorizeForward'> = (_client, packet) =>
    dropped.has(packet.payload as Buffer) ? null : packet;

  /** aedes `clientReady`: the session opens, or closes at once if revoked meanwhile. */
  const clientReady = (client: Client): void => {
    if (sessions.ready(client, client.clean)) return;
    telemetry.sessionsDropped.inc();
    client.close();
  };

  /** aedes `clientDisconnect`. */
  const clientDisconnect = (client: Client): void => sessions.gone(client);

  /** aedes `clientError`: topics aedes refuses itself (before authorizePublish) are counted. */
  const clientError = (client: Client, err: Error): void => {
    if (/ not allowed in PUBLISH$|^topic has too many levels$/.test(err.message)) {
      telemetry.rejected.inc({ reason: 'bad_topic' });
      refusals.warn('bad_topic', { clientId: client.id }, `publish refused: ${err.message}`);
      return;
    }
    log.debug({ clientId: client.id, err: err.message }, 'mqtt client error');
  };

  /** aedes `connectionError`. */
  const connectionError = (_client: Client, err: Error): void => {
    log.debug({ err: err.message }, 'mqtt connection error');
  };

  /**
   * Closes every session of `username`, and any login of it whose password check is still in
   * flight, because its credentials changed. Returns how many open sessions were closed.
   */
  const disconnect = (username: string, { discardWill }: { discardWill: boolean }): number => {
    const open = sessions.revoke(username, discardWill);
    for (const client of open) client.close();
    if (open.length > 0) telemetry.sessionsDropped.inc({}, open.length);
    return open.length;
  };

  return {
    authenticate,
    authorizePublish,
    authorizeSubscribe,
    authorizeForward,
    clientReady,
    clientDisconnect,
    clientError,
    connectionError,
    disconnect,
  };
}
export type BrokerHooks = ReturnType<typeof createBrokerHooks>;
