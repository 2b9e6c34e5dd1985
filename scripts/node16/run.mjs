#!/usr/bin/env node
// Runs the agent's test files (apps/agent/src/**/*.test.ts: unit and integration, the outbox, the
// MQTT link to a real Mosquitto, the supervisor with the real runner, engine updates) under
// Node.js 16.20.2, the Node a Jetson on JetPack 4 gets (infra/jetson/README.md). vitest 4 needs
// Node 20, so this runs vitest 0.34, the last that runs on Node 16, from this directory's own
// node_modules; the test files and the agent's code are the same ones the workspace's vitest runs.
// `node` on PATH is Node 16 for the run, so what the tests start by name (the bundle as a program,
// whose first line is `#!/usr/bin/env -S node …`) runs on it too.
//   node scripts/node16/run.mjs [vitest options and filters]
// scripts/setup.sh installs what it needs: Node 16 from the npm registry (.cache/node16), the
// agent's SQLite addon built for it, and vitest 0.34 (npm ci here). scripts/test-all.mjs runs it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const version = /^NODE16_VERSION=(\S+)$/m.exec(
  readFileSync(join(root, 'infra/jetson/node16.sh'), 'utf8'),
)?.[1];
const nodeDir = join(root, `.cache/node16/node-v${version}-linux-x64`);
const node = join(nodeDir, 'bin/node');
const vitest = join(here, 'node_modules/vitest/vitest.mjs');
for (const [path, what] of [
  [node, `Node.js ${version}`],
  [vitest, 'vitest 0.34 (scripts/node16/node_modules)'],
]) {
  if (!existsSync(path)) {
    console.error(`node16: ${what} is missing (${path}): run scripts/setup.sh`);
    process.exit(1);
  }
}
const r = spawnSync(
  node,
  [vitest, 'run', '--config', join(here, 'vitest.config.mjs'), ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH ?? ''}` },
  },
);
process.exit(r.status ?? 1);
