import { describe, expect, it } from 'vitest';
import { ParseError } from '../errors.js';
import { fixture } from '../test-support/fixtures.js';
import { parseTrtexecSummary, trtVersionFromTag } from './trtexec.js';

describe('parseTrtexecSummary on recorded real output', () => {
  it('TensorRT 8.4 (AGX Xavier): only p99 printed, version from the PASSED line', () => {
    const s = parseTrtexecSummary(fixture('trtexec-trt84-agx-xavier.txt'));
    expect(s.throughputQps).toBe(41087.7);
    expect(s.latencyMs).toEqual({
      min: 0.387207,
      max: 0.447357,
      mean: 0.402238,
      median: 0.401947,
      p50: 0.401947,
      p95: 0.420288,
      p99: 0.420288,
    });
    expect(s.trtVersion).toBe('8.4.0');
  });

  it('TensorRT 10: p90/p95/p99, the Latency line and not the GPU Compute line', () => {
    const s = parseTrtexecSummary(fixture('trtexec-trt10-summary.txt'));
    expect(s.throughputQps).toBe(130.298);
    expect(s.latencyMs.p50).toBe(7.16092);
    expect(s.latencyMs.p95).toBe(10.8698);
    expect(s.latencyMs.p99).toBe(12.9675);
    expect(s.latencyMs.min).toBe(5.38672);
    expect(s.trtVersion).toBeNull();
  });

  it('decodes TensorRT version tags of both encodings', () => {
    expect(trtVersionFromTag('8400')).toBe('8.4.0');
    expect(trtVersionFromTag('8502')).toBe('8.5.2');
    expect(trtVersionFromTag('100500')).toBe('10.5.0');
  });

  it('a failed run has no summary: clear error', () => {
    expect(() => parseTrtexecSummary('&&&& FAILED TensorRT.trtexec')).toThrow(ParseError);
    expect(() => parseTrtexecSummary('&&&& FAILED TensorRT.trtexec')).toThrow(/Throughput/);
  });
});
