#!/usr/bin/env node
// Bundles the built agent (dist/main.js and what it imports, from tsc) into one minified file,
// dist/facefleet-agent.js, with a linked source map and the third-party licence comments in
// dist/facefleet-agent.js.LEGAL.txt. That file is the agent as it ships: the `facefleet-agent` bin,
// the systemd unit (infra/jetson/install.sh), scripts/start-demo.mjs, the integration tests and
// `pnpm bench agent` all run it, with the Node flags of its first line (NODE_FLAGS below).
//
// Why one file (pnpm bench agent, 500 frames/s): ~280 ES and CommonJS modules each cost the agent
// a module record, a wrapper and their full source text in the V8 heap; bundled and minified it
// holds one script of ~0.9 MB and RSS is ~4 MB lower. better-sqlite3 stays a normal import: it
// loads its native addon from its own directory.
//   node scripts/bundle.mjs
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/**
 * The Node flags the agent runs with, each measured with `pnpm bench agent` (README, "Measured"):
 * - `--max-semi-space-size=1`: a 1 MB young generation (Node's default grows it to 16 MB, which
 *   at 500 lines/s the agent fills and keeps): ~25 MB less RSS for about the same CPU.
 * - `--single-threaded`: V8 collects garbage on the main thread instead of worker threads, each
 *   of which otherwise keeps its own malloc arena: ~4 MB less RSS, no more CPU in total (the
 *   agent's heap is ~10 MB; its GC pauses stay around a millisecond).
 * - `--no-opt`: no TurboFan. Its compiler code (pages of the node binary) and compile zones cost
 *   ~5 MB RSS; what the agent does per line is JSON.parse (native code either way) and a little
 *   glue that V8's baseline compiler (Sparkplug, still on) runs well enough: +0.5 % of a core at
 *   500 frames/s now that runner output is read in batches.
 * They are V8 flags that NODE_OPTIONS does not accept, so they go on the command line: the bundle's
 * first line for the bin, and install.sh, start-demo.mjs and the tests read them from that line.
 * Each exists in Node.js 16.20.2 (V8 9.4) as in 20+ (src/node-flags.test.ts runs both with them).
 */
export const NODE_FLAGS = ['--max-semi-space-size=1', '--single-threaded', '--no-opt'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/facefleet-agent.js');

const result = await esbuild.build({
  entryPoints: [join(root, 'dist/main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  // the agent runs on Node.js 16.20 too (JetPack 4: infra/jetson/README.md): esbuild lowers any
  // newer syntax; newer APIs are the tests' to catch (scripts/node16/run.mjs runs them on Node 16)
  target: 'node16',
  external: ['better-sqlite3'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'external',
  // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins
  banner: {
    js: "import { createRequire as __ffCreateRequire } from 'node:module'; const require = __ffCreateRequire(import.meta.url);",
  },
  write: false,
  logLevel: 'warning',
});
for (const file of result.outputFiles) {
  if (file.path !== outfile) {
    writeFileSync(file.path, file.contents);
    continue;
  }
  // dist/main.js's `#!/usr/bin/env node` gives way to the line with the flags (`env -S` splits it)
  const text = file.text.replace(/^#!.*\n/, '');
  writeFileSync(outfile, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}\n${text}`);
  chmodSync(outfile, 0o755);
}
const size = readFileSync(outfile).length;
console.log(
  `apps/agent/dist/facefleet-agent.js  ${(size / 1024).toFixed(0)} KiB  (${NODE_FLAGS.join(' ')})`,
);
