import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { Readable } from 'node:stream';
import { ENGINE_FORMATS, RUNNER_BACKENDS, RUNNER_MODELS } from '@facefleet/protocol';
import { type CliContext, type Command, numberFlag, requiredFlag } from '../command.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { ago, renderTable } from '../table.js';
import { clientFor, positionalArgs, printJson } from './common.js';
import { deviceClassFlag } from './devices.js';

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(
      `--${flag} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  return value as T;
}

/** The input tensor (C,H,W) each model expects: FaceNet 3×416×736 (model card), BlazeFace 3×128×128. */
const INPUT_DIMS: Record<(typeof RUNNER_MODELS)[number], string> = {
  detectnet_v2: '3,416,736',
  blazeface: '3,128,128',
};

/** A progress bar on stderr, redrawn in place; only for terminals. */
export function progressBar(ctx: CliContext, total: number, label: string) {
  const tty = Boolean(ctx.stderr.isTTY);
  let last = -1;
  return {
    update(done: number) {
      if (!tty) return;
      const share = total > 0 ? done / total : 1;
      const pct = Math.floor(share * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const filled = Math.round(share * width);
      ctx.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)}`,
      );
    },
    end() {
      if (tty && last >= 0) ctx.stderr.write('\n');
    },
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const push: Command = {
  path: ['engines', 'push'],
  args: 'FILE',
  summary: 'upload an engine (TensorRT plan or ONNX model); prints its id and sha256',
  options: {
    model: { type: 'string' },
    'target-class': { type: 'string' },
    trt: { type: 'string' },
    'dla-core': { type: 'string' },
    backend: { type: 'string' },
    format: { type: 'string' },
    precision: { type: 'string' },
    'input-dims': { type: 'string' },
    name: { type: 'string' },
    id: { type: 'string' },
  },
  optionHelp: {
    model: `the decoder the runner uses: ${RUNNER_MODELS.join(' or ')}`,
    'target-class': 'the device class the engine was built for (jetson-xavier-nx, nano, …)',
    trt: 'TensorRT version the plan was built with (8.5.2); required for a plan',
    'dla-core':
      'DLA core the engine is built for (Xavier NX, AGX Xavier, Orin NX, AGX Orin): an ONNX model is built on the device with trtexec --useDLACore=N --allowGPUFallback, and the runner runs it there',
    backend: `${RUNNER_BACKENDS.join(' or ')} (default: tensorrt for jetson-*, else opencv)`,
    format: `${ENGINE_FORMATS.join(' or ')} (default: from the file name, .onnx → onnx)`,
    precision: 'int8, fp16 or fp32 (default int8 for tensorrt, fp32 for opencv)',
    'input-dims':
      'C,H,W of the input (default 3,416,736 for detectnet_v2, 3,128,128 for blazeface)',
    name: 'display name (default: the file name)',
    id: 'engine id (default: generated)',
  },
  async run(ctx, values, positionals) {
    const [file] = positionalArgs(positionals, ['FILE'], 'engines push');
    const model = oneOf(
      requiredFlag(values, 'model', `${RUNNER_MODELS.join(' or ')}`),
      RUNNER_MODELS,
      'model',
    );
    const deviceClass = deviceClassFlag(
      requiredFlag(values, 'target-class', 'the device class the engine targets'),
      '--target-class',
    );
    const backend = oneOf(
      (values.backend as string | undefined) ??
        (deviceClass.startsWith('jetson-') ? 'tensorrt' : 'opencv'),
      RUNNER_BACKENDS,
      'backend',
    );
    const format = oneOf(
      (values.format as string | undefined) ??
        (extname(file!).toLowerCase() === '.onnx' ? 'onnx' : 'plan'),
      ENGINE_FORMATS,
      'format',
    );
    const trt = values.trt as string | undefined;
    if (trt !== undefined && !/^\d+(\.\d+){0,3}$/.test(trt)) {
      throw new UsageError(
        `--trt must be a TensorRT version like 8.5.2 (got ${JSON.stringify(trt)})`,
      );
    }
    if (backend === 'tensorrt' && format === 'plan' && !trt) {
      throw new UsageError(
        '--trt is required for a TensorRT plan: the version it was built with, like 8.5.2',
      );
    }
    const precision = oneOf(
      (values.precision as string | undefined) ?? (backend === 'tensorrt' ? 'int8' : 'fp32'),
      ['int8', 'fp16', 'fp32'] as const,
      'precision',
    );
    let size: number;
    try {
      const st = statSync(file!);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } catch (err) {
      throw new UsageError(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    const client = clientFor(ctx, values);
    const hash = createHash('sha256');
    const bar = progressBar(ctx, size, `uploading ${basename(file!)}`);
    let sent = 0;
    const source = Readable.toWeb(createReadStream(file!)) as unknown as ReadableStream<Uint8Array>;
    const counted = source.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hash.update(chunk);
          sent += chunk.byteLength;
          bar.update(sent);
          controller.enqueue(chunk);
        },
      }),
    );
    const dlaCore = numberFlag(values, 'dla-core', { min: 0, max: 15, integer: true });
    let engine: Awaited<ReturnType<typeof client.uploadEngine>>;
    try {
      engine = await client.uploadEngine(
        {
          id: values.id as string | undefined,
          name: (values.name as string | undefined) ?? basename(file!),
          model,
          backend,
          format,
          deviceClass,
          trtVersion: trt,
          dlaCore: dlaCore === undefined ? undefined : String(dlaCore),
          precision,
          inputDims: (values['input-dims'] as string | undefined) ?? INPUT_DIMS[model],
        },
        counted,
        size,
      );
    } finally {
      bar.end();
    }
    const local = hash.digest('hex');
    if (engine.sha256 !== local) {
      throw new CliError(
        `the server stored sha256 ${engine.sha256}, but the file has ${local}`,
        EXIT.failed,
        'the upload was corrupted on the way: push it again',
      );
    }
    if (values.json) {
      printJson(ctx, engine);
      return EXIT.ok;
    }
    ctx.stdout.write(
      [
        `pushed ${engine.id} (${engine.name}, ${formatBytes(engine.size)}) for ${engine.deviceClass}${engine.trtVersion ? `, TensorRT ${engine.trtVersion}` : ''}`,
        `sha256 ${engine.sha256}`,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  },
};

