import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
} from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
} from 'node:net';
import type { Duplex } from 'node:stream';
import { mayPublish, maySubscribe, mayUseClientId, type Principal } from '@facefleet/protocol';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { MqttAuthenticator } from '../auth/mqtt-auth.js';
import { IngestError } from '../errors.js';
import { decodeDeviceMessage } from '../ingest/decode.js';
import type { Ingest } from '../ingest/ingest.js';
import { createLogLimiter } from '../log-limit.js';
import type { Telemetry } from '../telemetry.js';
import { limitPacketSize } from './packet-limit.js';
import { createTokenBucket, type TokenBucket } from './rate-limit.js';
import type { Broker } from './types.js';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** MQTT over WebSocket port; null: none. */
  wsPort: number | null;
  /** A client announcing a larger MQTT packet (its remaining length) is disconnected unread. */
  maxPacketBytes: number;
  ratePerSec: number;
  rateBurst: number;
  drainTimeoutMs: number;
  authenticate: MqttAuthenticator;
  ingest: Ingest;
  telemetry: Telemetry;
  log: Logger;
}

interface Session {
  principal: Principal;
  username: string;
  bucket: TokenBucket;
  /** The username's revocation count when this login was checked (see `disconnect`). */
  epoch: number;
  /** Its credentials were revoked: it may publish nothing more, not even its will. */
  revoked: boolean;
}

/** The embedded broker, which can also drop the sessions of one login. */
export interface EmbeddedBroker extends Broker {
  /**
   * Closes every session of `username`, and any login of it whose password check is still in
   * flight, because its credentials changed. `discardWill`: publish nothing more from them (the
   * login is deleted). Returns how many open sessions were closed.
   */
  disconnect(username: string, options: { discardWill: boolean }): number;
}

