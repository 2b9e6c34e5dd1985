import { describe, expect, it } from 'vitest';
import { examples } from './examples.js';
import { isFacesFast } from './fast-check.js';
import { MAX_BOXES, MAX_FACES, MAX_TS_MS, MIN_TS_MS } from './limits.js';
import { facesSchema } from './messages.js';

/** A small deterministic PRNG, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL: unknown[] = [
  0,
  -0,
  1,
  -1,
  1.5,
  2,
  3,
  1e-9,
  2 ** 53,
  2 ** 53 - 1,
  -(2 ** 53),
  Number.NaN,
  Infinity,
  -Infinity,
  MIN_TS_MS - 1,
  MIN_TS_MS,
  MAX_TS_MS,
  MAX_TS_MS + 1,
  MAX_FACES,
  MAX_FACES + 1,
  '1',
  '',
  'cam-1',
  '0',
  'door.2',
  'control-plane',
  'subscriber',
  'a/b',
  '+',
  '$x',
  'x'.repeat(65),
  null,
  true,
  false,
  [],
  {},
  [1],
  { x: 1 },
];

const base = (withCamera: boolean) =>
  structuredClone({
    ...examples.faces,
    ...(withCamera ? { camera: 'door' } : {}),
    boxes: examples.faces.boxes ?? [],
  }) as Record<string, unknown>;

function mutate(r: () => number): unknown {
  const m = base(r() < 0.5);
  const keys = [...Object.keys(m), 'camera', 'extra', '__proto__'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const edits = 1 + Math.floor(r() * 3);
  for (let i = 0; i < edits; i++) {
    const k = pick(keys);
    const op = r();
    if (op < 0.15) delete m[k];
    else if (op < 0.75)
      Object.defineProperty(m, k, {
        value: pick(SPECIAL),
        enumerable: true,
        configurable: true,
        writable: true,
      });
    else if (op < 0.9 && Array.isArray(m.boxes)) {
      const boxes = m.boxes as Record<string, unknown>[];
      const first = boxes[0];
      const box =
        typeof first === 'object' && first !== null && !Array.isArray(first)
          ? first
          : { x: 1, y: 2, w: 3, h: 4, conf: 0.5 };
      const bk = pick([...Object.keys(box), 'extra']);
      if (r() < 0.2) delete box[bk];
      else box[bk] = pick(SPECIAL);
      if (boxes[0] !== box) boxes[0] = box;
      if (r() < 0.1)
        m.boxes = Array.from({ length: MAX_BOXES + Math.floor(r() * 2) }, () => ({ ...box }));
    } else {
      // numbers that are consistent with each other but near the schema's edges
      const n = Math.floor(r() * 5);
      Object.assign(m, {
        min: n,
        max: n + Math.floor(r() * 3) - 1,
        last: n + Math.floor(r() * 3) - 1,
        mean: n + r() * 2 - 0.5,
      });
    }
  }
  // The control plane only ever sees what JSON.parse returns (no NaN, no undefined, own __proto__ keys).
  return r() < 0.5 ? JSON.parse(JSON.stringify(m)) : m;
}

describe('isFacesFast', () => {
  it('accepts every valid example and real-looking window (so the fast path is taken)', () => {
    expect(isFacesFast(JSON.parse(JSON.stringify(examples.faces)))).toBe(true);
    const { boxes: _omit, ...noBoxes } = examples.faces;
    expect(isFacesFast(JSON.parse(JSON.stringify(noBoxes)))).toBe(true);
    expect(isFacesFast({ ...noBoxes, camera: 'door-2' })).toBe(true);
    expect(isFacesFast({ ...examples.faces, camera: 'door-2' })).toBe(true);
    expect(isFacesFast({ ...examples.faces, camera: 'door/2' })).toBe(false);
    expect(isFacesFast({ ...examples.faces, camera: '' })).toBe(false);
  });

  it('never accepts what facesSchema refuses or would change (20,000 mutated messages)', () => {
    const r = rng(20261127);
    let fastTrue = 0;
    let schemaTrue = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = mutate(r);
      const fast = isFacesFast(m);
      const parsed = facesSchema.safeParse(m);
      if (fast) {
        fastTrue++;
        expect(parsed.success, `case ${i}: ${JSON.stringify(m)}`).toBe(true);
        expect(parsed.data).toEqual(m);
      }
      if (parsed.success) schemaTrue++;
    }
    // Both kinds of cases occurred, and the fast path covers most of what the schema accepts.
    expect(fastTrue).toBeGreaterThan(1000);
    expect(fastTrue / schemaTrue).toBeGreaterThan(0.9);
  });

  it('refuses a __proto__ key and non-plain objects', () => {
    expect(
      isFacesFast(JSON.parse(`{"__proto__":{},${JSON.stringify(examples.faces).slice(1)}`)),
    ).toBe(false);
    expect(isFacesFast(Object.assign(Object.create(null), examples.faces))).toBe(false);
    expect(isFacesFast(null)).toBe(false);
    expect(isFacesFast([examples.faces])).toBe(false);
  });
});
