import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSigningPayload } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../testing.js';
import { engineManifest } from './manifest.js';

const upload = (id: string) =>
  `/api/v1/engines?id=${id}&name=e&model=blazeface&backend=opencv&format=onnx&deviceClass=generic-x86_64&precision=fp32&inputDims=3,128,128`;

describe('engine signatures of earlier versions (issue 17, finding 15)', () => {
  it('an engine signed before ids and versions were is signed again at start; a signature that verifies under neither payload is left alone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ff-resign-'));
    try {
      const first = await startTestServer([], { dataDir });
      for (const id of ['old-signed', 'tampered']) {
        const res = await first.api('POST', upload(id), {
          body: new Uint8Array([1, 2, id.length]),
        });
        expect(res.status).toBe(201);
      }
      await first.close();
      // what an earlier version stored: the v1 payload (no id, no version) signed by the fleet key
      const key = createPrivateKey(readFileSync(join(dataDir, 'fleet-key.pem')));
      const v1 = (sha256: string, size: number) =>
        sign(
          null,
          Buffer.from(
            [
              'facefleet-engine-v1',
              sha256,
              String(size),
              'generic-x86_64',
              '-',
              'opencv',
              'blazeface',
              'onnx',
              '-',
            ].join('\n'),
          ),
          key,
        ).toString('base64');
      const t0 = await startTestServer([], { dataDir, store: join(dataDir, 'facefleet.db') });
      const old = (await t0.server.store.engines.get('old-signed'))!;
      const tampered = (await t0.server.store.engines.get('tampered'))!;
      await t0.sql('UPDATE engines SET signature = ? WHERE id = ?', [
        v1(old.sha256, old.size),
        'old-signed',
      ]);
      // a row changed behind the server's back (another sha256) keeps a signature that does not verify
      await t0.sql('UPDATE engines SET sha256 = ?, signature = ? WHERE id = ?', [
        'f'.repeat(64),
        v1('f'.repeat(64), 999),
        'tampered',
      ]);
      await t0.close();

      const t = await startTestServer([], { dataDir, store: join(dataDir, 'facefleet.db') });
      try {
        const publicKey = createPublicKey(key);
        const verifies = (r: Parameters<typeof engineManifest>[0]) =>
          verify(
            null,
            engineSigningPayload(engineManifest(r)),
            publicKey,
            Buffer.from(r.signature, 'base64'),
          );
        const resigned = (await t.server.store.engines.get('old-signed'))!;
        expect(resigned.signature).not.toBe(v1(old.sha256, old.size));
        expect(verifies(resigned)).toBe(true);
        const left = (await t.server.store.engines.get('tampered'))!;
        expect(left.signature).toBe(v1('f'.repeat(64), 999));
        expect(verifies(left)).toBe(false);
        expect(tampered.sha256).not.toBe('f'.repeat(64));
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
