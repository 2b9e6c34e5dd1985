import { spawn } from 'node:child_process';
import { AP_MODES, type ApFigures, type EngineRef, type UpdateGate } from '@facefleet/protocol';
import { z } from 'zod';
import { UpdateError } from '../errors.js';

/** The device's golden set: images and their KITTI labels, and how AP is computed on it. */
export interface GoldenSet {
  images: string;
  labels: string;
  apMode: (typeof AP_MODES)[number];
  iou: number;
}

/** The line `facefleet-runner eval` prints (the fields the gate reads). */
const evalLineSchema = z.object({
  type: z.literal('eval'),
  images: z.int().min(0),
  groundTruths: z.int().min(0),
  ap: z.number().min(0).max(1),
  apMode: z.enum(AP_MODES),
});

export interface EvalResult {
  /** AP in points (0–100). */
  ap: number;
  images: number;
  groundTruths: number;
  /** Wall seconds the eval took. */
  evalS: number;
}

export interface EvalTarget {
  path: string;
  backend: EngineRef['backend'];
  model: EngineRef['model'];
  /** The DLA core the engine was built for, if any. */
  dlaCore?: number | null | undefined;
}

/** The runner's `eval` arguments for one engine on the golden set. */
export function evalArgs(target: EvalTarget, set: GoldenSet, configFile?: string): string[] {
  return [
    'eval',
    ...(configFile ? ['--config', configFile] : []),
    '--backend',
    target.backend,
    '--decoder',
    target.model,
    '--model',
    target.path,
    ...(target.dlaCore != null ? ['--dla-core', String(target.dlaCore)] : []),
    '--images',
    set.images,
    '--labels',
    set.labels,
    '--iou',
    String(set.iou),
    '--ap-mode',
    set.apMode,
  ];
}

/**
 * Runs `facefleet-runner eval` for one engine on the golden set and returns its AP in points. A
 * runner that exits non-zero (its `error` line says why) or prints no eval line is an UpdateError
 * naming the engine.
 */
export function runEval(
  bin: string,
  args: string[],
  what: string,
  timeoutMs: number,
): Promise<EvalResult> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => out.push(c));
    proc.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(new UpdateError(`accuracy gate: eval of ${what} (${bin}): ${e.message}`));
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      const lines = Buffer.concat(out).toString('utf8').trim().split('\n');
      const parsed = lines.map((l) => {
        try {
          return JSON.parse(l) as { type?: string; message?: string };
        } catch {
          return {};
        }
      });
      if (code !== 0) {
        const error = parsed.find((l) => l.type === 'error')?.message;
        const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-2).join(' | ');
        reject(
          new UpdateError(
            `accuracy gate: eval of ${what} failed (${signal ?? `exit ${code}`}): ${error ?? tail}`.slice(
              0,
              1000,
            ),
          ),
        );
        return;
      }
      const line = evalLineSchema.safeParse(parsed.find((l) => l.type === 'eval'));
      if (!line.success) {
        reject(new UpdateError(`accuracy gate: eval of ${what} printed no valid eval line`));
        return;
      }
      const evalS = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({
        ap: Math.round(line.data.ap * 100 * 1000) / 1000,
        images: line.data.images,
        groundTruths: line.data.groundTruths,
        evalS: Math.round(evalS * 1000) / 1000,
      });
    });
  });
}

/**
 * The accuracy gate's record of one eval beside the reference AP, and whether the engine lost more
 * than `toleranceAp` points (no reference: it cannot have).
 */
export function judgeAccuracy(
  engineId: string,
  mine: EvalResult,
  previous: ApFigures | null,
  toleranceAp: number,
  set: GoldenSet,
): { accuracy: NonNullable<UpdateGate['accuracy']>; regressed: boolean } {
  return {
    accuracy: {
      engine: { engineId, ap: mine.ap, evalS: mine.evalS },
      previous,
      toleranceAp,
      apMode: set.apMode,
      iou: set.iou,
      images: mine.images,
      groundTruths: mine.groundTruths,
    },
    regressed: previous !== null && mine.ap < previous.ap - toleranceAp,
  };
}
