import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Schema } from '@facefleet/protocol';
import { EngineStoreError } from '../errors.js';
import { keepPrivate } from '../private-files.js';

/**
 * Engine artifacts on disk, addressed by their sha256: `<dir>/<sha256>`. Uploads stream into a temp
 * file while being hashed and are renamed into place only when complete, so a blob is either whole
 * or absent. Paths are built from a validated hex digest only: nothing a client names reaches the
 * file system. The folder is 0700 and every blob 0600: engines are the fleet's to download, with a
 * device token, not every local user's to read.
 */
export function createBlobStore(dir: string) {
  const tmpDir = join(dir, 'tmp');
  keepPrivate(dir, { files: true });
  keepPrivate(tmpDir, { files: true });

  function pathOf(sha256: string): string {
    if (!sha256Schema.safeParse(sha256).success) {
      throw new EngineStoreError('invalid', `not a sha256: ${JSON.stringify(sha256)}`);
    }
    return join(dir, sha256);
  }

  return {
    /** Streams `body` into the store; throws EngineStoreError('too_large') past `maxBytes`. */
    async put(
      body: AsyncIterable<Uint8Array>,
      maxBytes: number,
    ): Promise<{ sha256: string; size: number }> {
      const tmp = join(tmpDir, randomBytes(12).toString('hex'));
      const file = await open(tmp, 'wx', 0o600);
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of body) {
          size += chunk.byteLength;
          if (size > maxBytes) {
            throw new EngineStoreError('too_large', `engine larger than ${maxBytes} bytes`);
          }
          hash.update(chunk);
          await file.write(chunk);
        }
        if (size === 0) throw new EngineStoreError('invalid', 'engine is empty');
        await file.sync();
        await file.close();
        const sha256 = hash.digest('hex');
        await rename(tmp, pathOf(sha256));
        return { sha256, size };
      } catch (err) {
        await file.close().catch(() => {});
        await rm(tmp, { force: true });
        throw err;
      }
    },
    /** Size of a stored blob, or undefined. */
    size(sha256: string): number | undefined {
      try {
        return statSync(pathOf(sha256)).size;
      } catch {
        return undefined;
      }
    },
    /** Removes a blob (no engine refers to it any more); nothing when it is not there. */
    async remove(sha256: string): Promise<void> {
      await rm(pathOf(sha256), { force: true });
    },
    /** Reads bytes [start, end] inclusive. */
    read(sha256: string, start?: number, end?: number) {
      return createReadStream(pathOf(sha256), { start, end });
    },
  };
}
export type BlobStore = ReturnType<typeof createBlobStore>;
