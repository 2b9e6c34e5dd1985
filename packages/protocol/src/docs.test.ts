import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { protocolDoc } from './docs.js';
import { parseTopic } from './topics.js';

const docFile = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'docs',
  'protocol.md',
);

describe('docs/protocol.md', () => {
  const doc = protocolDoc();
  it('is up to date with the examples (run `pnpm -F @facefleet/protocol gen:docs` after a build)', () => {
    expect(readFileSync(docFile, 'utf8')).toBe(doc);
  });
  it('shows every topic kind once with a topic the parser accepts', () => {
    const topicsShown = [...doc.matchAll(/^Topic: `(facefleet\/[^`]+)`/gm)].map((m) => m[1]!);
    expect(topicsShown.map((t) => parseTopic(t).kind).sort()).toEqual(
      ['alert', 'desired', 'faces', 'metrics', 'reported', 'status'].sort(),
    );
  });
  it('gives a mosquitto_sub command for what subscribers may read', () => {
    expect(doc).toContain("-t 'facefleet/v1/devices/+/faces'");
    expect(doc).toContain("-t 'facefleet/v1/alerts/#'");
  });
});
