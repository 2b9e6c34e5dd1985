import { randomBytes } from 'node:crypto';
import {
  alertSchema,
  cameraIdSchema,
  cameraOf,
  DEFAULT_CAMERA_ID,
  deviceIdSchema,
  facesSchema,
  filters,
  PayloadError,
  parseJsonPayload,
  parseTopic,
  topics,
} from '@facefleet/protocol';
import mqtt from 'mqtt';
import { type ApiClient, createApiClient } from '../api-client.js';
import { type CliContext, type Command, numberFlag, type ParsedValues } from '../command.js';
import { CliError, EXIT, type ExitCode, UsageError } from '../errors.js';
import { printable } from '../printable.js';
import { readCa } from '../tls.js';
import { coloursFor, fetchFor, loginFor } from './common.js';

const mqttOptions = {
  mqtt: { type: 'string' },
  'mqtt-user': { type: 'string' },
  'mqtt-password': { type: 'string' },
  count: { type: 'string' },
} as const;
const mqttHelp = {
  mqtt: 'broker URL, like mqtt://host:1883 (default: the control plane host and its broker port)',
  'mqtt-user':
    'read-only subscriber login, subscriber@NAME (default: created for this run if your token is admin)',
  'mqtt-password': 'its password (or FACEFLEET_MQTT_PASSWORD)',
  count: 'exit after this many messages',
};

interface Credentials {
  url: string;
  /** The CA file an mqtts:// or wss:// broker's certificate is checked against. */
  ca: string | undefined;
  username: string;
  password: string;
  /** Revokes credentials created for this run. */
  release: () => Promise<void>;
}

/**
 * The broker URL and read-only credentials: from flags (or FACEFLEET_MQTT_*), else minted for this
 * run through `POST /api/v1/subscribers` (admin tokens only) and revoked when the command ends.
 */
async function subscriberCredentials(ctx: CliContext, values: ParsedValues): Promise<Credentials> {
  const user = (values['mqtt-user'] as string | undefined) ?? ctx.env.FACEFLEET_MQTT_USER;
  const password =
    (values['mqtt-password'] as string | undefined) ?? ctx.env.FACEFLEET_MQTT_PASSWORD;
  let url = (values.mqtt as string | undefined) ?? ctx.env.FACEFLEET_MQTT;
  if (url && !/^(mqtts?|wss?):\/\/[^\s/]+/.test(url)) {
    throw new UsageError(
      `--mqtt must be a broker URL like mqtt://host:1883 (got ${JSON.stringify(url)})`,
    );
  }
  if (user && !password)
    throw new UsageError('--mqtt-user needs --mqtt-password (or FACEFLEET_MQTT_PASSWORD)');
  const caFlag = (values.ca as string | undefined) ?? ctx.env.FACEFLEET_CA;
  if (user && url) {
    return { url, ca: caFlag, username: user, password: password!, release: async () => {} };
  }

  let login: ReturnType<typeof loginFor>;
  try {
    login = loginFor(ctx, values);
  } catch (err) {
    if (!(err instanceof CliError) || err.exitCode !== EXIT.auth) throw err;
    throw new CliError(
      'no MQTT credentials and not signed in',
      EXIT.auth,
      'pass --mqtt URL --mqtt-user subscriber@NAME --mqtt-password P, or run `facefleet login`',
    );
  }
  const { server, token, ca } = login;
  const client: ApiClient = createApiClient({
    ...login,
    fetch: fetchFor(ctx, login),
    signal: ctx.signal,
  });
  if (!url) {
    const me = await client.me();
    const host = new URL(client.server).hostname;
    // over TLS when the API is (and the broker listens on TLS), else plain
    const secure = client.server.startsWith('https:') && me.mqtt.tlsPort;
    if (secure) url = `mqtts://${host}:${me.mqtt.tlsPort}`;
    else if (me.mqtt.port) url = `mqtt://${host}:${me.mqtt.port}`;
    else if (me.mqtt.tlsPort) url = `mqtts://${host}:${me.mqtt.tlsPort}`;
    else {
      throw new UsageError('the server uses an external broker: pass its address with --mqtt URL');
    }
  }
  if (user) return { url, ca, username: user, password: password!, release: async () => {} };
  const name = `cli-${randomBytes(4).toString('hex')}`;
  let created: Awaited<ReturnType<ApiClient['createSubscriber']>>;
  try {
    created = await client.createSubscriber(name);
  } catch (err) {
    if (err instanceof CliError && err.exitCode === EXIT.auth) {
      throw new CliError(
        'your token may not create MQTT subscriber credentials (that needs the admin role)',
        EXIT.auth,
        'ask an admin for read-only credentials (POST /api/v1/subscribers) and pass --mqtt-user and --mqtt-password',
      );
    }
    throw err;
  }
  ctx.stderr.write(
    `using read-only MQTT credentials ${created.username}, created for this run and revoked when it ends\n`,
  );
  return {
    url,
    ca,
    username: created.username,
    password: created.password,
    release: async () => {
      // the run is ending (maybe on a signal): a fresh request that the abort does not cancel
      await createApiClient({ server, token, fetch: fetchFor(ctx, login) })
        .deleteSubscriber(name)
        .catch(() => undefined);
    },
  };
}

