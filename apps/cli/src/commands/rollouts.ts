import type { ApiClient, DeviceView, RolloutTarget, RolloutView } from '../api-client.js';
import { type CliContext, type Command, numberFlag, requiredFlag } from '../command.js';
import { CliError, EXIT, type ExitCode, UsageError } from '../errors.js';
import { ago, renderTable } from '../table.js';
import { clientFor, coloursFor, listFlag, pause, positionalArgs, printJson } from './common.js';
import { deviceClassFlag } from './devices.js';

const FINAL = ['completed', 'halted', 'aborted'];

const create: Command = {
  path: ['rollouts', 'create'],
  summary: 'roll an engine out to devices (canary first, then the rest)',
  options: {
    engine: { type: 'string' },
    devices: { type: 'string', multiple: true },
    tag: { type: 'string' },
    class: { type: 'string' },
    canary: { type: 'string' },
    hold: { type: 'string' },
    'failure-limit': { type: 'string' },
    'min-fps-ratio': { type: 'string' },
    'gate-hold': { type: 'string' },
    'ap-tolerance': { type: 'string' },
    id: { type: 'string' },
    rollback: { type: 'boolean' },
    watch: { type: 'boolean' },
  },
  optionHelp: {
    engine: 'the engine id (see `facefleet engines list`)',
    devices: 'target devices by id, comma-separated',
    tag: 'target every device with this tag',
    class: 'target every device of this class',
    canary: 'share of targets updated first, 0..1 (default 0.1; 0 = no canary)',
    hold: 'seconds every canary must stay applied before the rest follow (default 300)',
    'failure-limit': 'halt and revert when more devices than this fail (default 0)',
    'min-fps-ratio': "device health gate: new FPS ≥ this × the previous engine's (default 0.9)",
    'gate-hold': 'device health gate: seconds the new engine must run healthy (default 30)',
    'ap-tolerance':
      'device accuracy gate (devices with a golden set): AP points the new engine may lose against the current one (default 1)',
    id: 'rollout id (default: generated)',
    rollback:
      'the engine is older than what some targets run, and that is wanted (they get a signed rollback)',
    watch: 'follow the rollout until it ends (like `rollouts watch`)',
  },
  async run(ctx, values, positionals) {
    positionalArgs(positionals, [], 'rollouts create');
    const engineId = requiredFlag(values, 'engine', 'the engine to roll out');
    const deviceIds = listFlag(values, 'devices');
    const tag = values.tag as string | undefined;
    const cls = values.class as string | undefined;
    const given = [deviceIds && '--devices', tag && '--tag', cls && '--class'].filter(Boolean);
    if (given.length !== 1) {
      throw new UsageError(
        given.length === 0
          ? 'name the target devices with --devices a,b, --tag T or --class C'
          : `give only one of ${given.join(', ')}`,
      );
    }
    const body = {
      id: values.id as string | undefined,
      engineId,
      selector: deviceIds
        ? { deviceIds }
        : tag
          ? { tag }
          : { deviceClass: deviceClassFlag(cls!, '--class') },
      canaryShare: numberFlag(values, 'canary', { min: 0, max: 1 }),
      holdS: numberFlag(values, 'hold', { min: 0 }),
      failureLimit: numberFlag(values, 'failure-limit', { min: 0, integer: true }),
      minFpsRatio: numberFlag(values, 'min-fps-ratio', { min: 0, max: 10 }),
      gateHoldS: numberFlag(values, 'gate-hold', { min: 0, max: 3600 }),
      apTolerance: numberFlag(values, 'ap-tolerance', { min: 0, max: 100 }),
      ...(values.rollback ? { rollback: true } : {}),
    };
    const client = clientFor(ctx, values);
    const rollout = await client.createRollout(body);
    if (values.watch) {
      if (!values.json) ctx.stdout.write(`created rollout ${rollout.id}\n`);
      return watchRollout(ctx, client, rollout.id, {
        json: Boolean(values.json),
        intervalMs: 1000,
      });
    }
    if (values.json) {
      printJson(ctx, rollout);
      return EXIT.ok;
    }
    const targets = rollout.targets ?? [];
    const canaries = targets.filter((t) => t.stage === 'canary').length;
    ctx.stdout.write(
      `created rollout ${rollout.id}: engine ${rollout.engineId} to ${targets.length} devices (${canaries} canary, hold ${rollout.holdS}s, failure limit ${rollout.failureLimit})\n` +
        `follow it with: facefleet rollouts watch ${rollout.id}\n`,
    );
    return EXIT.ok;
  },
};

