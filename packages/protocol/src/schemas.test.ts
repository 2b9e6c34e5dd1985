import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { alertSchema } from './alert.js';
import { desiredSchema, engineSigningPayload } from './desired.js';
import { PayloadError } from './errors.js';
import { examples } from './examples.js';
import { facesSchema, metricsSchema, reportedSchema, statusSchema } from './messages.js';
import { parseJsonPayload, parsePayload } from './parse.js';
import {
  runnerCameraSchema,
  runnerErrorSchema,
  runnerFrameSchema,
  runnerHelloSchema,
  runnerLineSchema,
  runnerStatsSchema,
} from './runner-output.js';

const cases: [string, z.ZodType, Record<string, unknown>][] = [
  ['status', statusSchema, examples.status],
  ['faces', facesSchema, examples.faces],
  ['faces of a camera', facesSchema, examples.facesCamera],
  ['metrics', metricsSchema, examples.metrics],
  ['desired', desiredSchema, examples.desired],
  ['reported', reportedSchema, examples.reported],
  ['alert', alertSchema, examples.alert],
  ['camera alert', alertSchema, examples.cameraAlert],
  ['runner hello', runnerHelloSchema, examples.runnerHello],
  ['runner hello on a DLA core', runnerHelloSchema, examples.runnerHelloDla],
  ['runner frame', runnerFrameSchema, examples.runnerFrame],
  ['runner stats', runnerStatsSchema, examples.runnerStats],
  ['runner camera', runnerCameraSchema, examples.runnerCamera],
  ['runner error', runnerErrorSchema, examples.runnerError],
];

/** Parses and returns the field paths the error names (fails the test if parsing succeeds). */
function rejectedPaths(schema: z.ZodType, data: unknown): string[] {
  try {
    parsePayload(schema, data, 'payload');
  } catch (err) {
    expect(err).toBeInstanceOf(PayloadError);
    return (err as PayloadError).issues.map((i) => i.path);
  }
  throw new Error('expected the payload to be rejected');
}

const clone = <T>(x: T): T => structuredClone(x);

describe.each(cases)('%s schema', (_name, schema, example) => {
  it('accepts its documented example', () => {
    expect(parsePayload(schema, example, 'example')).toEqual(example);
  });

  it('rejects an unknown field and names it', () => {
    expect(rejectedPaths(schema, { ...clone(example), sneaky: 1 })).toContain('sneaky');
  });

  it('rejects each missing required field and names it', () => {
    for (const key of Object.keys(example)) {
      const bad = clone(example);
      delete bad[key];
      if (schema.safeParse(bad).success) continue; // optional field
      expect(rejectedPaths(schema, bad)).toContain(key);
    }
  });

  it('rejects a wrong type in every field and names it', () => {
    for (const [key, value] of Object.entries(example)) {
      const wrong = value === null ? [] : typeof value === 'string' ? 12345 : 'not-a-number';
      expect(rejectedPaths(schema, { ...clone(example), [key]: wrong })).toContain(key);
    }
  });
});

