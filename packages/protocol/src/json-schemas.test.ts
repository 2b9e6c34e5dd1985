import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jsonSchemas } from './json-schemas.js';

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

describe('committed JSON Schema files', () => {
  const generated = jsonSchemas();

  it('exist for every published schema and nothing else', () => {
    const committed = readdirSync(schemaDir)
      .filter((f) => f.endsWith('.schema.json'))
      .sort();
    expect(committed).toEqual(Object.keys(generated).sort());
  });

  it.each(Object.keys(jsonSchemas()))(
    '%s matches the zod schema (run `pnpm -F @facefleet/protocol gen:schemas` after a build)',
    (file) => {
      expect(readFileSync(join(schemaDir, file), 'utf8')).toBe(generated[file]);
    },
  );

  it('are strict where the zod schema is strict', () => {
    const faces = JSON.parse(generated['faces.schema.json']!) as {
      additionalProperties?: boolean;
      required?: string[];
    };
    expect(faces.additionalProperties).toBe(false);
    expect(faces.required).toEqual(
      expect.arrayContaining(['v', 'deviceId', 'seq', 'ts', 'frames', 'mean']),
    );
  });
});
