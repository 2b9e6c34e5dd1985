import type { Latency } from '@facefleet/protocol';
import { ParseError } from '../errors.js';

/** trtexec's performance summary: inference-only throughput and end-to-end latency. */
export interface TrtexecSummary {
  /** queries per second (one query = one batch) */
  throughputQps: number;
  latencyMs: Latency & { min: number; max: number; mean: number; median: number };
  /** `8.4.0` from the closing `&&&& PASSED TensorRT.trtexec [TensorRT v8400]`, when printed */
  trtVersion: string | null;
}

const NUM = '([0-9]+(?:\\.[0-9]+)?(?:e[-+]?[0-9]+)?)';

function stat(fields: string, name: string): number | undefined {
  const re = new RegExp(`(?:^|,\\s*)${name.replace(/[()%]/g, '\\$&')}\\s*=\\s*${NUM}\\s*ms`);
  const m = re.exec(fields);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/**
 * `v8400` → `8.4.0`, `v100500` → `10.5.0`. NvInferVersion.h encodes the version as
 * major*1000+minor*100+patch up to TensorRT 8, and major*10000+minor*100+patch from TensorRT 10.
 */
export function trtVersionFromTag(tag: string): string {
  const n = Number(tag);
  const base = n >= 100_000 ? 10_000 : 1000;
  const major = Math.floor(n / base);
  const minor = Math.floor((n % base) / 100);
  const patch = n % 100;
  return `${major}.${minor}.${patch}`;
}

/**
 * Parses trtexec's `=== Performance summary ===` (TensorRT 8.4 prints only the 99th percentile,
 * TensorRT 8.6+/10 print 90/95/99). A missing p95 is taken as the next percentile printed above it
 * (p99), so the figure is never optimistic. Throws ParseError when there is no summary.
 */
export function parseTrtexecSummary(text: string): TrtexecSummary {
  const thr = new RegExp(`Throughput:\\s*${NUM}\\s*qps`).exec(text);
  const lat = /\]\s*Latency:\s*([^\n]*)/.exec(text) ?? /^Latency:\s*([^\n]*)/m.exec(text);
  if (!thr?.[1])
    throw new ParseError('trtexec output', 'no "Throughput: N qps" line (did the run fail?)');
  if (!lat?.[1])
    throw new ParseError('trtexec output', 'no "Latency:" line in the performance summary');
  const f = lat[1];
  const min = stat(f, 'min');
  const max = stat(f, 'max');
  const mean = stat(f, 'mean');
  const median = stat(f, 'median');
  const p99 = stat(f, 'percentile(99%)');
  const p95 = stat(f, 'percentile(95%)') ?? p99;
  if (
    min === undefined ||
    max === undefined ||
    mean === undefined ||
    median === undefined ||
    p99 === undefined ||
    p95 === undefined
  ) {
    throw new ParseError(
      'trtexec output',
      `latency line lacks min/max/mean/median/percentile(99%): ${f}`,
    );
  }
  const tag = /TensorRT v(\d+)\]/.exec(text);
  return {
    throughputQps: Number(thr[1]),
    latencyMs: { min, max, mean, median, p50: median, p95, p99 },
    trtVersion: tag?.[1] ? trtVersionFromTag(tag[1]) : null,
  };
}
