import { DEVICE_CLASSES, type DeviceClass, resolveDeviceClass } from '@facefleet/protocol';
import type { DeviceCameras, DeviceView } from '../api-client.js';
import { type Command, requiredFlag } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { ago, renderTable } from '../table.js';
import { clientFor, coloursFor, listFlag, positionalArgs, printJson } from './common.js';

/** A device class by name or short alias (`nano`, `xavier-nx`), or a usage error listing them. */
export function deviceClassFlag(value: string, flag: string): DeviceClass {
  const cls = resolveDeviceClass(value);
  if (!cls) {
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} is not a device class`,
      `one of ${DEVICE_CLASSES.join(', ')} (or nano, xavier-nx, agx-xavier, …)`,
    );
  }
  return cls;
}

const STATES = ['online', 'degraded', 'offline', 'never'] as const;

const list: Command = {
  path: ['devices', 'list'],
  summary: 'list devices with their state, engine and last contact',
  options: {
    tag: { type: 'string' },
    class: { type: 'string' },
    state: { type: 'string' },
  },
  optionHelp: {
    tag: 'only devices with this tag',
    class: 'only devices of this class',
    state: 'only devices in this state: online, degraded, offline or never',
  },
  async run(ctx, values, positionals) {
    positionalArgs(positionals, [], 'devices list');
    const state = values.state as (typeof STATES)[number] | undefined;
    if (state && !STATES.includes(state)) {
      throw new UsageError(
        `--state must be online, degraded, offline or never (got ${JSON.stringify(state)})`,
      );
    }
    const devices = await clientFor(ctx, values).listDevices({
      tag: values.tag as string | undefined,
      class: values.class ? deviceClassFlag(values.class as string, '--class') : undefined,
      status: state,
    });
    if (values.json) {
      printJson(ctx, devices);
      return EXIT.ok;
    }
    if (devices.length === 0) {
      ctx.stdout.write('no devices\n');
      return EXIT.ok;
    }
    const c = coloursFor(ctx);
    const now = ctx.now();
    ctx.stdout.write(
      renderTable(devices, [
        { header: 'DEVICE', value: (d) => d.id },
        { header: 'CLASS', value: (d) => d.deviceClass },
        {
          header: 'STATE',
          value: (d) => d.state ?? 'never',
          style: (d, cell) =>
            d.state === 'online'
              ? c.green(cell)
              : d.state === 'degraded'
                ? c.red(cell)
                : c.dim(cell),
        },
        { header: 'ENGINE', value: (d) => d.engineId },
        { header: 'UPDATE', value: (d) => updateText(d) },
        { header: 'TAGS', value: (d) => (d.tags.length ? d.tags.join(',') : null) },
        { header: 'SEEN', value: (d) => ago(d.lastSeen, now) },
      ]),
    );
    return EXIT.ok;
  },
};

function updateText(d: DeviceView): string | null {
  const u = d.reported?.update;
  if (!u || u.state === 'idle') return null;
  const progress =
    u.state === 'downloading' && u.progress !== null ? ` ${Math.round(u.progress * 100)}%` : '';
  return `${u.state}${progress}`;
}

type Camera = DeviceCameras['cameras'][number];

const show: Command = {
  path: ['devices', 'show'],
  args: 'ID',
  summary: 'show one device: status, what it runs, its last update and desired state',
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'devices show');
    const client = clientFor(ctx, values);
    const [d, cams] = await Promise.all([client.getDevice(id!), client.deviceCameras(id!)]);
    if (values.json) {
      printJson(ctx, { ...d, cameraFigures: cams.cameras });
      return EXIT.ok;
    }
    const now = ctx.now();
    const u = d.reported?.update;
    const lines = [
      `device:     ${d.id}`,
      `class:      ${d.deviceClass}`,
      `state:      ${d.state ?? 'never seen'}${d.status?.reason ? ` (${d.status.reason})` : ''}`,
      `last seen:  ${ago(d.lastSeen, now)}`,
      `tags:       ${d.tags.join(', ') || '-'}`,
      `engine:     ${d.engineId ?? d.reported?.engine?.id ?? '-'}`,
      `runner:     ${d.status ? `${d.status.runner.state}, ${d.status.runner.restarts} restarts` : '-'}`,
      `power mode: ${d.powerMode ?? '-'}`,
      `update:     ${u ? `${u.state}${u.engineId ? ` ${u.engineId}` : ''}${u.rolloutId ? ` (rollout ${u.rolloutId})` : ''}${u.reason ? `: ${u.reason}` : ''}` : '-'}`,
      `desired:    rev ${d.desiredRev ?? '-'}`,
      `cameras:    ${cams.counts.total === 0 ? '-' : `${cams.counts.total} (${cams.counts.online} online, ${cams.counts.reconnecting} reconnecting, ${cams.counts.offline} offline)`}`,
      `messages:   ${d.seq && d.seq.first !== null ? `seq ${d.seq.first}-${d.seq.last}, ${d.seq.stored} stored, ${d.seq.gaps} lost${d.seq.unfiredWills ? ` (${d.seq.unfiredWills} unfired wills not counted)` : ''}` : '-'}`,
      '',
    ];
    ctx.stdout.write(lines.join('\n'));
    if (cams.cameras.length > 0) {
      const c = coloursFor(ctx);
      const stateStyle = (cam: Camera, cell: string) =>
        cam.state === 'online' ? c.green(cell) : cam.state === null ? cell : c.red(cell);
      ctx.stdout.write(
        `\n${renderTable<Camera>(cams.cameras, [
          { header: 'CAMERA', value: (x) => x.id },
          { header: 'STATE', value: (x) => x.state ?? '?', style: stateStyle },
          { header: 'SINCE', value: (x) => (x.since === null ? null : ago(x.since, now)) },
          { header: 'FPS', value: (x) => x.lastMetrics?.fps.toFixed(1) ?? null, align: 'right' },
          {
            header: 'SOURCE FPS',
            value: (x) => x.lastMetrics?.cameraFps.toFixed(1) ?? null,
            align: 'right',
          },
          { header: 'FACES', value: (x) => x.lastFaces?.last ?? null, align: 'right' },
          { header: 'REASON', value: (x) => x.reason },
        ])}`,
      );
    }
    return EXIT.ok;
  },
};

const enroll: Command = {
  path: ['devices', 'enroll'],
  args: 'ID',
  summary: 'enroll a device; prints its token once (put it in the agent config)',
  options: { class: { type: 'string' }, tag: { type: 'string', multiple: true } },
  optionHelp: {
    class:
      'device class: jetson-nano, jetson-xavier-nx, jetson-agx-xavier, … (or nano, xavier-nx, …)',
    tag: 'a tag (repeat, or comma-separated)',
  },
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'devices enroll');
    const deviceClass = deviceClassFlag(
      requiredFlag(values, 'class', 'the device class'),
      '--class',
    );
    const res = await clientFor(ctx, values).enroll({
      id: id!,
      deviceClass,
      tags: listFlag(values, 'tag') ?? [],
    });
    if (values.json) {
      printJson(ctx, res);
      return EXIT.ok;
    }
    ctx.stdout.write(
      [
        `enrolled ${res.device.id} (${res.device.deviceClass})`,
        `token (shown once; give it to the agent in a 0600 file: install.sh --device-token-file): ${res.token}`,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  },
};

const tag: Command = {
  path: ['devices', 'tag'],
  args: 'ID',
  summary: "add or remove a device's tags",
  options: { add: { type: 'string', multiple: true }, remove: { type: 'string', multiple: true } },
  optionHelp: { add: 'tag to add (repeat, or comma-separated)', remove: 'tag to remove' },
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'devices tag');
    const add = listFlag(values, 'add') ?? [];
    const remove = listFlag(values, 'remove') ?? [];
    if (add.length === 0 && remove.length === 0) {
      throw new UsageError('give --add TAG or --remove TAG');
    }
    const client = clientFor(ctx, values);
    const current = (await client.getDevice(id!)).tags;
    const next = [...new Set([...current.filter((t) => !remove.includes(t)), ...add])];
    const d = await client.setTags(id!, next);
    if (values.json) printJson(ctx, d);
    else ctx.stdout.write(`${d.id}: ${d.tags.join(', ') || '(no tags)'}\n`);
    return EXIT.ok;
  },
};

const rm: Command = {
  path: ['devices', 'rm'],
  args: 'ID',
  summary: 'delete a device (its token stops working at once)',
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'devices rm');
    const res = await clientFor(ctx, values).deleteDevice(id!);
    if (values.json) printJson(ctx, res);
    else ctx.stdout.write(`deleted ${res.deleted}\n`);
    return EXIT.ok;
  },
};

export const deviceCommands = [list, show, enroll, tag, rm];
