import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles } from './import-cycles.js';
import { repoRoot } from './paths.js';

const sourceFolders = ['apps', 'packages'].flatMap((group) =>
  readdirSync(join(repoRoot, group)).map((name) => `${group}/${name}/src`),
);

describe('import cycles', () => {
  it.each(sourceFolders)('%s has none', (folder) => {
    expect(importCycles(join(repoRoot, folder))).toEqual([]);
  });

  it('finds a cycle through a type-only import and names its files in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycles-'));
    try {
      mkdirSync(join(dir, 'routes'));
      writeFileSync(
        join(dir, 'app.ts'),
        "import { a } from './routes/a.js';\nexport const x = a;\n",
      );
      writeFileSync(
        join(dir, 'routes/a.ts'),
        "import type { Deps } from '../app.js';\nexport const a = 1 as unknown as Deps;\n",
      );
      writeFileSync(join(dir, 'leaf.ts'), "export { x } from './app.js';\n");
      writeFileSync(join(dir, 'view.tsx'), "import { v } from './view.js';\nexport const w = v;\n");
      expect(importCycles(dir)).toEqual(
        expect.arrayContaining([
          ['app.ts', 'routes/a.ts', 'app.ts'],
          ['view.tsx', 'view.tsx'],
        ]),
      );
      expect(importCycles(dir)).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
