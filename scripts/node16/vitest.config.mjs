// vitest 0.34 (the last that runs on Node 16) over the agent's own test files, run by
// scripts/node16/run.mjs under Node.js 16.20.2. The test files import 'vitest': here that is this
// directory's 0.34, not the workspace's vitest 4 (which needs Node 20).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export default {
  root: join(here, '../..'),
  resolve: { alias: { vitest: join(here, 'node_modules/vitest/dist/index.js') } },
  test: {
    include: ['apps/agent/src/**/*.test.ts'],
    // install.test.ts tests infra/jetson/install.sh, a bash script, which no Node runs; the Node 20
    // run has it (with its readelf check of the Node 16 binary JetPack 4 gets)
    exclude: ['**/node_modules/**', '**/dist/**', 'apps/agent/src/install.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
};
