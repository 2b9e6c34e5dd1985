import { join } from 'node:path';
import pino from 'pino';
import { createApiClient } from '../api-client.js';
import { type Command, numberFlag, requiredFlag } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { DEFAULT_CLASSES, planFleet } from '../simulate/fleet-plan.js';
import { createSimulator } from '../simulate/simulator.js';
import { fetchFor, loginFor, pause, positionalArgs } from './common.js';

/** `--camera-outage EVERY:FOR` (seconds) → ms; FOR must be shorter than EVERY. */
export function outageFlag(text: string | undefined): { everyMs: number; forMs: number } {
  if (text === undefined) return { everyMs: 60_000, forMs: 20_000 };
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(text);
  const every = Number(m?.[1]);
  const down = Number(m?.[2]);
  if (!m || !(down > 0) || !(every > down)) {
    throw new UsageError(
      `--camera-outage must be EVERY:FOR in seconds with 0 < FOR < EVERY, like 60:20 (got ${JSON.stringify(text)})`,
    );
  }
  return { everyMs: every * 1000, forMs: down * 1000 };
}

export const simulate: Command = {
  path: ['simulate'],
  summary:
    'run N simulated devices (the agent with a synthetic detector) against the control plane',
  options: {
    devices: { type: 'string' },
    classes: { type: 'string' },
    'faces-rate': { type: 'string' },
    'camera-fps': { type: 'string' },
    'cameras-per-device': { type: 'string' },
    'flaky-cameras': { type: 'string' },
    'camera-outage': { type: 'string' },
    throttle: { type: 'string' },
    'throttle-on': { type: 'string' },
    crash: { type: 'string' },
    'fail-gate': { type: 'string' },
    prefix: { type: 'string' },
    'data-dir': { type: 'string' },
    mqtt: { type: 'string' },
    duration: { type: 'string' },
    cleanup: { type: 'boolean' },
    'faces-window': { type: 'string' },
    'metrics-interval': { type: 'string' },
    trt: { type: 'string' },
    'connect-concurrency': { type: 'string' },
    'report-every': { type: 'string' },
    'log-level': { type: 'string' },
  },
  optionHelp: {
    devices: 'how many devices (required)',
    classes: `class mix by weight (default ${DEFAULT_CLASSES})`,
    'faces-rate': 'mean faces in view per frame (default 1.5)',
    'camera-fps': 'frames per second each camera delivers (default 15)',
    'cameras-per-device':
      'cameras per device, ids 0, 1, … (default 1); one runner serves them, sharing its inference',
    'flaky-cameras':
      'this many devices have a camera (their last) that goes offline on a schedule (tag flaky-camera)',
    'camera-outage':
      "the flaky cameras' schedule EVERY:FOR in seconds: offline the last FOR s of every EVERY s (default 60:20)",
    throttle: 'this many devices infer at 30 % of their model-card FPS (tag throttle)',
    'throttle-on':
      'start (default): throttled from the start, flagged SLOW, healthy under any engine; update: only under an engine an update brings, so its FPS gate fails → rolled_back',
    crash: 'this many devices crash their runner over and over → degraded (tag crash)',
    'fail-gate':
      'this many devices fail the health gate of any engine update → rolled_back (tag fail-gate)',
    prefix: 'device id prefix (default sim): ids are PREFIX-CLASS-NNNN',
    'data-dir': 'credentials and downloads (default $XDG_STATE_HOME/facefleet/sim-PREFIX)',
    mqtt: 'broker URL (default: the control plane host and its broker port)',
    duration: 'stop after this many seconds (default: run until Ctrl-C / SIGTERM)',
    cleanup: 'delete the simulated devices and their files when stopping',
    'faces-window': 'seconds per faces message (default 1)',
    'metrics-interval': 'seconds per metrics message (default 10)',
    trt: 'TensorRT version of every device (default by class: nano 8.2.1, xavier 8.5.2)',
    'connect-concurrency': 'devices connecting at once (default 16)',
    'report-every': 'seconds between status lines (default 10)',
    'log-level': 'agent log level on stderr (default warn)',
  },
  async run(ctx, values, positionals) {
    positionalArgs(positionals, [], 'simulate');
    const count = numberFlag(values, 'devices', { min: 1, max: 100_000, integer: true });
    if (count === undefined) requiredFlag(values, 'devices', 'how many devices to simulate');
    const prefix = (values.prefix as string | undefined) ?? 'sim';
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(prefix)) {
      throw new UsageError(
        `--prefix must be 1-32 letters, digits, _ or - (got ${JSON.stringify(prefix)})`,
      );
    }
    const devices = planFleet({
      devices: count!,
      classes: (values.classes as string | undefined) ?? DEFAULT_CLASSES,
      prefix,
      throttle: numberFlag(values, 'throttle', { min: 0, integer: true }) ?? 0,
      crash: numberFlag(values, 'crash', { min: 0, integer: true }) ?? 0,
      failGate: numberFlag(values, 'fail-gate', { min: 0, integer: true }) ?? 0,
      flakyCameras: numberFlag(values, 'flaky-cameras', { min: 0, integer: true }) ?? 0,
    });
    const camerasPerDevice =
      numberFlag(values, 'cameras-per-device', { min: 1, max: 64, integer: true }) ?? 1;
    const cameraOutage = outageFlag(values['camera-outage'] as string | undefined);
    const throttleFrom = (values['throttle-on'] as string | undefined) ?? 'start';
    if (throttleFrom !== 'start' && throttleFrom !== 'update') {
      throw new UsageError(
        `--throttle-on must be start or update (got ${JSON.stringify(throttleFrom)})`,
      );
    }
    const facesRate = numberFlag(values, 'faces-rate', { min: 0, max: 1000 }) ?? 1.5;
    const cameraFps = numberFlag(values, 'camera-fps', { min: 0.1, max: 240 }) ?? 15;
    const duration = numberFlag(values, 'duration', { min: 0 });
    const facesWindowS = numberFlag(values, 'faces-window', { min: 0.1, max: 3600 }) ?? 1;
    const metricsIntervalS = numberFlag(values, 'metrics-interval', { min: 0.1, max: 3600 }) ?? 10;
    const connectConcurrency =
      numberFlag(values, 'connect-concurrency', { min: 1, max: 1000, integer: true }) ?? 16;
    const reportEvery = numberFlag(values, 'report-every', { min: 0.1 }) ?? 10;
    const trt = values.trt as string | undefined;
    if (trt !== undefined && !/^\d+\.\d+\.\d+$/.test(trt)) {
      throw new UsageError(
        `--trt must be a TensorRT version like 8.5.2 (got ${JSON.stringify(trt)})`,
      );
    }
    const logLevel = (values['log-level'] as string | undefined) ?? 'warn';
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
      throw new UsageError(`--log-level must be trace, debug, info, warn, error, fatal or silent`);
    }
    let mqttUrl = (values.mqtt as string | undefined) ?? ctx.env.FACEFLEET_MQTT;
    if (mqttUrl && !/^mqtts?:\/\/[^\s/]+/.test(mqttUrl)) {
      throw new UsageError(
        `--mqtt must be a broker URL like mqtt://host:1883 (got ${JSON.stringify(mqttUrl)})`,
      );
    }

    const login = loginFor(ctx, values);
    const client = createApiClient({ ...login, fetch: fetchFor(ctx, login), signal: ctx.signal });
    const me = await client.me();
    if (!mqttUrl) {
      if (!me.mqtt.port)
        throw new UsageError(
          'the server uses an external broker: pass its address with --mqtt URL',
        );
      mqttUrl = `mqtt://${new URL(client.server).hostname}:${me.mqtt.port}`;
    }
    const { publicKeyPem } = await client.publicKey();
    const stateHome = ctx.env.XDG_STATE_HOME || join(ctx.env.HOME || '.', '.local', 'state');
    const dataDir =
      (values['data-dir'] as string | undefined) ?? join(stateHome, 'facefleet', `sim-${prefix}`);

    const say = (line: string) => ctx.stderr.write(`simulate: ${line}\n`);
    const log = pino({ level: logLevel, base: { app: 'facefleet-simulate' } }, pino.destination(2));
    const sim = createSimulator({
      client,
      devices,
      dataDir,
      mqttUrl,
      publicKeyPem,
      log,
      facesRate,
      cameraFps,
      camerasPerDevice,
      cameraOutage,
      throttleFrom,
      facesWindowS,
      metricsIntervalS,
      trt,
      connectConcurrency,
      enrollConcurrency: 4,
      signal: ctx.signal,
      progress: say,
    });
    const special = devices.filter((d) => d.role !== 'normal');
    if (special.length > 0 && special.length <= 20) {
      say(special.map((d) => `${d.id} ${d.role}`).join(', '));
    } else if (special.length > 20) {
      say(`${special.length} special devices (tags throttle, crash, fail-gate, flaky-camera)`);
    }

    const startedAt = Date.now();
    const report = (event: string) => {
      const s = sim.stats();
      if (values.json) {
        ctx.stdout.write(
          `${JSON.stringify({ event, t: Math.round((Date.now() - startedAt) / 1000), ...s })}\n`,
        );
      } else {
        ctx.stdout.write(
          `${event}: ${s.connected}/${s.devices} devices connected, ${s.measured} with runner stats; simulator CPU ${s.cpuPct}% of one core, RSS ${s.rssMb} MB\n`,
        );
      }
    };
    try {
      await sim.start();
      if (!ctx.signal.aborted) {
        say(
          `${devices.length} devices started in ${((Date.now() - startedAt) / 1000).toFixed(1)}s`,
        );
        report('ready');
        const until =
          duration === undefined ? Number.POSITIVE_INFINITY : Date.now() + duration * 1000;
        while (!ctx.signal.aborted && Date.now() < until) {
          await pause(Math.min(reportEvery * 1000, until - Date.now()), ctx.signal);
          if (!ctx.signal.aborted) report('running');
        }
      }
    } finally {
      say('stopping');
      await sim.stop();
      if (values.cleanup) {
        const deleted = await sim.cleanup(
          createApiClient({ ...login, fetch: fetchFor(ctx, login) }),
        );
        say(`deleted ${deleted} simulated devices and ${dataDir}`);
      }
      log.flush();
      say('stopped');
    }
    return EXIT.ok;
  },
};
