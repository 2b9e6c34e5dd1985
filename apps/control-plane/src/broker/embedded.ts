import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
} from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { type AclOptions, DEFAULT_ACL_OPTIONS } from '@facefleet/protocol';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, type ServerOptions, WebSocketServer } from 'ws';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { MqttAuthenticator } from '../auth/mqtt-auth.js';
import type { Ingest } from '../ingest/ingest.js';
import type { Telemetry } from '../telemetry.js';
import type { ServerTls } from '../tls/server-tls.js';
import { createBrokerHooks } from './hooks.js';
import { limitPacketSize } from './packet-limit.js';
import { createBrokerPersistence } from './persistence.js';
import { createSessionRegistry } from './sessions.js';
import type { Broker } from './types.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** Plain MQTT port; null: none. */
  port: number | null;
  /** MQTT over WebSocket port; null: none. */
  wsPort: number | null;
  /** MQTT over TLS and over secure WebSocket ports (null: none), served with `tls`. */
  tlsPort?: number | null;
  wssPort?: number | null;
  /** The certificate of the TLS listeners; required when one of their ports is set. */
  tls?: ServerTls | undefined;
  /** A TLS handshake failed (a client that does not trust the certificate, TLS < 1.2, garbage). */
  onTlsError?: (listener: 'mqtts' | 'wss', err: Error) => void;
  /** Origins (`https://host:port`) whose pages may open MQTT over WebSocket; none by default. */
  wsAllowedOrigins?: readonly string[];
  /** A client announcing a larger MQTT packet (its remaining length) is disconnected unread. */
  maxPacketBytes: number;
  /** Messages per second one login may publish, over all its sessions. */
  ratePerSec: number;
  rateBurst: number;
  /** Sessions one device, or one subscriber login, may hold at once. */
  maxSessionsPerDevice: number;
  maxSessionsPerSubscriber: number;
  drainTimeoutMs: number;
  authenticate: MqttAuthenticator;
  /** Failed logins per address (shared with the HTTP API). */
  throttle: LoginThrottle;
  /** Where device messages go; a message is acknowledged when `enqueue` calls back. */
  ingest: Pick<Ingest, 'enqueue'>;
  telemetry: Telemetry;
  log: Logger;
  /** The ACL's settings; default: Home Assistant's discovery under `homeassistant/`. */
  acl?: AclOptions;
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

/**
 * Whether a WebSocket upgrade with this Origin header is let in: none at all (not a browser), or
 * one of `allowed` exactly (scheme, host and port, as browsers send it).
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  return origin === undefined || allowed.includes(origin);
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

/** What the broker core needs: the embedded broker's options less its listeners. */
export type BrokerCoreOptions = Omit<
  EmbeddedBrokerOptions,
  'host' | 'port' | 'wsPort' | 'wsAllowedOrigins' | 'tlsPort' | 'wssPort' | 'tls' | 'onTlsError'
>;

/**
 * aedes with facefleet's rules (hooks.ts) over one session registry, and no listener of its own:
 * `handle` takes any duplex stream (a TCP socket, a WebSocket stream, or one end of an in-memory
 * pair in tests, with no port).
 */