describe('field rules', () => {
  it('rejects NaN, Infinity and negative counts', () => {
    expect(rejectedPaths(facesSchema, { ...examples.faces, frames: Number.NaN })).toContain(
      'frames',
    );
    expect(rejectedPaths(facesSchema, { ...examples.faces, max: -1 })).toContain('max');
    expect(
      rejectedPaths(facesSchema, { ...examples.faces, mean: Number.POSITIVE_INFINITY }),
    ).toContain('mean');
    expect(rejectedPaths(facesSchema, { ...examples.faces, frames: 1.5 })).toContain('frames');
    expect(rejectedPaths(facesSchema, { ...examples.faces, seq: -3 })).toContain('seq');
    expect(rejectedPaths(runnerStatsSchema, { ...examples.runnerStats, dropped: -1 })).toContain(
      'dropped',
    );
  });

  it('rejects oversize box arrays and names the array', () => {
    const box = { x: 1, y: 2, w: 3, h: 4, conf: 0.5 };
    const boxes = Array.from({ length: 257 }, () => box);
    expect(rejectedPaths(facesSchema, { ...examples.faces, boxes })).toContain('boxes');
    expect(rejectedPaths(runnerFrameSchema, { ...examples.runnerFrame, boxes })).toContain('boxes');
    expect(
      parsePayload(runnerFrameSchema, { ...examples.runnerFrame, boxes: boxes.slice(1) }, 'f')
        .boxes,
    ).toHaveLength(256);
  });

  it('names nested fields with a dotted path', () => {
    const bad = clone(examples.faces) as { boxes: { w: number }[] };
    bad.boxes[1]!.w = -4;
    expect(rejectedPaths(facesSchema, bad)).toEqual(['boxes.1.w']);
    const m = clone(examples.metrics) as { device: { cpuPct: number[] } };
    m.device.cpuPct[2] = 101;
    expect(rejectedPaths(metricsSchema, m)).toEqual(['device.cpuPct.2']);
    const unknownNested = clone(examples.status) as { runner: Record<string, unknown> };
    unknownNested.runner.extra = true;
    expect(rejectedPaths(statusSchema, unknownNested)).toEqual(['runner.extra']);
  });

  it('checks the consistency of a faces window', () => {
    expect(rejectedPaths(facesSchema, { ...examples.faces, min: 4 })).toContain('min');
    expect(rejectedPaths(facesSchema, { ...examples.faces, mean: 3.5 })).toContain('mean');
    expect(rejectedPaths(facesSchema, { ...examples.faces, last: 9 })).toContain('last');
    expect(
      rejectedPaths(facesSchema, { ...examples.faces, end: examples.faces.start - 1 }),
    ).toContain('end');
    expect(rejectedPaths(facesSchema, { ...examples.faces, frames: 0 })).toContain('frames');
  });

  it('knows the no_faces alert kind and no invented ones', () => {
    expect(alertSchema.safeParse({ ...examples.alert, kind: 'no_faces' }).success).toBe(true);
    expect(rejectedPaths(alertSchema, { ...examples.alert, kind: 'faces_below' })).toContain(
      'kind',
    );
  });

  it('rejects bad ids, hashes and timestamps', () => {
    expect(rejectedPaths(facesSchema, { ...examples.faces, deviceId: 'cam/7' })).toContain(
      'deviceId',
    );
    expect(rejectedPaths(facesSchema, { ...examples.faces, deviceId: '#' })).toContain('deviceId');
    expect(rejectedPaths(alertSchema, { ...examples.alert, ruleId: '+' })).toContain('ruleId');
    expect(
      rejectedPaths(runnerHelloSchema, { ...examples.runnerHello, modelSha256: 'ABC' }),
    ).toContain('modelSha256');
    expect(rejectedPaths(facesSchema, { ...examples.faces, ts: 12 })).toContain('ts');
    expect(rejectedPaths(facesSchema, { ...examples.faces, v: 2 })).toContain('v');
  });

  it('rejects too many health entries', () => {
    const m = clone(examples.metrics) as { device: { tempsC: Record<string, number> } };
    m.device.tempsC = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, 40]));
    expect(rejectedPaths(metricsSchema, m)).toContain('device.tempsC');
  });
});

describe('cameras', () => {
  it('keeps a one-camera device exactly as before: every camera field is optional', () => {
    const { cameras: _c, ...status } = clone(examples.status);
    expect(statusSchema.parse(status)).toEqual(status);
    const { cameras: _m, batch: _b, ...runner } = clone(examples.metrics.runner);
    expect(metricsSchema.parse({ ...examples.metrics, runner }).runner).toEqual(runner);
    expect(facesSchema.parse(examples.faces)).not.toHaveProperty('camera');
  });

  it('refuses camera ids that could widen a topic, and names the field', () => {
    for (const bad of ['+', '#', 'a/b', '', '-x', 'x'.repeat(65)]) {
      expect(rejectedPaths(facesSchema, { ...examples.facesCamera, camera: bad })).toEqual([
        'camera',
      ]);
      expect(rejectedPaths(alertSchema, { ...examples.cameraAlert, camera: bad })).toEqual([
        'camera',
      ]);
    }
  });

  it('refuses a camera listed twice in status or metrics, and an unknown camera state', () => {
    const s = clone(examples.status) as { cameras: { id: string; state: string }[] };
    s.cameras[1]!.id = '0';
    expect(rejectedPaths(statusSchema, s)).toEqual(['cameras']);
    const m = clone(examples.metrics) as { runner: { cameras: { id: string }[] } };
    m.runner.cameras[2]!.id = 'lobby';
    expect(rejectedPaths(metricsSchema, m)).toEqual(['runner.cameras']);
    const t = clone(examples.status) as { cameras: { state: string }[] };
    t.cameras[0]!.state = 'connecting';
    expect(rejectedPaths(statusSchema, t)).toEqual(['cameras.0.state']);
  });

  it('accepts the runner camera line and refuses a camera line without an id', () => {
    expect(runnerLineSchema.parse(examples.runnerCamera).type).toBe('camera');
    const { id: _id, ...noId } = examples.runnerCamera;
    expect(rejectedPaths(runnerLineSchema, noId)).toEqual(['id']);
  });
});

