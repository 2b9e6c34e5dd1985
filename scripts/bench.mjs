#!/usr/bin/env node
// `pnpm bench [runner|agent|ingest …]`: runs the benchmarks (all by default) and writes one report,
// test-results/bench-report.md (and .json), with every figure beside its baseline and target.
//
// A benchmark is a Node script that prints whatever it likes and, as one stdout line,
//   BENCH_RESULT {"bench":"runner","figures":[{"name":…,"value":…,"unit":…,"baseline":…,"target":…}]}
// where `baseline` is {"name","value"} measured in the same run (or null) and `target` is
// {"op":"<="|">=","value"} (or null). The harness checks targets; it does not fail on a missed one
// (benchmarks measure, tests decide), but it says so in the report.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BENCHMARKS = {
  runner: 'packages/runner/bench/runner-bench.mjs',
  agent: 'apps/agent/dist/bench/agent-bench.js',
  ingest: 'apps/control-plane/dist/bench/ingest-bench.js',
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));
for (const name of requested) {
  if (!(name in BENCHMARKS)) {
    console.error(
      `unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(BENCHMARKS).join(', ')}`,
    );
    process.exit(2);
  }
}
const names = requested.length > 0 ? requested : Object.keys(BENCHMARKS);

function runOne(name) {
  const script = join(root, BENCHMARKS[name]);
  if (!existsSync(script)) {
    return Promise.resolve({ bench: name, error: `${BENCHMARKS[name]} does not exist (built?)` });
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...passThrough], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let result;
    let buf = '';
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('BENCH_RESULT '))
          result = JSON.parse(line.slice('BENCH_RESULT '.length));
        else process.stdout.write(`[${name}] ${line}\n`);
        nl = buf.indexOf('\n');
      }
    });
    child.on('close', (code) => {
      resolve(result ?? { bench: name, error: `exited with ${code} before printing BENCH_RESULT` });
    });
  });
}

const fmt = (v) =>
  typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) : String(v ?? '-');
function verdict(f) {
  if (!f.target) return '';
  const ok = f.target.op === '<=' ? f.value <= f.target.value : f.value >= f.target.value;
  return ok ? 'met' : 'MISSED';
}

const results = [];
for (const name of names) results.push(await runOne(name));

const lines = [
  `# facefleet benchmark report`,
  '',
  `${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}`,
  '',
];
for (const r of results) {
  lines.push(`## ${r.bench}`, '');
  if (r.error) {
    lines.push(`not run: ${r.error}`, '');
    continue;
  }
  if (r.notes) lines.push(r.notes, '');
  lines.push('| figure | value | baseline | target | |', '|---|---|---|---|---|');
  for (const f of r.figures) {
    const baseline = f.baseline
      ? `${fmt(f.baseline.value)} ${f.unit ?? ''} (${f.baseline.name})`
      : '-';
    const target = f.target ? `${f.target.op} ${fmt(f.target.value)} ${f.unit ?? ''}` : '-';
    lines.push(
      `| ${f.name} | ${fmt(f.value)} ${f.unit ?? ''} | ${baseline} | ${target} | ${verdict(f)} |`,
    );
  }
  lines.push('');
}
const out = join(root, 'test-results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench-report.md'), `${lines.join('\n')}\n`);
writeFileSync(join(out, 'bench-report.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${lines.join('\n')}`);
console.log(`report: test-results/bench-report.md`);
process.exit(results.some((r) => r.error) ? 1 : 0);
