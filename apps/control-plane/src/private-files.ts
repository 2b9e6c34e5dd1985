import {
  chmodSync,
  linkSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Makes `dir` (and its missing parents) private to the server's user: 0700, and, with `files`,
 * every plain file directly in it 0600. What was made readable by others before (an older version,
 * an operator's mkdir under umask 022) loses those bits; nothing gains any.
 */
export function keepPrivate(dir: string, options: { files?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const strip = (path: string, keep: number) => {
    const mode = statSync(path).mode & 0o777;
    if (mode & ~keep) chmodSync(path, mode & keep);
  };
  strip(dir, 0o700);
  if (!options.files) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) strip(join(dir, entry.name), 0o600);
  }
}

/**
 * Writes a secret `file` (a key) 0600 in a 0700 folder, unless it exists: through a temp file and a
 * link, not a rename, so a crash never leaves half a file and, when instances sharing the folder
 * start together, one file wins and the others read it. Whether this call wrote it.
 */
export function writeFileOnce(file: string, content: string | Uint8Array): boolean {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}
