import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from '@facefleet/test-support';
import { describe, expect, it } from 'vitest';

describe('the first admin token (issue 17, finding 15)', () => {
  it('is left in a 0600 file of the data dir, and a service (stdout not a terminal) logs only where it is', async () => {
    const cp = await startControlPlane();
    try {
      const file = join(cp.dataDir, 'first-admin-token');
      const token = readFileSync(file, 'utf8').trim();
      expect(token).toMatch(/^ff_[0-9a-f]{16}_/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // what a journal would get: the file's name, never the token
      const output = cp.process.lines.join('\n');
      expect(output).toContain(`first admin API token written to ${file}`);
      expect(output).not.toContain(token);
      expect(cp.adminToken).toBe(token);
      expect((await cp.api('GET', '/api/v1/devices')).status).toBe(200);
    } finally {
      await cp.stop();
    }
  });
});