/**
 * Subscribes and prints each valid message until the signal aborts or `--count` messages arrived.
 * mqtt.js reconnects by itself (every second); outages are reported on stderr once each.
 */
async function tail(
  ctx: CliContext,
  values: ParsedValues,
  filter: string,
  onMessage: (topic: string, payload: Buffer) => boolean,
): Promise<ExitCode> {
  const count = numberFlag(values, 'count', { min: 1, integer: true });
  const creds = await subscriberCredentials(ctx, values);
  const client = mqtt.connect(creds.url, {
    ...(creds.ca ? { ca: readCa(creds.ca) } : {}),
    username: creds.username,
    password: creds.password,
    clientId: `facefleet-cli-${randomBytes(4).toString('hex')}`,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    clean: true,
  });
  let received = 0;
  let everConnected = false;
  let down = false;
  try {
    return await new Promise<ExitCode>((resolve, reject) => {
      const stop = () => resolve(EXIT.ok);
      if (ctx.signal.aborted) return stop();
      ctx.signal.addEventListener('abort', stop, { once: true });
      client.on('connect', () => {
        client.subscribe(filter, { qos: 1 }, (err, granted) => {
          if (err || granted?.some((g) => g.qos === 128)) {
            reject(
              new CliError(
                `the broker refused the subscription to ${filter}`,
                EXIT.auth,
                'use read-only subscriber credentials (subscriber@NAME)',
              ),
            );
            return;
          }
          if (down) ctx.stderr.write('reconnected\n');
          else if (!everConnected) ctx.stderr.write(`listening on ${creds.url} (${filter})\n`);
          everConnected = true;
          down = false;
        });
      });
      client.on('error', (err) => {
        const code = (err as { code?: number | string }).code;
        if (code === 4 || code === 5 || /not authorized|bad user/i.test(err.message)) {
          reject(
            new CliError(
              `the broker refused the login ${creds.username}: ${err.message}`,
              EXIT.auth,
              'check --mqtt-user and --mqtt-password (subscriber@NAME and its password)',
            ),
          );
        } else if (!everConnected && !down) {
          down = true;
          ctx.stderr.write(`cannot reach the broker at ${creds.url} (${err.message}); retrying\n`);
        }
      });
      client.on('offline', () => {
        if (!down) ctx.stderr.write(`lost the broker at ${creds.url}; reconnecting\n`);
        down = true;
      });
      client.on('message', (topic, payload) => {
        // an empty retained message only clears what was retained there (a deleted device's alert)
        if (payload.length === 0) return;
        if (!onMessage(topic, payload)) return;
        received += 1;
        if (count !== undefined && received >= count) resolve(EXIT.ok);
      });
    });
  } finally {
    await client.endAsync(true).catch(() => undefined);
    await creds.release();
  }
}

