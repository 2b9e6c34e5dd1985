import { z } from 'zod';
import { alertSchema } from './alert.js';
import { desiredSchema } from './desired.js';
import { facesSchema, metricsSchema, reportedSchema, statusSchema } from './messages.js';
import { runnerLineSchema } from './runner-output.js';

/** Every schema that is exported as a JSON Schema file, by file stem. */
export const PUBLISHED_SCHEMAS = {
  status: statusSchema,
  faces: facesSchema,
  metrics: metricsSchema,
  desired: desiredSchema,
  reported: reportedSchema,
  alert: alertSchema,
  'runner-line': runnerLineSchema,
} as const;

/**
 * JSON Schema (draft 2020-12) documents for subscribers in other languages (Python, Go, Node-RED).
 * Refinements that JSON Schema cannot express (min ≤ mean ≤ max) are checked only by the zod schemas.
 */
export function jsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
    const doc = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any' });
    const withId = {
      $id: `https://facefleet.dev/schemas/v1/${name}.schema.json`,
      title: `facefleet ${name}`,
      ...doc,
    };
    out[`${name}.schema.json`] = `${JSON.stringify(withId, null, 2)}\n`;
  }
  return out;
}
