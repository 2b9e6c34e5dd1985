import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './test-support/fixtures.js';

const main = join(repoRoot, 'apps/agent/dist/main.js');

describe('facefleet-agent (built, plain node)', () => {
  it('a bad configuration exits 2 and names every wrong field', () => {
    const r = spawnSync(
      process.execPath,
      [main, '--broker-url', 'ftp://x', '--publish-faces-window-s', '-1'],
      {
        env: { PATH: process.env.PATH ?? '', FACEFLEET_DEVICE_ID: 'cam 7' },
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('invalid configuration');
    for (const field of [
      'deviceId:',
      'deviceToken: required',
      'brokerUrl:',
      'publish.facesWindowS:',
      'runner.bin: required',
    ]) {
      expect(r.stderr).toContain(field);
    }
  });
  it('--help lists the settings and exits 0', () => {
    const r = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--fleet-public-key <string>\s+FACEFLEET_FLEET_PUBLIC_KEY/);
  });
});
