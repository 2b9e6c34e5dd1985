import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, createTestPki, freePort, waitFor } from '@facefleet/test-support';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** PEM files of a broker's TLS listener. */
export interface BrokerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A real Mosquitto broker on an ephemeral loopback port, with a generated config; restartable. */
export interface Broker {
  port: number;
  url: string;
  /** `mqtts://localhost:PORT` when created with `tls`. */
  tlsUrl?: string;
  /** With `tls`: MQTT over secure WebSocket, `wss://localhost:PORT`. */
  wssUrl?: string;
  /**
   * With `tls`: `mqtts://localhost:PORT` of a listener that requires a client certificate signed
   * by the CA and takes its CN as the username (`use_identity_as_username`).
   */
  certUrl?: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createBroker(options: { tls?: BrokerTls } = {}): Promise<Broker> {
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : 0;
  const wssPort = options.tls ? await freePort() : 0;
  const certPort = options.tls ? await freePort() : 0;
  const dir = mkdtempSync(join(tmpdir(), 'ff-mosquitto-'));
  // mosquitto started as root drops to the `mosquitto` user: it must be able to write its
  // persistence file here, or every restart silently loses the queued sessions
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // persistent sessions survive a broker restart, so a test subscriber misses nothing
      'persistence true',
      `persistence_location ${dir}/`,
      'max_queued_messages 0',
      ...(options.tls
        ? [
            ...[tlsPort, wssPort, certPort].flatMap((p) => [
              `listener ${p} 127.0.0.1`,
              `cafile ${options.tls?.caFile}`,
              `certfile ${options.tls?.certFile}`,
              `keyfile ${options.tls?.keyFile}`,
              ...(p === wssPort ? ['protocol websockets'] : []),
              ...(p === certPort
                ? ['require_certificate true', 'use_identity_as_username true']
                : []),
            ]),
          ]
        : []),
      process.env.FF_MOSQUITTO_LOG
        ? `log_dest file ${process.env.FF_MOSQUITTO_LOG}`
        : 'log_dest none',
      process.env.FF_MOSQUITTO_LOG ? 'log_type all' : '',
      '',
    ].join('\n'),
  );
  let proc: ChildProcess | undefined;
  const broker: Broker = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    ...(options.tls
      ? {
          tlsUrl: `mqtts://localhost:${tlsPort}`,
          wssUrl: `wss://localhost:${wssPort}`,
          certUrl: `mqtts://localhost:${certPort}`,
        }
      : {}),
    async start() {
      proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
      const p = proc;
      let exited = false;
      p.once('exit', () => {
        exited = true;
      });
      await waitFor(
        async () =>
          exited ||
          ((await canConnect(port)) &&
            (!tlsPort ||
              ((await canConnect(tlsPort)) &&
                (await canConnect(wssPort)) &&
                (await canConnect(certPort))))),
        {
          timeoutMs: 10_000,
          what: 'mosquitto to listen',
        },
      );
      if (exited) throw new Error(`mosquitto exited at start (port ${port})`);
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    },
  };
  await broker.start();
  return broker;
}

/**
 * A private CA and a server certificate it signed for `localhost` and 127.0.0.1, another CA, and a
 * device certificate `deviceId` signed by the first (test-support's openssl PKI), readable by the
 * `mosquitto` user that a broker started as root switches to.
 */
export function makeTestCertificates(
  dir: string,
  deviceId = 'tls-device',
): BrokerTls & { otherCaFile: string; device: { certFile: string; keyFile: string } } {
  const pki = createTestPki(dir);
  const ca = pki.ca('test-ca');
  const other = pki.ca('other-ca');
  const server = ca.issue('localhost', { kind: 'server' });
  const device = ca.issue(deviceId);
  pki.makeReadable();
  return {
    caFile: ca.certFile,
    certFile: server.certFile,
    keyFile: server.keyFile,
    otherCaFile: other.certFile,
    device: { certFile: device.certFile, keyFile: device.keyFile },
  };
}
