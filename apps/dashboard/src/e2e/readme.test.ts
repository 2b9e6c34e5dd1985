import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dashboard = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('apps/dashboard/README.md', () => {
  it('names only source files that exist (it once named a src/e2e file that did not)', () => {
    const readme = readFileSync(join(dashboard, 'README.md'), 'utf8');
    // `src/…` and `scripts/…` paths in backticks: sources, not build outputs (dist/, build/)
    const named = [...readme.matchAll(/`((?:src|scripts)\/[\w./-]+\.\w+)`/g)].map(
      (m) => m[1] ?? '',
    );
    expect(named).toContain('src/e2e/dashboard.test.ts');
    expect(named.filter((path) => !existsSync(join(dashboard, path)))).toEqual([]);
  });
});