export async function createBrokerCore(options: BrokerCoreOptions) {
  const { telemetry, log } = options;
  const sessions = createSessionRegistry<Client>({
    ratePerSec: options.ratePerSec,
    rateBurst: options.rateBurst,
    maxSessionsPerDevice: options.maxSessionsPerDevice,
    maxSessionsPerSubscriber: options.maxSessionsPerSubscriber,
  });
  const hooks = createBrokerHooks({
    sessions,
    authenticate: options.authenticate,
    throttle: options.throttle,
    ingest: options.ingest,
    telemetry,
    log,
    acl: options.acl ?? DEFAULT_ACL_OPTIONS,
  });
  const aedes = await Aedes.createBroker({
    // aedes's session state, with no work on a CONNECT that has none to do (persistence.ts)
    persistence: createBrokerPersistence(),
    concurrency: 1000,
    drainTimeout: options.drainTimeoutMs,
    maxClientsIdLength: 128,
    heartbeatInterval: 60_000,
    connectTimeout: 10_000,
    authenticate: hooks.authenticate,
    authorizePublish: hooks.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe,
    authorizeForward: hooks.authorizeForward,
  });
  aedes.on('clientReady', hooks.clientReady);
  aedes.on('clientDisconnect', hooks.clientDisconnect);
  aedes.on('clientError', hooks.clientError);
  aedes.on('connectionError', hooks.connectionError);

  return {
    sessions,
    /**
     * Serves one connection. It passes through the packet-size cap before aedes parses it: a
     * payload over the protocol's MAX_PAYLOAD_BYTES but under this cap is still read and refused
     * as `too_large` (and acknowledged, like any invalid device message); past the cap the client
     * is disconnected.
     */
    handle(conn: Duplex, req?: IncomingMessage): void {
      let client: Client | undefined;
      limitPacketSize(conn, options.maxPacketBytes, (announced) => {
        telemetry.rejected.inc({ reason: 'packet_too_large' });
        log.warn(
          { clientId: client?.id ?? null, announced, limit: options.maxPacketBytes },
          'MQTT packet over the size limit: connection closed',
        );
      });
      client = aedes.handle(conn, req);
    },
    publish(
      topic: string,
      payload: string,
      { retain, qos }: { retain: boolean; qos: 0 | 1 },
    ): Promise<void> {
      return new Promise((resolve, reject) => {
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    },
    /** What clients publish to `topic` (aedes delivers it to the process like to a subscriber). */
    watch(topic: string, handler: (payload: Buffer) => void): void {
      aedes.subscribe(
        topic,
        (packet, done) => {
          handler(Buffer.from(packet.payload as Buffer));
          done();
        },
        () => {},
      );
    },
    connectedDevices: () => sessions.connectedDevices,
    disconnect: hooks.disconnect,
    close: () => new Promise<void>((resolve) => aedes.close(() => resolve())),
  };
}
export type BrokerCore = Awaited<ReturnType<typeof createBrokerCore>>;

/** Answers a plain HTTP request on a WebSocket listener. */
const upgradeRequired = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
};

/** MQTT over WebSocket on an HTTP or HTTPS server: each connection's stream goes to `handle`. */
function webSocketListener(
  http: HttpServer,
  handle: (conn: Duplex, req: IncomingMessage) => void,
  verifyClient: NonNullable<ServerOptions['verifyClient']>,
): WebSocketServer {
  const wss = new WebSocketServer({ server: http, maxPayload: 1024 * 1024, verifyClient });
  wss.on('connection', (socket, req) => {
    const stream = createWebSocketStream(socket);
    stream.on('error', () => socket.terminate());
    handle(stream, req);
  });
  return wss;
}

/**
 * The embedded broker: the core, listening on TCP (MQTT), and optionally on WebSocket, TLS and
 * secure WebSocket. The TLS listeners serve `options.tls`, whose reloads reach them (setSecureContext)
 * without closing a connection.
 */
export async function createEmbeddedBroker(
  options: EmbeddedBrokerOptions,
): Promise<EmbeddedBroker> {
  const { log } = options;
  const tlsPort = options.tlsPort ?? null;
  const wssPort = options.wssPort ?? null;
  const tls = options.tls;
  if ((tlsPort !== null || wssPort !== null) && !tls) {
    throw new Error('the MQTT TLS listeners need a certificate (tls)');
  }
  const core = await createBrokerCore(options);
  const handle = (conn: Duplex, req?: IncomingMessage) => core.handle(conn, req);
  const servers: (NetServer | HttpServer)[] = [];
  const sockets: WebSocketServer[] = [];
  const ports = {
    mqtt: null as number | null,
    ws: null as number | null,
    tls: null as number | null,
    wss: null as number | null,
  };
  // A browser says where the page that opens the socket came from; devices and other programs
  // send no Origin. A page of another site must not reach the broker through a browser on the
  // fleet's network (it could try logins from inside it).
  const verifyOrigin: NonNullable<ServerOptions['verifyClient']> = ({ origin }, done) => {
    if (originAllowed(origin, options.wsAllowedOrigins ?? [])) return done(true);
    options.telemetry.rejected.inc({ reason: 'ws_origin' });
    log.warn({ origin: String(origin).slice(0, 256) }, 'MQTT over WebSocket: Origin not allowed');
    done(false, 403, 'Origin not allowed');
  };
  /** A failed handshake: counted by the caller, never a session. */
  const onTlsError = (listener: 'mqtts' | 'wss') => (err: Error) => {
    options.onTlsError?.(listener, err);
    log.debug({ listener, err: err.message }, 'TLS handshake failed');
  };
  try {
    if (options.port !== null) {
      const tcp = createNetServer((socket) => handle(socket));
      servers.push(tcp);
      ports.mqtt = await listen(tcp, options.port, options.host);
    }
    if (options.wsPort !== null) {
      const http = createHttpServer(upgradeRequired);
      servers.push(http);
      sockets.push(webSocketListener(http, handle, verifyOrigin));
      ports.ws = await listen(http, options.wsPort, options.host);
    }
    if (tls && tlsPort !== null) {
      const server = createTlsServer(tls.serverOptions({ clientCertificates: true }), (socket) =>
        handle(socket),
      );
      server.on('tlsClientError', onTlsError('mqtts'));
      tls.attach(server);
      servers.push(server);
      ports.tls = await listen(server, tlsPort, options.host);
    }
    if (tls && wssPort !== null) {
      const https = createHttpsServer(
        tls.serverOptions({ clientCertificates: true }),
        upgradeRequired,
      );
      https.on('tlsClientError', onTlsError('wss'));
      tls.attach(https);
      servers.push(https);
      sockets.push(webSocketListener(https, handle, verifyOrigin));
      ports.wss = await listen(https, wssPort, options.host);
    }
  } catch (err) {
    await Promise.all(
      servers.map((server) => (server.listening ? closeServer(server) : undefined)),
    );
    await core.close();
    throw err;
  }
  log.info(
    {
      host: options.host,
      mqttPort: ports.mqtt,
      wsPort: ports.ws,
      tlsPort: ports.tls,
      wssPort: ports.wss,
    },
    'embedded MQTT broker listening',
  );

  return {
    ports,
    publish: core.publish,
    watch: core.watch,
    connectedDevices: core.connectedDevices,
    disconnect: core.disconnect,
    async close() {
      const closing = servers.map(closeServer);
      for (const wss of sockets) {
        for (const client of wss.clients) client.terminate();
        wss.close();
      }
      await core.close();
      await Promise.all(closing);
    },
  };
}
