import { mayPublish, maySubscribe } from '@facefleet/protocol';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import type { MqttAuthenticator } from '../auth/mqtt-auth.js';
import { IngestError } from '../errors.js';
import { decodeDeviceMessage } from '../ingest/decode.js';
import type { Ingest } from '../ingest/ingest.js';
import { createLogLimiter } from '../log-limit.js';
import type { Telemetry } from '../telemetry.js';
import { peerCertificate } from '../tls/peer.js';
import type { SessionRegistry } from './sessions.js';

export interface BrokerHooksOptions {
  /** Who is connected: the hooks' only state. */
  sessions: SessionRegistry<Client>;
  /** Checks a login's username and password against the store. */
  authenticate: MqttAuthenticator;
  ingest: Pick<Ingest, 'enqueue'>;
  telemetry: Telemetry;
  log: Logger;
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
   * CONNECT: a client certificate the TLS handshake could not verify is refused; then the
   * certificate or the password against the store, then the client-id rule; the session is
   * admitted.
   */
  const authenticate: Hook<'authenticate'> = (client, username, password, done) => {
    const certificate = peerCertificate(client.req?.socket ?? client.conn);
    if (certificate && !certificate.trusted) {
      telemetry.authFailures.inc();
      log.info(
        { clientId: client.id, username, reason: certificate.error },
        'mqtt login refused: client certificate not trusted',
      );
      done(deny(5, `not authorized: client certificate ${certificate.error}`), false);
      return;
    }
    const name = username ?? '';
    const epoch = sessions.epoch(name);
    options.authenticate({ username, password, certificate }).then(
      (principal) => {
        if (!principal || sessions.epoch(name) !== epoch) {
          telemetry.authFailures.inc();
          log.info({ clientId: client.id, username }, 'mqtt login refused');
          done(deny(4, 'bad username or password'), false);
          return;
        }
        const refusal = sessions.clientIdRefusal(client.id, name);
        if (refusal) {
          telemetry.authFailures.inc();
          log.warn({ clientId: client.id, username }, `mqtt login refused: ${refusal}`);
          done(deny(2, `identifier rejected: ${refusal}`), false);
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
    if (!mayPublish(session.principal, packet.topic)) {
      telemetry.rejected.inc({ reason: 'acl' });
      refusals.warn(
        'acl',
        { clientId: client?.id, topic: packet.topic },
        'publish refused by the ACL',
      );
      callback(new Error(`not authorized to publish to ${packet.topic}`));
      return;
    }
    const proceed = () => {
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
    if (!session || !maySubscribe(session.principal, subscription.topic)) {
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
    if (sessions.ready(client)) return;
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
