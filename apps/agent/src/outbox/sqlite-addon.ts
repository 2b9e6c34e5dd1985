import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * better-sqlite3's native addon for the Node.js running now. The addon is compiled against one
 * Node ABI (it uses V8's C++ API, not N-API): the package's own `build/Release` is for the Node that
 * installed the workspace (20+). An agent on Node 16 (JetPack 4) uses a copy of the same source built
 * against Node 16's headers by `apps/agent/scripts/build-sqlite-addon.sh` (install.sh on the device,
 * scripts/setup.sh for the tests), which puts it in node-pre-gyp's layout inside the package:
 * `lib/binding/node-v<ABI>-<platform>-<arch>/better_sqlite3.node`.
 *
 * Returns that copy's path when there is one for this Node (or the ABI, platform and arch given),
 * else undefined: better-sqlite3 then loads its own build, as it always did.
 */
export function sqliteAddonPath(
  versions: { modules: string } = process.versions,
  platform: string = process.platform,
  arch: string = process.arch,
): string | undefined {
  const pkg = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  const candidate = join(
    pkg,
    'lib/binding',
    `node-v${versions.modules}-${platform}-${arch}`,
    'better_sqlite3.node',
  );
  return existsSync(candidate) ? candidate : undefined;
}
