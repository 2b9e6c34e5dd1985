import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A real Mosquitto broker on an ephemeral loopback port, with a generated config; restartable. */
export interface Broker {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createBroker(): Promise<Broker> {
  const port = await freePort();
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
    async start() {
      proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
      const p = proc;
      let exited = false;
      p.once('exit', () => {
        exited = true;
      });
      await waitFor(async () => exited || (await canConnect(port)), {
        timeoutMs: 10_000,
        what: 'mosquitto to listen',
      });
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
