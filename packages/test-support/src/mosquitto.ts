import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mosquittoBin,
  mosquittoPasswdBin,
  mosquittoSubBin,
  requireBuilt,
  stdbufBin,
} from './paths.js';
import { type RunningProcess, startProcess } from './process.js';
import { canConnect, freePort, waitFor } from './wait.js';

export interface MosquittoOptions {
  /** Default: a free loopback port (kept across `stop`/`start`). */
  port?: number;
  /**
   * Logins (username → password) for a password file; anonymous logins are then refused. Without
   * it anyone may connect.
   */
  users?: Record<string, string>;
  /** An ACL file's text (`user NAME` / `topic read|write|readwrite FILTER` lines). */
  acl?: string;
  /** Keep sessions and queued messages on disk across a restart (default false). */
  persistence?: boolean;
  /**
   * More lines for mosquitto.conf. Beware `max_queued_messages 0` (no limit): mosquitto 2.0.11 then
   * drops the connection of a client whose publish the ACL denies.
   */
  config?: string[];
}

/** Debian's Mosquitto on a loopback port with a generated config, restartable on the same port. */
export interface Mosquitto {
  port: number;
  url: string;
  /** Its config, password file, ACL and persistence live here. */
  dir: string;
  /** The running broker (undefined while stopped); its log goes to its stdout. */
  process: RunningProcess | undefined;
  /** Starts it again after `stop` or `kill9`, on the same port and files. */
  start(): Promise<void>;
  /** SIGTERM and its exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
  /**
   * Adds or changes logins, reloads (SIGHUP) and waits until the broker accepts them (while
   * stopped: they are read at the next start).
   */
  addUsers(users: Record<string, string>): Promise<void>;
  /** Replaces the ACL and reloads. */
  setAcl(acl: string): Promise<void>;
  /** Whether `username`/`password` may log in now. */
  canLogin(username: string, password: string): Promise<boolean>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  requireBuilt(mosquittoBin, mosquittoPasswdBin, mosquittoSubBin);
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ff-test-mosquitto-'));
  // Started as root, mosquitto drops to its own user: it must read these files and write its
  // persistence file here.
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  const passwd = join(dir, 'passwd');
  const aclFile = join(dir, 'acl');
  const users: Record<string, string> = { ...options.users };
  const writePasswd = () => {
    writeFileSync(passwd, '');
    for (const [user, password] of Object.entries(users)) {
      execFileSync(mosquittoPasswdBin, ['-b', passwd, user, password]);
    }
    chmodSync(passwd, 0o644);
  };
  const writeAcl = (text: string) => {
    writeFileSync(aclFile, text.endsWith('\n') ? text : `${text}\n`);
    chmodSync(aclFile, 0o644);
  };
  const authenticated = options.users !== undefined;
  if (authenticated) writePasswd();
  if (options.acl !== undefined) writeAcl(options.acl);
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `allow_anonymous ${authenticated ? 'false' : 'true'}`,
      ...(authenticated ? [`password_file ${passwd}`] : []),
      ...(options.acl !== undefined ? [`acl_file ${aclFile}`] : []),
      ...(options.persistence
        ? ['persistence true', `persistence_location ${dir}/`]
        : ['persistence false']),
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );
  chmodSync(conf, 0o644);

  const broker: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    process: undefined,
    async start() {
      if (broker.process?.running) throw new Error(`mosquitto on ${port} is already running`);
      const proc = startProcess(mosquittoBin, ['-c', conf], { name: `mosquitto :${port}` });
      broker.process = proc;
      await waitFor(async () => !proc.running || (await canConnect(port)), {
        timeoutMs: 15_000,
        what: `mosquitto to listen on ${port}`,
      });
      if (!proc.running) throw new Error(`mosquitto exited at start; its output:\n${proc.tail()}`);
    },
    async stop(timeoutMs) {
      const proc = broker.process;
      broker.process = undefined;
      return proc ? proc.stop(timeoutMs) : null;
    },
    async kill9() {
      const proc = broker.process;
      broker.process = undefined;
      await proc?.kill('SIGKILL');
    },
    async addUsers(more) {
      if (!authenticated) throw new Error('mosquitto was started without users: it takes anyone');
      Object.assign(users, more);
      writePasswd();
      if (!broker.process?.running) return; // read at the next start
      broker.process.child.kill('SIGHUP');
      for (const [user, password] of Object.entries(more)) {
        await waitFor(() => broker.canLogin(user, password), {
          timeoutMs: 10_000,
          what: `mosquitto to accept the login ${user}`,
        });
      }
    },
    async setAcl(acl) {
      if (options.acl === undefined) throw new Error('mosquitto was started without an ACL file');
      writeAcl(acl);
      const since = broker.process?.lines.length ?? 0;
      broker.process?.child.kill('SIGHUP');
      await broker.process?.waitForLine(/Reloading config/, { since, timeoutMs: 10_000 });
    },
    canLogin(username, password) {
      // `mosquitto_sub -E` exits once subscribed: 0 when the login was accepted. It publishes
      // nothing, and a topic no ACL grants is still acknowledged.
      return new Promise((resolve) => {
        const p = spawn(
          mosquittoSubBin,
          ['-h', '127.0.0.1', '-p', String(port), '-u', username, '-P', password].concat([
            '-E',
            '-W',
            '10',
            '-t',
            'facefleet-test/login-probe',
          ]),
          { stdio: 'ignore' },
        );
        p.once('error', () => resolve(false));
        p.once('exit', (code) => resolve(code === 0));
      });
    },
    async close() {
      try {
        await broker.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    await broker.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return broker;
}

export interface MqttMessage {
  topic: string;
  /** The payload as text; '' for an empty payload. */
  payload: string;
}

export interface MosquittoSubOptions {
  /** `mqtt://host:port`. */
  url: string;
  /** Topic filters. */
  topics: string[];
  username?: string;
  password?: string;
  /** Default 1. */
  qos?: 0 | 1 | 2;
  clientId?: string;
  /** Keep the session (needs clientId): messages published while it is away wait for it. */
  persistent?: boolean;
  /**
   * Resolve once the broker acknowledged the subscriptions (default true). False: resolve at once,
   * for tests that expect the login to be refused.
   */
  waitSubscribed?: boolean;
  timeoutMs?: number;
}

export interface MosquittoSub extends RunningProcess {
  /** Messages received so far, in order. */
  messages: MqttMessage[];
  /** QoS granted per topic filter (128 = refused), once subscribed. */
  granted: number[];
  /**
   * The first message (already received or to come) whose topic matches `topic` (a RegExp, or an
   * exact topic) and, when given, `where`.
   */
  waitForMessage(
    topic: RegExp | string,
    options?: { where?: (m: MqttMessage) => boolean; timeoutMs?: number },
  ): Promise<MqttMessage>;
}

/** Debian's `mosquitto_sub -v` as an outside subscriber would run it, collecting what arrives. */
export async function mosquittoSub(options: MosquittoSubOptions): Promise<MosquittoSub> {
  requireBuilt(mosquittoSubBin, stdbufBin);
  const u = new URL(options.url);
  const args = ['-d', '-v', '-h', u.hostname, '-p', u.port || '1883'];
  args.push('-q', String(options.qos ?? 1));
  if (options.username !== undefined) args.push('-u', options.username);
  if (options.password !== undefined) args.push('-P', options.password);
  if (options.clientId !== undefined) args.push('-i', options.clientId);
  if (options.persistent) args.push('-c');
  for (const t of options.topics) args.push('-t', t);
  // stdbuf: mosquitto_sub's stdout to a pipe is block-buffered; each line must arrive as printed
  const proc = startProcess(stdbufBin, ['-oL', mosquittoSubBin, ...args], {
    name: 'mosquitto_sub',
  });
  const messages: MqttMessage[] = [];
  const granted: number[] = [];
  // With -d the client logs its side of the protocol; every other stdout line is `TOPIC PAYLOAD`.
  const debug = /^(Client \S+ (sending|received) [A-Z]+|Subscribed \(mid: \d+\):)/;
  proc.onLine((line, stream) => {
    if (stream !== 'stdout') return;
    const subscribed = /^Subscribed \(mid: \d+\): (.*)$/.exec(line);
    if (subscribed) granted.push(...subscribed[1]!.split(',').map((g) => Number(g.trim())));
    if (debug.test(line)) return;
    const space = line.indexOf(' ');
    const topic = space < 0 ? line : line.slice(0, space);
    const payload = space < 0 ? '' : line.slice(space + 1);
    messages.push({ topic, payload: payload === '(null)' ? '' : payload });
  });
  const sub: MosquittoSub = Object.assign(proc, {
    messages,
    granted,
    waitForMessage(
      topic: RegExp | string,
      o: { where?: (m: MqttMessage) => boolean; timeoutMs?: number } = {},
    ) {
      const matches = (m: MqttMessage) =>
        (typeof topic === 'string' ? m.topic === topic : topic.test(m.topic)) &&
        (!o.where || o.where(m));
      return waitFor(
        () => {
          const m = messages.find(matches);
          if (m) return m;
          if (!proc.running) {
            throw new Error(`mosquitto_sub exited before a message on ${topic}:\n${proc.tail()}`);
          }
          return undefined;
        },
        { timeoutMs: o.timeoutMs ?? 30_000, what: `a message on ${topic} at mosquitto_sub` },
      );
    },
  });
  if (options.waitSubscribed !== false) {
    try {
      await proc.waitForLine(/^Subscribed \(mid: \d+\):/, options.timeoutMs ?? 15_000);
    } catch (err) {
      await proc.kill();
      throw err;
    }
  }
  return sub;
}
