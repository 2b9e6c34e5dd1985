import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingNodeFlags, parseShebangFlags, scriptNodeFlags } from './node-flags.js';
import { node16Bin, repoRoot } from './test-support/fixtures.js';

const bundle = join(repoRoot, 'apps/agent/dist/facefleet-agent.js');

describe('Node flags from a script first line', () => {
  it('parses env -S lines, and none from a plain one', () => {
    expect(
      parseShebangFlags('#!/usr/bin/env -S node --max-semi-space-size=1 --single-threaded'),
    ).toEqual(['--max-semi-space-size=1', '--single-threaded']);
    expect(parseShebangFlags('#!/usr/bin/env node')).toEqual([]);
    expect(parseShebangFlags('import x from "y";')).toEqual([]);
    expect(missingNodeFlags(['--a', '--b=1'], ['--b=1', '--c'])).toEqual(['--a']);
  });

  it('the bundle (pnpm build) names the flags, and the bin runs it with them', () => {
    const flags = scriptNodeFlags(bundle);
    expect(flags).toContain('--max-semi-space-size=1');
    expect(flags).toContain('--single-threaded');
    expect(readFileSync(bundle, 'utf8').split('\n', 1)[0]).toBe(
      `#!/usr/bin/env -S node ${flags.join(' ')}`,
    );
    // executed as a program, as the bin is: the kernel runs its first line
    const r = spawnSync(bundle, ['--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: facefleet-agent');
  });

  it('each flag exists in Node.js 16.20.2 (JetPack 4) and in the Node running the tests', () => {
    const flags = scriptNodeFlags(bundle);
    expect(flags.length).toBeGreaterThan(0);
    for (const node of [node16Bin(), process.execPath]) {
      // node refuses a V8 flag it does not know ("bad option", exit 9)
      const r = spawnSync(node, [...flags, '-p', 'process.version'], { encoding: 'utf8' });
      expect(r.status, `${node}: ${r.stderr}`).toBe(0);
      const v8 = spawnSync(node, ['--v8-options'], { encoding: 'utf8' }).stdout;
      for (const flag of flags) {
        // --no-opt is the negation of --opt; --max-semi-space-size=1 sets --max-semi-space-size
        const name = flag.replace(/^--(no-)?/, '').split('=')[0];
        expect(v8, `${r.stdout.trim()} ${flag}`).toContain(`  --${name} (`);
      }
    }
  });
});