const list: Command = {
  path: ['engines', 'list'],
  summary: 'list uploaded engines, newest first',
  async run(ctx, values, positionals) {
    positionalArgs(positionals, [], 'engines list');
    const engines = await clientFor(ctx, values).listEngines();
    if (values.json) {
      printJson(ctx, engines);
      return EXIT.ok;
    }
    if (engines.length === 0) {
      ctx.stdout.write('no engines\n');
      return EXIT.ok;
    }
    const now = ctx.now();
    ctx.stdout.write(
      renderTable(engines, [
        { header: 'ENGINE', value: (e) => e.id },
        { header: 'VERSION', value: (e) => String(e.version), align: 'right' },
        { header: 'NAME', value: (e) => e.name },
        { header: 'CLASS', value: (e) => e.deviceClass },
        { header: 'BACKEND', value: (e) => `${e.backend}/${e.format}` },
        { header: 'TRT', value: (e) => e.trtVersion },
        { header: 'SIZE', value: (e) => formatBytes(e.size), align: 'right' },
        { header: 'SHA256', value: (e) => e.sha256.slice(0, 12) },
        { header: 'CREATED', value: (e) => ago(e.createdAt, now) },
      ]),
    );
    return EXIT.ok;
  },
};

const remove: Command = {
  path: ['engines', 'delete'],
  summary: 'delete an engine no rollout under way and no device needs any more (frees its quota)',
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ENGINE'], 'engines delete');
    const answer = await clientFor(ctx, values).deleteEngine(id!);
    if (values.json) printJson(ctx, answer);
    else {
      ctx.stdout.write(
        `deleted engine ${answer.deleted} (engines now take ${formatBytes(answer.usedBytes)} of ${formatBytes(answer.quotaBytes)})\n`,
      );
    }
    return EXIT.ok;
  },
};

export const engineCommands = [push, list, remove];