const time = (ts: number) => new Date(ts).toISOString().slice(11, 19);
/** `cam-7`, or `cam-7/yard` for a camera other than "0". */
const source = (deviceId: string, camera: string) =>
  camera === DEFAULT_CAMERA_ID ? deviceId : `${deviceId}/${camera}`;

const facesTail: Command = {
  path: ['faces', 'tail'],
  summary: 'print live face counts from every device (or one, or one camera) as they arrive',
  options: { ...mqttOptions, device: { type: 'string' }, camera: { type: 'string' } },
  optionHelp: {
    ...mqttHelp,
    device: 'only this device',
    camera: 'only this camera (of every device, or of --device); "0" is a device\'s only camera',
  },
  async run(ctx, values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const device = values.device as string | undefined;
    if (device !== undefined && !deviceIdSchema.safeParse(device).success) {
      throw new UsageError(`--device ${JSON.stringify(device)} is not a valid device id`);
    }
    const camera = values.camera as string | undefined;
    if (camera !== undefined && !cameraIdSchema.safeParse(camera).success) {
      throw new UsageError(`--camera ${JSON.stringify(camera)} is not a valid camera id`);
    }
    // The camera is a field of the payload (the topic is the device's): filtered here.
    const filter = device ? topics.faces(device) : filters.allFaces;
    return tail(ctx, values, filter, (topic, payload) => {
      try {
        const m = parseJsonPayload(facesSchema, payload, 'faces');
        const cam = cameraOf(m);
        if (camera !== undefined && cam !== camera) return false;
        if (values.json) ctx.stdout.write(`${JSON.stringify(m)}\n`);
        else
          ctx.stdout.write(
            `${time(m.end)}  ${source(m.deviceId, cam)}  faces ${m.last} (min ${m.min}, max ${m.max}, mean ${m.mean.toFixed(1)}) over ${m.frames} frames\n`,
          );
        return true;
      } catch (err) {
        if (!(err instanceof PayloadError)) throw err;
        ctx.stderr.write(
          `skipped an invalid message on ${printable(topic)}: ${printable(err.message)}\n`,
        );
        return false;
      }
    });
  },
};

const alertsTail: Command = {
  path: ['alerts', 'tail'],
  summary: 'print alerts as they fire and resolve',
  options: { ...mqttOptions, rule: { type: 'string' } },
  optionHelp: { ...mqttHelp, rule: 'only alerts of this rule' },
  async run(ctx, values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const rule = values.rule as string | undefined;
    let filter: string;
    try {
      filter = rule ? filters.ruleAlerts(rule) : filters.allAlerts;
    } catch {
      throw new UsageError(`--rule ${JSON.stringify(rule)} is not a valid rule id`);
    }
    const c = coloursFor(ctx);
    return tail(ctx, values, filter, (topic, payload) => {
      try {
        parseTopic(topic);
        const a = parseJsonPayload(alertSchema, payload, 'alert');
        if (values.json) {
          ctx.stdout.write(`${JSON.stringify(a)}\n`);
        } else {
          const state =
            a.state === 'firing'
              ? a.severity === 'critical'
                ? c.red('FIRING  ')
                : c.yellow('FIRING  ')
              : c.green('RESOLVED');
          ctx.stdout.write(
            `${time(a.ts)}  ${state} ${a.severity.padEnd(8)} ${a.ruleId}  ${source(a.deviceId, cameraOf(a))}  ${printable(a.message)}\n`,
          );
        }
        return true;
      } catch (err) {
        ctx.stderr.write(
          `skipped an invalid message on ${printable(topic)}: ${printable((err as Error).message)}\n`,
        );
        return false;
      }
    });
  },
};

export const tailCommands = [facesTail, alertsTail];
