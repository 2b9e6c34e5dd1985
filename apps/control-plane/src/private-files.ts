import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
