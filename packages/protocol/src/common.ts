import { z } from 'zod';
import { MAX_BOXES, MAX_FACES, MAX_TS_MS, MIN_TS_MS } from './limits.js';

/** Milliseconds since the Unix epoch, as an integer. */
export const timestampSchema = z.int().min(MIN_TS_MS).max(MAX_TS_MS);
export const countSchema = z.int().min(0);
export const faceCountSchema = z.int().min(0).max(MAX_FACES);
/** A finite, non-negative number (zod rejects NaN and ±Infinity). */
export const nonNegativeSchema = z.number().min(0);
export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/** A detected face in source-frame pixels: top-left corner, size, confidence. */
export const boxSchema = z.strictObject({
  x: z.number(),
  y: z.number(),
  w: nonNegativeSchema,
  h: nonNegativeSchema,
  conf: nonNegativeSchema,
});
export type Box = z.infer<typeof boxSchema>;

export const boxesSchema = z.array(boxSchema).max(MAX_BOXES);

export const latencySchema = z.strictObject({
  p50: nonNegativeSchema,
  p95: nonNegativeSchema,
  p99: nonNegativeSchema,
});
export type Latency = z.infer<typeof latencySchema>;
