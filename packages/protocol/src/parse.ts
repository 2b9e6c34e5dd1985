import type { z } from 'zod';
import { fieldIssues, PayloadError } from './errors.js';

/**
 * Validates `data` against `schema`; throws PayloadError naming every wrong field.
 * `name` says what was being parsed ("faces", "runner line") in the message.
 */
export function parsePayload<S extends z.ZodType>(
  schema: S,
  data: unknown,
  name: string,
): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) throw new PayloadError(name, fieldIssues(result.error));
  return result.data;
}

/** Parses a JSON text (Buffer or string) and validates it; malformed JSON is a PayloadError too. */
export function parseJsonPayload<S extends z.ZodType>(
  schema: S,
  text: string | Uint8Array,
  name: string,
): z.infer<S> {
  let data: unknown;
  try {
    data = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch (err) {
    throw new PayloadError(name, [
      { path: '(root)', message: `not JSON: ${(err as Error).message}` },
    ]);
  }
  return parsePayload(schema, data, name);
}
