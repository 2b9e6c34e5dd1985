#!/usr/bin/env node
// Bundles the dashboard with esbuild into dist/: index.html, favicon.svg and assets/app-HASH.{js,css}
// (content-hashed names, so the control plane can serve them as immutable). Prints raw and gzip sizes.
//   node scripts/bundle.mjs [--outdir DIR] [--dev]
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--outdir');
const outdir = outIndex >= 0 ? args[outIndex + 1] : join(root, 'dist');
const dev = args.includes('--dev');

rmSync(outdir, { recursive: true, force: true });
mkdirSync(join(outdir, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(root, 'src/client/main.tsx') },
  outdir: join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css)
  throw new Error(`esbuild produced ${outputs.join(', ')}: expected one .js and one .css`);

writeFileSync(
  join(outdir, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>facefleet</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/${css}">
<script type="module" src="/assets/${js}"></script>
</head>
<body><div id="app"></div></body>
</html>
`,
);
writeFileSync(
  join(outdir, 'favicon.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b6e4f"/><circle cx="8" cy="7" r="3.2" fill="none" stroke="#fff" stroke-width="1.6"/><path d="M3.5 14c.8-2.2 2.5-3.3 4.5-3.3s3.7 1.1 4.5 3.3" fill="none" stroke="#fff" stroke-width="1.6"/></svg>\n',
);

const sizes = ['index.html', `assets/${js}`, `assets/${css}`].map((f) => {
  const body = readFileSync(join(outdir, f));
  return { file: f, raw: body.length, gzip: gzipSync(body, { level: 9 }).length };
});
const total = sizes.reduce((a, s) => ({ raw: a.raw + s.raw, gzip: a.gzip + s.gzip }), {
  raw: 0,
  gzip: 0,
});
for (const s of sizes)
  console.log(
    `${s.file.padEnd(32)} ${String(s.raw).padStart(8)} B  ${String(s.gzip).padStart(7)} B gzip`,
  );
console.log(
  `${'total'.padEnd(32)} ${String(total.raw).padStart(8)} B  ${String(total.gzip).padStart(7)} B gzip`,
);
mkdirSync(join(root, 'build'), { recursive: true });
writeFileSync(
  join(root, 'build', 'bundle-sizes.json'),
  `${JSON.stringify({ files: sizes, total }, null, 2)}\n`,
);
