#!/usr/bin/env node
// Runs every test suite of the repository and prints one closing line, `N passed, N failed`,
// summed over all of them. Exit status is non-zero when anything failed.
//   node scripts/test-all.mjs            everything
//   node scripts/test-all.mjs vitest     only the named suites (lint, typecheck, ctest, vitest, node16)
// `node16` is the agent's test files again under Node.js 16.20.2 (scripts/node16/run.mjs), the Node
// a Jetson on JetPack 4 runs the agent with.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'test-results');
mkdirSync(results, { recursive: true });
const only = process.argv.slice(2);
const totals = { passed: 0, failed: 0 };
const report = [];

function run(cmd, args, opts = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  return { status: r.status ?? 1, seconds: (Date.now() - started) / 1000 };
}

/** A suite whose only result is its exit status (lint, type check) counts as one test. */
function check(name, cmd, args) {
  const { status, seconds } = run(cmd, args);
  const ok = status === 0;
  totals[ok ? 'passed' : 'failed'] += 1;
  report.push(`${name}: ${ok ? 'ok' : `FAILED (exit ${status})`} in ${seconds.toFixed(1)}s`);
}

const XML_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (t) =>
  t.replace(/&(amp|lt|gt|quot|apos|#(\d+));/g, (_, name, code) =>
    code ? String.fromCodePoint(Number(code)) : XML_ENTITIES[name],
  );

/** The test cases of ctest's JUnit file: name, status (run, fail, notrun …) and captured output. */
function ctestCases(xml) {
  const cases = [];
  for (const m of xml.matchAll(/<testcase\s([^>]*)>([\s\S]*?)<\/testcase>/g)) {
    const name = unescapeXml(m[1].match(/\bname="([^"]*)"/)?.[1] ?? '');
    const status = m[1].match(/\bstatus="([^"]*)"/)?.[1] ?? '';
    const out = unescapeXml(m[2].match(/<system-out>([\s\S]*?)<\/system-out>/)?.[1] ?? '');
    cases.push({ name, status, out });
  }
  return cases;
}

/** A vitest run (its JSON report counts the tests) under the name `name`. */
function vitestSuite(name, reportFile, cmd, args) {
  const out = join(results, reportFile);
  rmSync(out, { force: true }); // a report from an earlier run must not be counted
  const { status, seconds } = run(cmd, [
    ...args,
    '--reporter=default',
    '--reporter=json',
    `--outputFile=${out}`,
  ]);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (existsSync(out)) {
    const j = JSON.parse(readFileSync(out, 'utf8'));
    passed = j.numPassedTests;
    failed = j.numFailedTests;
    skipped = j.numPendingTests + j.numTodoTests;
  }
  const failedCount = status !== 0 && failed === 0 ? 1 : failed;
  totals.passed += passed;
  totals.failed += failedCount + skipped;
  report.push(
    `${name}: ${passed} passed, ${failedCount} failed, ${skipped} skipped in ${seconds.toFixed(1)}s`,
  );
}

const suites = {
  lint: () => check('lint (biome)', 'pnpm', ['exec', 'biome', 'check', '.']),
  typecheck: () => check('typecheck (tsc -b)', 'pnpm', ['exec', 'tsc', '-b', 'tsconfig.json']),
  ctest: () => {
    const dir = join(root, 'packages/runner/build');
    if (!existsSync(join(root, 'packages/runner/CMakeLists.txt'))) return;
    if (!existsSync(join(dir, 'CTestTestfile.cmake'))) {
      totals.failed += 1;
      report.push('ctest: FAILED (runner not built: run scripts/setup.sh)');
      return;
    }
    const junit = join(results, 'ctest.xml');
    rmSync(junit, { force: true }); // a report from an earlier run must not be counted
    const { status, seconds } = run('ctest', [
      '--test-dir',
      dir,
      '--output-on-failure',
      '--output-junit',
      junit,
      '-j2',
    ]);
    const xml = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
    const attr = (name) =>
      Number(xml.match(new RegExp(`<testsuite[^>]*\\s${name}="(\\d+)"`))?.[1] ?? 0);
    const tests = attr('tests');
    const failed = attr('failures') + attr('errors');
    const cases = ctestCases(xml);
    // A test that could not apply here (no TensorRT headers, no nvcc, no GPU) exits 77 and says
    // "NOT APPLICABLE: why" on its first line: neither a pass nor a failure, and listed below.
    const notApplicable = cases.filter(
      (c) => c.status === 'notrun' && /^NOT APPLICABLE:/m.test(c.out),
    );
    const skipped = attr('skipped') + attr('disabled') - notApplicable.length;
    const passed = tests - failed - skipped - notApplicable.length;
    // A non-zero exit with no failure recorded (a crash, a build missing) still counts as one failure.
    const failedCount = status !== 0 && failed === 0 ? 1 : failed;
    totals.passed += passed;
    totals.failed += failedCount + skipped; // a skipped test hides something: count it as failed
    report.push(
      `ctest: ${passed} passed, ${failedCount} failed, ${skipped} skipped, ${notApplicable.length} not applicable in ${seconds.toFixed(1)}s`,
    );
    // Compile checks (the TensorRT header matrix, the CUDA kernel) print one summary line each:
    // which compiled clean, which did not, which could not apply here. Other n/a tests follow.
    const summary = /^(COMPILED|NOT COMPILED( CLEAN)?|NOT APPLICABLE):.*$/m;
    for (const c of cases) {
      const line = c.out.match(summary)?.[0];
      if (line && (c.name.startsWith('tensorrt.compile.') || c.name.startsWith('cuda.')))
        report.push(
          `  ${c.name}: ${c.status === 'fail' && line.startsWith('COMPILED') ? 'FAILED: ' : ''}${line}`,
        );
      else if (c.name.startsWith('tensorrt.compile.'))
        report.push(`  ${c.name}: ${c.status === 'run' ? 'FAILED' : c.status} (no summary line)`);
      else if (notApplicable.includes(c)) report.push(`  ${c.name}: ${c.out.match(summary)?.[0]}`);
    }
  },
  vitest: () =>
    vitestSuite(`vitest (Node ${process.version})`, 'vitest.json', 'pnpm', [
      'exec',
      'vitest',
      'run',
    ]),
  node16: () =>
    vitestSuite('vitest (agent, Node v16.20.2)', 'vitest-node16.json', 'node', [
      'scripts/node16/run.mjs',
    ]),
};

for (const [name, suite] of Object.entries(suites)) {
  if (only.length === 0 || only.includes(name)) suite();
}
console.log('\n--- test summary ---');
for (const line of report) console.log(line);
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed > 0 ? 1 : 0);