const list: Command = {
  path: ['rollouts', 'list'],
  summary: 'list rollouts, newest first',
  async run(ctx, values, positionals) {
    positionalArgs(positionals, [], 'rollouts list');
    const rollouts = await clientFor(ctx, values).listRollouts();
    if (values.json) {
      printJson(ctx, rollouts);
      return EXIT.ok;
    }
    if (rollouts.length === 0) {
      ctx.stdout.write('no rollouts\n');
      return EXIT.ok;
    }
    const now = ctx.now();
    ctx.stdout.write(
      renderTable(rollouts, [
        { header: 'ROLLOUT', value: (r) => r.id },
        { header: 'ENGINE', value: (r) => r.engineId },
        { header: 'STATE', value: (r) => r.state },
        { header: 'TARGETS', value: (r) => selectorText(r) },
        { header: 'CREATED', value: (r) => ago(r.createdAt, now) },
        { header: 'REASON', value: (r) => r.reason },
      ]),
    );
    return EXIT.ok;
  },
};

function selectorText(r: RolloutView): string {
  const s = r.selector;
  if (s.deviceIds)
    return s.deviceIds.length <= 3 ? s.deviceIds.join(',') : `${s.deviceIds.length} devices`;
  if (s.tag) return `tag ${s.tag}`;
  return `class ${s.deviceClass}`;
}

const show: Command = {
  path: ['rollouts', 'show'],
  args: 'ID',
  summary: 'show a rollout and each target device',
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'rollouts show');
    const rollout = await clientFor(ctx, values).getRollout(id!);
    if (values.json) printJson(ctx, rollout);
    else ctx.stdout.write(renderRollout(rollout, new Map(), ctx));
    return EXIT.ok;
  },
};

/** Per stage: how many targets are in each state. */
export function stageSummary(targets: RolloutTarget[]): string {
  const parts: string[] = [];
  for (const stage of ['canary', 'rest'] as const) {
    const of = targets.filter((t) => t.stage === stage);
    if (of.length === 0) continue;
    const counts = new Map<string, number>();
    for (const t of of) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
    parts.push(`${stage} ${of.length}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`);
  }
  return parts.join(' | ');
}

/** The full picture for a terminal: header, per-stage summary, one row per device (up to 40). */
function renderRollout(r: RolloutView, devices: Map<string, DeviceView>, ctx: CliContext): string {
  const c = coloursFor(ctx);
  const targets = r.targets ?? [];
  const colour = (state: string, s: string) =>
    state === 'applied' || state === 'completed'
      ? c.green(s)
      : state === 'failed' || state === 'halted' || state === 'aborted'
        ? c.red(s)
        : state === 'reverted'
          ? c.yellow(s)
          : s;
  const head = [
    `rollout ${r.id}: engine ${r.engineId} — ${colour(r.state, r.state)}${r.reason ? ` (${r.reason})` : ''}`,
    `  ${stageSummary(targets)}`,
  ];
  const shown = targets.slice(0, 40);
  const table = renderTable(shown, [
    { header: 'STAGE', value: (t) => t.stage },
    { header: 'DEVICE', value: (t) => t.deviceId },
    { header: 'TARGET', value: (t) => t.state, style: (t, cell) => colour(t.state, cell) },
    { header: 'DEVICE UPDATE', value: (t) => deviceUpdate(devices.get(t.deviceId)) },
    { header: 'AP NEW/BEFORE', value: (t) => apText(t.gate) },
    { header: 'INFER FPS NEW/BEFORE', value: (t) => fpsText(t.gate) },
    { header: 'REASON', value: (t) => t.reason },
  ]);
  const more =
    targets.length > shown.length ? `  … and ${targets.length - shown.length} more\n` : '';
  return `${head.join('\n')}\n${table}${more}`;
}

type Gate = RolloutTarget['gate'];
const f1 = (x: number) => x.toFixed(1);

/** Both APs of the accuracy gate (points), the new engine's first. */
export function apText(gate: Gate): string | null {
  const a = gate?.accuracy;
  if (!a) return null;
  return `${f1(a.engine.ap)}/${a.previous ? f1(a.previous.ap) : '-'}`;
}

/** Both inference FPS figures of the FPS gate, the new engine's first. */
export function fpsText(gate: Gate): string | null {
  const f = gate?.fps;
  if (!f) return null;
  return `${f1(f.engine.inferFps)}/${f.previous ? f1(f.previous.inferFps) : '-'}`;
}

function deviceUpdate(d: DeviceView | undefined): string | null {
  const u = d?.reported?.update;
  if (!u) return null;
  const pct =
    u.state === 'downloading' && u.progress !== null ? ` ${Math.round(u.progress * 100)}%` : '';
  return `${u.state}${pct}`;
}

