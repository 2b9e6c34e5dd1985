import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@facefleet/test-support';
import { describe, expect, it } from 'vitest';

/**
 * The layout DESIGN.md promises: a solution-style root tsconfig.json that builds every package,
 * so `tsc -b` at the top (the build and the type check) cannot leave one out.
 */
describe('repository layout', () => {
  it('the root tsconfig.json is a solution file that references every TypeScript package', () => {
    const root = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as {
      files?: string[];
      references: { path: string }[];
    };
    expect(root.files).toEqual([]);
    const referenced = new Set(root.references.map((r) => r.path));
    const packages = ['apps', 'packages'].flatMap((dir) =>
      readdirSync(join(repoRoot, dir))
        .filter((name) => existsSync(join(repoRoot, dir, name, 'tsconfig.json')))
        .map((name) => `${dir}/${name}`),
    );
    expect(packages.length).toBeGreaterThan(5);
    for (const p of [...packages, 'test']) expect(referenced, p).toContain(p);
    for (const r of referenced) expect(existsSync(join(repoRoot, r)), r).toBe(true);
  });
});