function listen(server: NetServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * aedes with facefleet's rules. Nothing gets in by default: a login must be a known device or
 * subscriber with the right token; every publish and subscribe is checked against the protocol ACL.
 *
 * Device messages are ingested inside `authorizePublish`: aedes writes the QoS 1 PUBACK only after
 * that hook calls back, and the hook calls back only after the message's batch committed, so an
 * acknowledged message is on disk. Because aedes reads the next chunk of a client's socket only when
 * every packet of the previous chunk has been handled, a client that publishes faster than the
 * ingest commits is held back by TCP itself: its in-flight messages are bounded by one socket read,
 * and the others are not starved. On top of that each client has a token bucket (`ratePerSec`,
 * `rateBurst`): over it, the hook waits before it calls back, which throttles the flooder the same
 * way without dropping anything.
 *
 * An invalid device message (bad JSON, a field out of range, deviceId not matching the topic) is
 * counted under its reason and logged, and then acknowledged without being stored or routed: the
 * agent's outbox would otherwise resend the same poison message forever. A publish the ACL forbids
 * (another device's topic, a subscriber publishing) is refused and the client disconnected, as MQTT
 * 3.1.1 has no negative PUBACK.
 */
export async function createEmbeddedBroker(
  options: EmbeddedBrokerOptions,
): Promise<EmbeddedBroker> {
  const { ingest, telemetry, log } = options;
  const refusals = createLogLimiter(log);
  const sessions = new WeakMap<Client, Session>();
  /** Payloads of invalid messages: acknowledged, never forwarded (aedes copies the Buffer by reference). */
  const dropped = new WeakSet<Buffer>();
  let devicesConnected = 0;
  /** Open sessions by username, to drop them when their credentials change. */
  const byUsername = new Map<string, Set<Client>>();
  /**
   * How often each username's credentials changed. A login whose password check started before a
   * change is refused when the check ends, or closed when it becomes ready: it may have been
   * checked against the old secret.
   */
  const epochs = new Map<string, { n: number; discardWill: boolean }>();
  const epochOf = (username: string) => epochs.get(username)?.n ?? 0;
  /** The open session holding each client id. */
  const byClientId = new Map<string, Client>();
  /**
   * Why this login may not have `clientId`, or undefined. MQTT gives a client id's session to the
   * newest connection, closing the old one and publishing its will: without this, any device could
   * knock another off the broker (and mark it offline) by connecting with its client id. A session
   * is taken over only by the login that holds it, and agents' ids are their devices' own.
   */
  const clientIdRefusal = (clientId: string, username: string): string | undefined => {
    if (!mayUseClientId(username, clientId)) return "another device's agent client id";
    const holder = byClientId.get(clientId);
    const held = holder ? sessions.get(holder) : undefined;
    if (held && held.username !== username) return 'client id in use by another login';
    return undefined;
  };

  const deny = (returnCode: number, message: string): AuthenticateError =>
    Object.assign(new Error(message), { returnCode }) as AuthenticateError;

  const aedes = await Aedes.createBroker({
    concurrency: 1000,
    drainTimeout: options.drainTimeoutMs,
    maxClientsIdLength: 128,
    heartbeatInterval: 60_000,
    connectTimeout: 10_000,
    authenticate(client, username, password, done) {
      const epoch = epochOf(username ?? '');
      options.authenticate(username, password).then(
        (principal) => {
          if (!principal || epochOf(username ?? '') !== epoch) {
            telemetry.authFailures.inc();
            log.info({ clientId: client.id, username }, 'mqtt login refused');
            done(deny(4, 'bad username or password'), false);
            return;
          }
          const refusal = clientIdRefusal(client.id, username ?? '');
          if (refusal) {
            telemetry.authFailures.inc();
            log.warn({ clientId: client.id, username }, `mqtt login refused: ${refusal}`);
            done(deny(2, `identifier rejected: ${refusal}`), false);
            return;
          }
          sessions.set(client, {
            principal,
            username: username ?? '',
            bucket: createTokenBucket(options.ratePerSec, options.rateBurst),
            epoch,
            revoked: false,
          });
          done(null, true);
        },
        (err: unknown) => {
          log.error({ err }, 'mqtt authentication failed');
          done(deny(3, 'server unavailable'), false);
        },
      );
    },
    authorizePublish(client, packet, callback) {
      const session = client ? sessions.get(client) : undefined;
      if (!session) {
        // No session: a will restored for a client that is gone; aedes's internal publishes
        // ($SYS heartbeats) do not pass through this hook.
        callback(new Error('not authorized'));
        return;
      }
      const { principal } = session;
      if (session.revoked) {
        callback(new Error('credentials revoked'));
        return;
      }
      if (!mayPublish(principal, packet.topic)) {
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
    },
    authorizeSubscribe(client, subscription, callback) {
      const session = sessions.get(client);
      if (!session || !maySubscribe(session.principal, subscription.topic)) {
        telemetry.rejected.inc({ reason: 'acl_subscribe' });
        log.info(
          { clientId: client.id, filter: subscription.topic },
          'subscribe refused by the ACL',
        );
        // A negated subscription: the SUBACK carries 128 (failure) and the client stays connected.
        callback(null, null);
        return;
      }
      callback(null, subscription);
    },
    authorizeForward(_client, packet) {
      return dropped.has(packet.payload as Buffer) ? null : packet;
    },
  });

  aedes.on('clientReady', (client) => {
    const session = sessions.get(client);
    if (!session) return;
    byClientId.set(client.id, client);
    if (session.principal.kind === 'device') devicesConnected++;
    if (session.epoch !== epochOf(session.username)) {
      // Its credentials changed while it was being let in.
      session.revoked = epochs.get(session.username)?.discardWill ?? false;
      telemetry.sessionsDropped.inc();
      client.close();
      return;
    }
    const open = byUsername.get(session.username);
    if (open) open.add(client);
    else byUsername.set(session.username, new Set([client]));
  });
  aedes.on('clientDisconnect', (client) => {
    if (byClientId.get(client.id) === client) byClientId.delete(client.id);
    const session = sessions.get(client);
    if (!session) return;
    if (session.principal.kind === 'device') devicesConnected--;
    const open = byUsername.get(session.username);
    if (open?.delete(client) && open.size === 0) byUsername.delete(session.username);
  });
  aedes.on('clientError', (client, err) => {
    // aedes refuses these topics itself, before authorizePublish, and closes the connection
    if (/ not allowed in PUBLISH$|^topic has too many levels$/.test(err.message)) {
      telemetry.rejected.inc({ reason: 'bad_topic' });
      refusals.warn('bad_topic', { clientId: client.id }, `publish refused: ${err.message}`);
      return;
    }
    log.debug({ clientId: client.id, err: err.message }, 'mqtt client error');
  });
  aedes.on('connectionError', (_client, err) => {
    log.debug({ err: err.message }, 'mqtt connection error');
  });

  /**
   * Every connection passes through the packet-size cap before aedes parses it. A payload over the
   * protocol's MAX_PAYLOAD_BYTES but under this cap is still read and refused as `too_large`
   * (and acknowledged, like any invalid device message); past the cap the client is disconnected.
   */
  const handle = (conn: Duplex, req?: IncomingMessage) => {
    let client: Client | undefined;
    limitPacketSize(conn, options.maxPacketBytes, (announced) => {
      telemetry.rejected.inc({ reason: 'packet_too_large' });
      log.warn(
        { clientId: client?.id ?? null, announced, limit: options.maxPacketBytes },
        'MQTT packet over the size limit: connection closed',
      );
    });
    client = aedes.handle(conn, req);
  };
  const tcp = createNetServer((socket) => handle(socket));
  const mqttPort = await listen(tcp, options.port, options.host);
  let ws: { http: HttpServer; wss: WebSocketServer } | undefined;
  let wsPort: number | null = null;
  if (options.wsPort !== null) {
    const http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
    });
    const wss = new WebSocketServer({ server: http, maxPayload: 1024 * 1024 });
    wss.on('connection', (socket, req) => {
      const stream = createWebSocketStream(socket);
      stream.on('error', () => socket.terminate());
      handle(stream, req);
    });
    wsPort = await listen(http, options.wsPort, options.host);
    ws = { http, wss };
  }
  log.info({ host: options.host, mqttPort, wsPort }, 'embedded MQTT broker listening');

  return {
    ports: { mqtt: mqttPort, ws: wsPort },
    publish(topic, payload, { retain, qos }) {
      return new Promise((resolve, reject) => {
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    },
    connectedDevices: () => devicesConnected,
    disconnect(username, { discardWill }) {
      epochs.set(username, { n: epochOf(username) + 1, discardWill });
      const open = [...(byUsername.get(username) ?? [])];
      byUsername.delete(username);
      for (const client of open) {
        const session = sessions.get(client);
        if (session && discardWill) session.revoked = true;
        client.close();
      }
      if (open.length > 0) telemetry.sessionsDropped.inc({}, open.length);
      return open.length;
    },
    async close() {
      const closing = [closeServer(tcp)];
      if (ws) {
        for (const client of ws.wss.clients) client.terminate();
        ws.wss.close();
        closing.push(closeServer(ws.http));
      }
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await Promise.all(closing);
    },
  };
}
