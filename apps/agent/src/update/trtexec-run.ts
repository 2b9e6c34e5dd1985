import { spawn } from 'node:child_process';
import { UpdateError } from '../errors.js';
import { parseTrtexecSummary } from '../health/trtexec.js';
import type { EngineBench } from './state.js';

/** Runs trtexec, collecting its output; rejects with the tail of the output on a non-zero exit. */
export function runTrtexec(bin: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    const chunks: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => chunks.push(c));
    proc.stderr.on('data', (c: Buffer) => chunks.push(c));
    proc.once('error', (err) => reject(new UpdateError(`trtexec (${bin}): ${err.message}`)));
    proc.once('close', (code, sig) => {
      const out = Buffer.concat(chunks).toString('utf8');
      if (code === 0) resolve(out);
      else {
        const tail = out.trim().split('\n').slice(-5).join(' | ');
        reject(
          new UpdateError(`trtexec ${args[0] ?? ''} failed (${sig ?? `exit ${code}`}): ${tail}`),
        );
      }
    });
  });
}

/**
 * On-device build of an ONNX model into a TensorRT plan: INT8 with the calibration cache when there
 * is one (`--int8 --calib=`), else FP16 — the two precisions DLA runs, so a DLA build
 * (`--useDLACore=N --allowGPUFallback`: layers DLA cannot run go to the GPU) takes the same ones.
 * `extra` carries deployment flags such as input shapes.
 */
export function buildArgs(
  onnx: string,
  calibration: string | null,
  out: string,
  extra: string[],
  dlaCore: number | null = null,
): string[] {
  return [
    `--onnx=${onnx}`,
    ...(calibration ? ['--int8', `--calib=${calibration}`] : ['--fp16']),
    ...(dlaCore !== null ? [`--useDLACore=${dlaCore}`, '--allowGPUFallback'] : []),
    `--saveEngine=${out}`,
    ...extra,
  ];
}

/** `trtexec --loadEngine=PLAN`: inference-only throughput and latency from trtexec's own summary. */
export async function benchEngine(
  bin: string,
  engineId: string,
  plan: string,
): Promise<EngineBench> {
  const out = await runTrtexec(bin, [`--loadEngine=${plan}`]);
  const s = parseTrtexecSummary(out);
  return {
    engineId,
    inferFps: s.throughputQps,
    latencyMs: { p50: s.latencyMs.p50, p95: s.latencyMs.p95, p99: s.latencyMs.p99 },
    trtVersion: s.trtVersion,
  };
}
