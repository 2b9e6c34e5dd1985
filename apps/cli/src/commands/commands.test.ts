import { describe, expect, it } from 'vitest';
import type { FleetFps } from '../api-client.js';
import type { CliContext } from '../command.js';
import { formatBytes, progressBar } from './engines.js';
import { classRows } from './fps.js';
import { apText, fpsText, stageSummary } from './rollouts.js';

function ctxWith(tty: boolean) {
  let err = '';
  const ctx = {
    env: {},
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s), isTTY: tty },
    fetch: globalThis.fetch,
    now: () => 0,
    signal: new AbortController().signal,
  } satisfies CliContext;
  return { ctx, err: () => err };
}

describe('progress bar', () => {
  it('redraws one line on a terminal, once per percent, and ends it', () => {
    const { ctx, err } = ctxWith(true);
    const bar = progressBar(ctx, 2048, 'uploading e.plan');
    bar.update(0);
    bar.update(10); // still 0 %: no redraw
    bar.update(1024);
    bar.update(2048);
    bar.end();
    const frames = err().split('\r').filter(Boolean);
    expect(frames).toHaveLength(3);
    expect(frames[1]).toBe(
      `uploading e.plan [${'#'.repeat(15)}${'.'.repeat(15)}]  50% 1.0 KiB/2.0 KiB`,
    );
    expect(err().endsWith(' 100% 2.0 KiB/2.0 KiB\n')).toBe(true);
  });

  it('prints nothing when stderr is not a terminal', () => {
    const { ctx, err } = ctxWith(false);
    const bar = progressBar(ctx, 10, 'x');
    bar.update(5);
    bar.end();
    expect(err()).toBe('');
  });

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(300_000)).toBe('293.0 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
  });
});

describe('rollout stages', () => {
  it('counts targets by stage and state', () => {
    const t = (stage: 'canary' | 'rest', state: 'pending' | 'applied' | 'failed') => ({
      deviceId: 'd',
      stage,
      state,
      reason: null,
      previousEngineId: null,
      rev: null,
      gate: null,
    });
    expect(
      stageSummary([
        t('canary', 'applied'),
        t('rest', 'applied'),
        t('rest', 'pending'),
        t('rest', 'pending'),
      ]),
    ).toBe('canary 1: 1 applied | rest 3: 1 applied, 2 pending');
    expect(stageSummary([t('rest', 'failed')])).toBe('rest 1: 1 failed');
  });

  it("shows both APs and both inference FPS figures of a target's gates, the new engine's first", () => {
    const gate = {
      engineId: 'e2',
      fps: {
        engine: { inferFps: 99.04, fps: 15, cameraFps: 15, windowS: 5 },
        previous: { inferFps: 329.1, fps: 15, cameraFps: 15, windowS: 5 },
        minRatio: 0.9,
      },
      accuracy: {
        engine: { engineId: 'e2', ap: 0, evalS: 1 },
        previous: { engineId: 'e1', ap: 83.85, evalS: 1 },
        toleranceAp: 1,
        apMode: 'voc2010' as const,
        iou: 0.5,
        images: 4,
        groundTruths: 1,
      },
    };
    expect(apText(gate)).toBe('0.0/83.8');
    expect(fpsText(gate)).toBe('99.0/329.1');
    expect(apText({ ...gate, accuracy: { ...gate.accuracy, previous: null } })).toBe('0.0/-');
    expect(apText(null)).toBeNull();
    expect(fpsText({ ...gate, fps: null })).toBeNull();
  });
});

describe('fps per class', () => {
  it('takes the median of device medians and counts slow devices against the card', () => {
    const dev = (deviceId: string, infer: number, slow = false) => ({
      deviceId,
      samples: 10,
      fps: { p50: 15, p95: 15.2 },
      inferFps: { p50: infer, p95: infer + 2 },
      latencyMs: { p50: 1, p95: 1.2 },
      powerMode: 'MAXN',
      referenceFps: 537,
      ratio: infer / 537,
      belowReference: slow,
      engineBenchmarks: [],
      cameras: [],
    });
    const fps: FleetFps = {
      window: 600,
      minRatio: 0.5,
      reference: 'card',
      classes: [
        {
          deviceClass: 'jetson-agx-xavier',
          referenceFps: 537,
          devices: [dev('a', 520), dev('b', 530), dev('c', 160, true)],
        },
      ],
    };
    expect(classRows(fps)).toEqual([
      {
        deviceClass: 'jetson-agx-xavier',
        devices: 3,
        slow: 1,
        fpsP50: 15,
        inferP50: 520,
        inferP95: 530,
        referenceFps: 537,
        ratio: 520 / 537,
      },
    ]);
  });
});
