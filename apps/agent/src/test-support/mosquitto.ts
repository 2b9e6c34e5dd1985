import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort, waitFor } from '@facefleet/test-support';

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
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createBroker(options: { tls?: BrokerTls } = {}): Promise<Broker> {
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : 0;
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
            `listener ${tlsPort} 127.0.0.1`,
            `cafile ${options.tls.caFile}`,
            `certfile ${options.tls.certFile}`,
            `keyfile ${options.tls.keyFile}`,
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
    ...(options.tls ? { tlsUrl: `mqtts://localhost:${tlsPort}` } : {}),
    async start() {
      proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
      const p = proc;
      let exited = false;
      p.once('exit', () => {
        exited = true;
      });
      await waitFor(
        async () =>
          exited || ((await canConnect(port)) && (!tlsPort || (await canConnect(tlsPort)))),
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
 * A private CA and a server certificate it signed for `localhost` and 127.0.0.1 (P-256 keys: cheap
 * to make on a loaded machine), made with the openssl command (which Debian's ca-certificates, a setup.sh package, depends on).
 */
export function makeTestCertificates(dir: string): BrokerTls & { otherCaFile: string } {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newCa = (name: string) =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.crt`),
    );
  newCa('test-ca');
  newCa('other-ca');
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
  );
  writeFileSync(file('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('test-ca.crt'),
    '-CAkey',
    file('test-ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('san.ext'),
    '-out',
    file('server.crt'),
  );
  // mosquitto started as root reads them as the `mosquitto` user
  for (const f of ['test-ca.crt', 'server.crt', 'server.key']) chmodSync(file(f), 0o644);
  chmodSync(dir, 0o755);
  return {
    caFile: file('test-ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    otherCaFile: file('other-ca.crt'),
  };
}
