import type { FleetFps, FleetFpsDevice } from '../api-client.js';
import { type Command, numberFlag } from '../command.js';
import { EXIT } from '../errors.js';
import { renderTable } from '../table.js';
import { clientFor, coloursFor, positionalArgs, printJson } from './common.js';

/** Nearest-rank percentile; null for none. */
function pct(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

export interface ClassRow {
  deviceClass: string;
  devices: number;
  slow: number;
  fpsP50: number | null;
  inferP50: number | null;
  inferP95: number | null;
  referenceFps: number | null;
  ratio: number | null;
}

/** Per class: the median and 95th percentile of its devices' inference FPS medians, beside the card. */
export function classRows(fps: FleetFps): ClassRow[] {
  return fps.classes.map((c) => {
    const infer = c.devices.flatMap((d) => (d.inferFps.p50 === null ? [] : [d.inferFps.p50]));
    const inferP50 = pct(infer, 50);
    return {
      deviceClass: c.deviceClass,
      devices: c.devices.length,
      slow: c.devices.filter((d) => d.belowReference).length,
      fpsP50: pct(
        c.devices.flatMap((d) => (d.fps.p50 === null ? [] : [d.fps.p50])),
        50,
      ),
      inferP50,
      inferP95: pct(infer, 95),
      referenceFps: c.referenceFps,
      ratio: c.referenceFps && inferP50 !== null ? inferP50 / c.referenceFps : null,
    };
  });
}

const pctText = (r: number | null) => (r === null ? null : `${Math.round(r * 100)}%`);
/** FPS with one decimal always, so columns line up (15.0, not 15). */
const f1 = (n: number | null) => (n === null ? null : n.toFixed(1));

export const fps: Command = {
  path: ['fps'],
  summary:
    "the fleet's FPS per device and per class, p50/p95 beside the model card; slow devices flagged",
  options: {
    window: { type: 'string' },
    'min-ratio': { type: 'string' },
    slow: { type: 'boolean' },
  },
  optionHelp: {
    window: 'seconds of metrics to look at (default 600)',
    'min-ratio':
      'flag devices whose inference FPS is below this share of the model card (default 0.5)',
    slow: 'list only the slow devices',
  },
  async run(ctx, values, positionals) {
    positionalArgs(positionals, [], 'fps');
    const data = await clientFor(ctx, values).fleetFps({
      window: numberFlag(values, 'window', { min: 10, max: 30 * 86_400, integer: true }),
      minRatio: numberFlag(values, 'min-ratio', { min: 0, max: 10 }),
    });
    const classes = classRows(data);
    if (values.json) {
      printJson(ctx, { ...data, summary: classes });
      return EXIT.ok;
    }
    if (data.classes.length === 0) {
      ctx.stdout.write(`no FPS reported in the last ${data.window}s\n`);
      return EXIT.ok;
    }
    const c = coloursFor(ctx);
    const slowStyle = (slow: boolean) => (_: unknown, cell: string) => (slow ? c.red(cell) : cell);
    const devices = data.classes
      .flatMap((k) => k.devices.map((d) => ({ ...d, deviceClass: k.deviceClass })))
      .filter((d) => !values.slow || d.belowReference)
      .sort(
        (a, b) => a.deviceClass.localeCompare(b.deviceClass) || (a.ratio ?? 0) - (b.ratio ?? 0),
      );
    type Row = FleetFpsDevice & { deviceClass: string };
    const style = (r: Row, cell: string) => slowStyle(r.belowReference)(r, cell);
    ctx.stdout.write(
      renderTable<Row>(devices, [
        { header: 'DEVICE', value: (d) => d.deviceId, style },
        { header: 'CLASS', value: (d) => d.deviceClass },
        { header: 'FPS p50', value: (d) => f1(d.fps.p50), align: 'right' },
        { header: 'p95', value: (d) => f1(d.fps.p95), align: 'right' },
        { header: 'INFER p50', value: (d) => f1(d.inferFps.p50), align: 'right', style },
        { header: 'p95', value: (d) => f1(d.inferFps.p95), align: 'right' },
        { header: 'CARD', value: (d) => d.referenceFps, align: 'right' },
        { header: 'RATIO', value: (d) => pctText(d.ratio), align: 'right', style },
        { header: 'POWER', value: (d) => d.powerMode },
        { header: '', value: (d) => (d.belowReference ? 'SLOW' : ''), style },
      ]),
    );
    ctx.stdout.write('\n');
    ctx.stdout.write(
      renderTable(classes, [
        { header: 'CLASS', value: (k) => k.deviceClass },
        { header: 'DEVICES', value: (k) => k.devices, align: 'right' },
        { header: 'FPS p50', value: (k) => f1(k.fpsP50), align: 'right' },
        { header: 'INFER p50', value: (k) => f1(k.inferP50), align: 'right' },
        { header: 'p95', value: (k) => f1(k.inferP95), align: 'right' },
        { header: 'CARD', value: (k) => k.referenceFps, align: 'right' },
        { header: 'RATIO', value: (k) => pctText(k.ratio), align: 'right' },
        {
          header: 'SLOW',
          value: (k) => k.slow,
          align: 'right',
          style: (k, cell) => (k.slow > 0 ? c.red(cell) : cell),
        },
      ]),
    );
    const cameras = devices.flatMap((d) =>
      d.cameras.map((cam) => ({ ...cam, deviceId: d.deviceId, deviceClass: d.deviceClass })),
    );
    if (cameras.length > 0) {
      type CameraRow = (typeof cameras)[number];
      const down = (r: CameraRow, cell: string) => (r.state !== 'online' ? c.red(cell) : cell);
      ctx.stdout.write('\n');
      ctx.stdout.write(
        renderTable<CameraRow>(cameras, [
          { header: 'DEVICE', value: (r) => r.deviceId },
          { header: 'CAMERA', value: (r) => r.camera, style: down },
          { header: 'FPS p50', value: (r) => f1(r.fps.p50), align: 'right' },
          { header: 'p95', value: (r) => f1(r.fps.p95), align: 'right' },
          { header: 'SOURCE p50', value: (r) => f1(r.cameraFps.p50), align: 'right' },
          { header: 'DROPPED', value: (r) => r.dropped, align: 'right' },
          { header: 'OFFLINE', value: (r) => pctText(r.offline), align: 'right', style: down },
          { header: 'STATE', value: (r) => r.state, style: down },
        ]),
      );
    }
    ctx.stdout.write(
      `\nFPS: end to end; INFER: inference only. CARD: ${data.reference}. SLOW: inference p50 below ${data.minRatio} × the card, over the last ${data.window}s.${cameras.length > 0 ? ' Per camera: FPS processed, SOURCE what the camera delivered, OFFLINE the share of samples it was not online.' : ''}\n`,
    );
    return EXIT.ok;
  },
};
