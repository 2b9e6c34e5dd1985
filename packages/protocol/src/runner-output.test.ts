import { describe, expect, it } from 'vitest';
import { examples } from './examples.js';
import { MAX_BOXES, MAX_FACES, MAX_TS_MS, MIN_TS_MS } from './limits.js';
import {
  cameraStateOfRunner,
  isRunnerFrame,
  parseRunnerLine,
  RUNNER_CAMERA_STATES,
  runnerFrameSchema,
  runnerLineSchema,
} from './runner-output.js';

type Json = Record<string, unknown>;
const frame = (): Json => structuredClone(examples.runnerFrame);
const BOX: Json = { ...examples.runnerFrame.boxes[0] };
const MS: Json = { ...examples.runnerFrame.ms };

/** Replacement values tried in every field: every JSON type and the numeric edge cases. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  '',
  '1',
  'frame',
  [],
  [1],
  {},
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  2.5,
  1e20,
  -1e20,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  MIN_TS_MS - 1,
  MIN_TS_MS,
  MAX_TS_MS,
  MAX_TS_MS + 1,
  MAX_FACES,
  MAX_FACES + 1,
];

/** Every case as the runner would print it: a JSON text (so `1e999`, `__proto__` and key order count too). */
function cases(): string[] {
  const out: string[] = [];
  const push = (v: unknown) => out.push(JSON.stringify(v));
  const base = frame();
  push(base);
  // every top-level field: missing, or replaced by every odd value
  for (const key of Object.keys(base)) {
    const missing = frame();
    delete missing[key];
    push(missing);
    for (const v of ODD_VALUES) push({ ...frame(), [key]: v });
  }
  // every box field and stage time: missing, replaced, extra
  for (const [field, sample] of [
    ['boxes', BOX],
    ['ms', MS],
  ] as const) {
    for (const key of Object.keys(sample)) {
      for (const v of [...ODD_VALUES, undefined]) {
        const f = frame();
        const inner = { ...sample, [key]: v };
        if (v === undefined) delete inner[key];
        f[field] = field === 'boxes' ? [sample, inner] : inner;
        push(f);
      }
    }
    const f = frame();
    const extra = { ...sample, extra: 1 };
    f[field] = field === 'boxes' ? [extra] : extra;
    push(f);
  }
  // box arrays at and past the limit, boxes that are not objects
  const box = BOX;
  push({ ...frame(), boxes: Array.from({ length: MAX_BOXES }, () => box) });
  push({ ...frame(), boxes: Array.from({ length: MAX_BOXES + 1 }, () => box) });
  push({ ...frame(), boxes: [] });
  for (const v of ODD_VALUES) push({ ...frame(), boxes: [box, v] });
  // unknown fields, other line types, and not objects at all
  push({ ...frame(), extra: 1 });
  push({ ...frame(), type: 'stats' });
  push(examples.runnerStats);
  push(examples.runnerHello);
  push(examples.runnerError);
  for (const v of ODD_VALUES) push(v);
  // texts JSON.stringify would not write
  const text = JSON.stringify(frame());
  out.push(text.replace('"index":0', '"index":1e999'));
  out.push(text.replace('"infer":12.3', '"infer":1e999'));
  out.push(text.replace('"x":221.4', '"x":-1e999'));
  out.push(text.replace('{"type"', '{"__proto__":{"a":1},"type"'));
  out.push(text.replace('"conf":0.87', '"conf":0.87,"__proto__":null'));
  out.push(text.replace('"index":0', '"index":0,"index":-1'));
  out.push(text.replace('"index":0', '"index":-1,"index":0'));
  return out;
}

/** A seeded random walk of mutations (xorshift): the same cases on every run. */
function fuzzCases(n: number): string[] {
  let s = 0x2545f491;
  const rand = (k: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % k;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = frame();
    const boxes = Array.from({ length: rand(4) }, () => ({
      x: rand(2000) / 3 - 100,
      y: rand(2000) / 7,
      w: rand(300) / 2,
      h: rand(300) / 2,
      conf: rand(1000) / 999,
    }));
    f.boxes = boxes;
    f.faces = boxes.length;
    f.index = rand(1_000_000);
    for (let m = rand(3); m > 0; m--) {
      const target = pick(['top', 'box', 'ms'] as const);
      const v = pick(ODD_VALUES);
      if (target === 'top') f[pick(Object.keys(f))] = v;
      else if (target === 'ms' && typeof f.ms === 'object' && f.ms !== null)
        (f.ms as Json)[pick(Object.keys(f.ms as Json))] = v;
      else if (boxes.length > 0) (pick(boxes) as Json)[pick(['x', 'y', 'w', 'h', 'conf'])] = v;
    }
    out.push(JSON.stringify(f));
  }
  return out;
}

describe('the frame line fast path', () => {
  it('accepts exactly what runnerFrameSchema accepts', () => {
    const all = [...cases(), ...fuzzCases(5000)];
    let accepted = 0;
    for (const text of all) {
      const data: unknown = JSON.parse(text);
      const zod = runnerFrameSchema.safeParse(data).success;
      expect(isRunnerFrame(data), text).toBe(zod);
      if (zod) accepted += 1;
    }
    // both sides of the question were asked many times
    expect(accepted).toBeGreaterThan(500);
    expect(all.length - accepted).toBeGreaterThan(500);
  });

  it('parseRunnerLine agrees with runnerLineSchema on every line, and names the wrong field', () => {
    for (const text of [...cases(), ...fuzzCases(2000)]) {
      const zod = runnerLineSchema.safeParse(JSON.parse(text));
      const ours = parseRunnerLine(text);
      expect(ours.ok, text).toBe(zod.success);
      if (ours.ok && zod.success) expect(ours.line).toEqual(zod.data);
    }
    const bad = frame();
    bad.boxes = [{ ...BOX, w: -1 }];
    expect(parseRunnerLine(JSON.stringify(bad))).toEqual({
      ok: false,
      reason: 'boxes.0.w: Too small: expected number to be >=0',
    });
    expect(parseRunnerLine(JSON.stringify({ ...frame(), sneaky: 1 }))).toEqual({
      ok: false,
      reason: 'sneaky: unknown field',
    });
  });

  it('reports text that is not JSON', () => {
    const r = parseRunnerLine('{"type":"frame",');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^not JSON: /);
  });

  it('returns the other line types as the schema parsed them', () => {
    for (const line of [examples.runnerHello, examples.runnerStats, examples.runnerError]) {
      expect(parseRunnerLine(JSON.stringify(line))).toEqual({ ok: true, line });
    }
    expect(parseRunnerLine(JSON.stringify(frame()))).toEqual({
      ok: true,
      line: examples.runnerFrame,
    });
  });
});

describe("the fleet's camera state for the runner's", () => {
  it('maps every runner camera state, with the reason where there is one', () => {
    expect(cameraStateOfRunner('online', undefined)).toEqual({ state: 'online', reason: null });
    expect(cameraStateOfRunner('connecting', undefined)).toEqual({
      state: 'reconnecting',
      reason: 'connecting',
    });
    expect(cameraStateOfRunner('reconnecting', 'no frame for 5 s')).toEqual({
      state: 'reconnecting',
      reason: 'no frame for 5 s',
    });
    expect(cameraStateOfRunner('ended', undefined)).toEqual({
      state: 'offline',
      reason: 'source ended',
    });
    expect(cameraStateOfRunner('failed', 'x'.repeat(300)).reason).toHaveLength(256);
    for (const s of RUNNER_CAMERA_STATES) expect(cameraStateOfRunner(s, '').state).toBeTruthy();
  });
});