/**
 * Follows a rollout until it ends. On a terminal the picture is redrawn each poll; otherwise (and
 * with --json) one line per change: the rollout's state, and each target's stage and state.
 * Returns 0 when it completed, EXIT.halted when it halted or was aborted.
 */
export async function watchRollout(
  ctx: CliContext,
  client: ApiClient,
  id: string,
  options: { json: boolean; intervalMs: number },
): Promise<ExitCode> {
  const tty = Boolean(ctx.stdout.isTTY) && !options.json;
  const seen = new Map<string, string>();
  let lastState = '';
  let lastLines = 0;
  let failures = 0;
  for (;;) {
    let r: RolloutView;
    try {
      r = await client.getRollout(id);
      failures = 0;
    } catch (err) {
      // a server restart mid-watch: keep following for a while, then give up
      if (ctx.signal.aborted) return EXIT.failed;
      if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || ++failures > 30)
        throw err;
      await pause(options.intervalMs, ctx.signal);
      continue;
    }
    const targets = r.targets ?? [];
    if (tty) {
      const devices =
        targets.length <= 40
          ? new Map((await client.listDevices()).map((d) => [d.id, d] as const))
          : new Map<string, DeviceView>();
      const text = renderRollout(r, devices, ctx);
      // move up over the previous picture and clear it
      if (lastLines > 0) ctx.stdout.write(`\u001b[${lastLines}A\u001b[0J`);
      ctx.stdout.write(text);
      lastLines = text.split('\n').length - 1;
    } else {
      const line = (o: Record<string, unknown>, human: string) =>
        ctx.stdout.write(`${options.json ? JSON.stringify({ rollout: id, ...o }) : human}\n`);
      if (r.state !== lastState) {
        line(
          { state: r.state, reason: r.reason, summary: stageSummary(targets) },
          `rollout ${id}: ${r.state}${r.reason ? ` (${r.reason})` : ''} — ${stageSummary(targets)}`,
        );
        lastState = r.state;
      }
      for (const t of targets) {
        const key = `${t.state}|${t.reason ?? ''}`;
        if (seen.get(t.deviceId) === key) continue;
        seen.set(t.deviceId, key);
        line(
          { deviceId: t.deviceId, stage: t.stage, target: t.state, reason: t.reason },
          `  ${t.stage.padEnd(6)} ${t.deviceId} ${t.state}${t.reason ? `: ${t.reason}` : ''}`,
        );
      }
    }
    if (FINAL.includes(r.state)) {
      if (r.state === 'completed') {
        if (!options.json) ctx.stdout.write(`rollout ${id} completed\n`);
        return EXIT.ok;
      }
      throw new CliError(
        `rollout ${id} ${r.state}${r.reason ? `: ${r.reason}` : ''}`,
        EXIT.halted,
        `the targets were reverted to their previous engines; see \`facefleet rollouts show ${id}\``,
      );
    }
    if (ctx.signal.aborted) {
      ctx.stderr.write(`stopped watching; rollout ${id} is still ${r.state}\n`);
      return EXIT.ok;
    }
    await pause(options.intervalMs, ctx.signal);
  }
}

const watch: Command = {
  path: ['rollouts', 'watch'],
  args: 'ID',
  summary:
    'follow a rollout stage by stage and device by device until it ends (exit 5 if it halted)',
  options: { interval: { type: 'string' } },
  optionHelp: { interval: 'seconds between polls (default 1)' },
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'rollouts watch');
    const interval = numberFlag(values, 'interval', { min: 0.1, max: 600 }) ?? 1;
    return watchRollout(ctx, clientFor(ctx, values), id!, {
      json: Boolean(values.json),
      intervalMs: interval * 1000,
    });
  },
};

function action(name: 'pause' | 'resume' | 'abort', summary: string): Command {
  return {
    path: ['rollouts', name],
    args: 'ID',
    summary,
    async run(ctx, values, positionals) {
      const [id] = positionalArgs(positionals, ['ID'], `rollouts ${name}`);
      const r = await clientFor(ctx, values).rolloutAction(id!, name);
      if (values.json) printJson(ctx, r);
      else ctx.stdout.write(`rollout ${r.id}: ${r.state}${r.reason ? ` (${r.reason})` : ''}\n`);
      return EXIT.ok;
    },
  };
}

export const rolloutCommands = [
  create,
  list,
  show,
  watch,
  action('pause', 'pause a rollout (devices already updated keep the engine)'),
  action('resume', 'resume a paused rollout'),
  action('abort', 'abort a rollout and revert its devices to their previous engines'),
];
