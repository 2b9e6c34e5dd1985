import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './testing.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the data directory (issue 17, finding 11)', () => {
  it('is private to the server: the folder 0700, the database, keys and engines 0600, even when an older version left them readable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ff-private-'));
    try {
      const first = await startTestServer([], { dataDir });
      await first.close();
      // as an older version (or an operator's mkdir under umask 022) left them
      chmodSync(dataDir, 0o755);
      for (const f of ['facefleet.db', 'facefleet.db-wal', 'facefleet.db-shm']) {
        try {
          chmodSync(join(dataDir, f), 0o644);
        } catch {}
      }
      const engines = join(dataDir, 'engines');
      mkdirSync(engines, { recursive: true });
      chmodSync(engines, 0o755);
      const old = join(engines, 'a'.repeat(64));
      writeFileSync(old, 'old engine', { mode: 0o644 });
      chmodSync(old, 0o644);

      const t = await startTestServer([], { dataDir, store: join(dataDir, 'facefleet.db') });
      try {
        const res = await t.api(
          'POST',
          '/api/v1/engines?name=e&model=blazeface&backend=opencv&format=onnx&deviceClass=generic-x86_64&precision=fp32&inputDims=3,128,128',
          {
            // (a restart announces no admin token: the first start's)
            token: first.admin,
            body: new Uint8Array(100).fill(1),
            headers: { 'content-type': 'application/octet-stream' },
          },
        );
        expect(res.status).toBe(201);
        const { engine } = (await res.json()) as { engine: { sha256: string } };
        expect(mode(dataDir)).toBe(0o700);
        expect(mode(join(dataDir, 'facefleet.db'))).toBe(0o600);
        expect(mode(engines)).toBe(0o700);
        expect(mode(old)).toBe(0o600);
        expect(mode(join(engines, engine.sha256))).toBe(0o600);
        for (const key of ['fleet-key.pem', 'session-key', 'token-key']) {
          expect(mode(join(dataDir, key)), key).toBe(0o600);
        }
        const others = readdirSync(dataDir).filter((f) => mode(join(dataDir, f)) & 0o077);
        expect(others).toEqual([]);
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
