import { resolve } from 'node:path';
import { createApiClient } from '../api-client.js';
import { storedLoginSchema, writeLogin } from '../cli-config.js';
import { type Command, requiredFlag } from '../command.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { clientFor, fetchFor, printJson } from './common.js';

export const login: Command = {
  path: ['login'],
  summary: 'check a server URL and API token against the server, then store them (mode 0600)',
  optionHelp: {},
  async run(ctx, values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const server = requiredFlag(values, 'server', 'the control plane URL, like http://host:8080');
    const token = requiredFlag(values, 'token', 'an API token (facefleet-server token create)');
    const ca = values.ca === undefined ? undefined : resolve(String(values.ca));
    const parsed = storedLoginSchema.safeParse({ server, token, ...(ca ? { ca } : {}) });
    if (!parsed.success) {
      throw new UsageError(
        `--server must be an http:// or https:// URL (got ${JSON.stringify(server)})`,
      );
    }
    const client = createApiClient({
      ...parsed.data,
      fetch: fetchFor(ctx, parsed.data),
      signal: ctx.signal,
    });
    const me = await client.me();
    const file = writeLogin(ctx, { server: client.server, token, ...(ca ? { ca } : {}) });
    if (values.json) {
      printJson(ctx, { server: client.server, file, me });
    } else {
      const who = me.kind === 'operator' ? `${me.name} (${me.role})` : `device ${me.deviceId}`;
      ctx.stdout.write(`signed in to ${client.server} as ${who}\nstored in ${file}\n`);
    }
    return EXIT.ok;
  },
};

export const status: Command = {
  path: ['status'],
  summary: 'server health, who you are, and how many devices are online',
  async run(ctx, values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const client = clientFor(ctx, values);
    const [health, me, devices] = await Promise.all([
      client.health(),
      client.me(),
      client.listDevices(),
    ]);
    const counts = { online: 0, degraded: 0, offline: 0, never: 0 };
    for (const d of devices) counts[d.state ?? 'never'] += 1;
    if (values.json) {
      printJson(ctx, {
        server: client.server,
        health,
        me,
        devices: { total: devices.length, ...counts },
      });
    } else {
      const who = me.kind === 'operator' ? `${me.name} (role ${me.role})` : `device ${me.deviceId}`;
      ctx.stdout.write(
        [
          `server:   ${client.server} ${health.ok ? 'ok' : 'NOT OK'}${typeof health.broker === 'string' ? ` (broker ${health.broker})` : ''}`,
          `you:      ${who}`,
          `devices:  ${devices.length} enrolled: ${counts.online} online, ${counts.degraded} degraded, ${counts.offline} offline, ${counts.never} never seen`,
          `mqtt:     ${health.connectedDevices ?? 'unknown'} devices connected${me.mqtt.port ? `, port ${me.mqtt.port}` : ''}`,
          '',
        ].join('\n'),
      );
    }
    if (!health.ok) throw new CliError('the server reports it is not healthy', EXIT.failed);
    return EXIT.ok;
  },
};