describe('runner lines', () => {
  it('dispatches on type', () => {
    expect(runnerLineSchema.parse(examples.runnerFrame).type).toBe('frame');
    expect(runnerLineSchema.parse(examples.runnerHello).type).toBe('hello');
    expect(rejectedPaths(runnerLineSchema, { ...examples.runnerFrame, type: 'bogus' })).toEqual([
      'type',
    ]);
  });

  it('takes a DLA core in hello only as a small non-negative integer, and hello without one', () => {
    const { dlaCore: _, ...gpu } = examples.runnerHelloDla;
    expect(runnerHelloSchema.parse(gpu)).toEqual(gpu);
    for (const bad of [-1, 1.5, 16]) {
      expect(
        rejectedPaths(runnerHelloSchema, { ...examples.runnerHelloDla, dlaCore: bad }),
      ).toEqual(['dlaCore']);
    }
  });

  it('reports malformed JSON as a PayloadError', () => {
    expect(() => parseJsonPayload(runnerLineSchema, '{"type":"frame",', 'runner line')).toThrow(
      /runner line.*not JSON/,
    );
    expect(
      parseJsonPayload(runnerLineSchema, Buffer.from(JSON.stringify(examples.runnerStats)), 'x'),
    ).toEqual(examples.runnerStats);
  });
});

describe('engine signing payload', () => {
  it('covers every field a device acts on', () => {
    const base = examples.desired.engine;
    const a = engineSigningPayload(base).toString();
    for (const [key, other] of [
      ['id', 'facenet-nx-int8-7'],
      ['version', 7],
      ['sha256', '0'.repeat(64)],
      ['size', 1],
      ['deviceClass', 'jetson-nano'],
      ['trtVersion', '10.3.0'],
      ['backend', 'opencv'],
      ['model', 'blazeface'],
      ['format', 'onnx'],
      ['calibration', { url: '/c', sha256: '1'.repeat(64), size: 10 }],
      ['dlaCore', 0],
    ] as const) {
      expect(engineSigningPayload({ ...base, [key]: other }).toString(), key).not.toBe(a);
    }
    expect(a.startsWith('facefleet-engine-v2\n')).toBe(true);
  });

  it('takes only a path on the control plane as a download URL (issue 17, finding 15)', () => {
    const withUrl = (url: string) => ({
      ...examples.desired,
      engine: { ...examples.desired.engine, url },
    });
    expect(desiredSchema.safeParse(withUrl('/api/v1/engines/e/blob')).success).toBe(true);
    for (const url of [
      'https://evil.example/x',
      '//evil.example/x',
      '/\\evil.example/x',
      'http:/api/v1/engines/e/blob',
      'api/v1/engines/e/blob',
      '/api/v1/a b',
    ]) {
      expect(rejectedPaths(desiredSchema, withUrl(url)), url).toEqual(['engine.url']);
    }
  });

  it('is what it was before DLA cores existed for an engine without one', () => {
    const base = examples.desired.engine;
    const before = engineSigningPayload(base).toString();
    expect(engineSigningPayload({ ...base, dlaCore: null }).toString()).toBe(before);
    expect(before.endsWith('\n-')).toBe(true); // the calibration line (none) is still the last
    expect(engineSigningPayload({ ...base, dlaCore: 1 }).toString()).toBe(`${before}\ndla-core 1`);
  });
});
