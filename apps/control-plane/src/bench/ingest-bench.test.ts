import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, requireBuilt, startProcess, waitFor } from '@facefleet/test-support';
import { describe, expect, it } from 'vitest';

/** The benchmark as `pnpm bench ingest` runs it (pnpm build). */
const bench = join(repoRoot, 'apps/control-plane/dist/bench/ingest-bench.js');

interface Proc {
  pid: number;
  ppid: number;
  /** `Z` for a zombie: dead, waiting for its new parent (pid 1) to reap it. */
  state: string;
  cmdline: string;
}

/** Every process in /proc (pid, parent, state, command line). */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'
      const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(name), ppid: Number(ppid), state, cmdline });
    } catch {
      // it ended while we looked
    }
  }
  return out;
}
const childrenOf = (pid: number) => processes().filter((p) => p.ppid === pid);
/** True when none of `pids` is alive (gone, or a zombie: it has exited). */
const allEnded = (pids: number[]) => {
  const alive = new Set(
    processes()
      .filter((p) => p.state !== 'Z')
      .map((p) => p.pid),
  );
  return pids.every((p) => !alive.has(p));
};

/** The bench's children once those matching every one of `want` run (they are spawned in turn). */
async function waitForChildren(pid: number, want: RegExp[], what: string) {
  return waitFor(
    () => {
      const kids = childrenOf(pid);
      return want.every((re) => kids.some((k) => re.test(k.cmdline))) && kids;
    },
    { timeoutMs: 60_000, what },
  );
}

const small = [
  '--store',
  'sqlite',
  '--devices',
  '3',
  '--peak-seconds',
  '1',
  '--simulator-devices',
  '0',
];

describe('ingest-bench (the built benchmark)', () => {
  it('--help prints its options and exits 0, starting nothing', () => {
    requireBuilt(bench);
    const r = spawnSync(process.execPath, [bench, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const option of ['--devices LIST', '--held-seconds S', '--peak-seconds S', '--help']) {
      expect(r.stdout).toContain(option);
    }
    // a run prints a header per phase and a BENCH_RESULT; --help starts no phase
    expect(r.stdout).not.toMatch(/^===|^BENCH_RESULT /m);
  });

  it('runs to its result at a tiny size, with the TLS runs beside mosquitto over TLS', async () => {
    requireBuilt(bench);
    const run = startProcess(
      process.execPath,
      [bench, ...small, '--held-seconds', '1', '--tls', 'on', '--tls-held-seconds', '1'],
      { name: 'ingest-bench' },
    );
    const { code } = await run.exited;
    expect(code, run.tail()).toBe(0);
    const line = run.lines.find((l) => l.startsWith('BENCH_RESULT ')) ?? '';
    const { figures } = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
      figures: { name: string; value: number; baseline: { value: number } | null }[];
    };
    const figure = (name: string) => figures.find((f) => f.name === name);
    // every device connected over TLS to each broker, and a connect time measured for both
    expect(figure('3 devices over TLS: connected (facefleet)')).toMatchObject({
      value: 3,
      baseline: { value: 3 },
    });
    // and to a bare aedes, the embedded broker's floor, measured in the same run
    expect(
      figure('3 devices: connect all, bare aedes (no facefleet hooks)')?.value,
    ).toBeGreaterThan(0);
    // and to mosquitto holding facefleet's dynamic-security logins (a refused login fails the run)
    expect(
      figure("3 devices: connect all, external mosquitto with facefleet's dynamic-security logins")
        ?.value,
    ).toBeGreaterThan(0);
    const connect = figure('3 devices over TLS: connect all');
    expect(connect?.value).toBeGreaterThan(0);
    expect(connect?.baseline?.value).toBeGreaterThan(0);
  }, 120_000);

  it('its children end with it: SIGTERM during the facefleet run, kill -9 during the baseline (mosquitto, subscriber, load generator)', async () => {
    requireBuilt(bench);
    // SIGTERM while the control plane and the load generator run: it stops them, then exits 143
    const a = startProcess(process.execPath, [bench, ...small, '--held-seconds', '60'], {
      name: 'ingest-bench',
    });
    const servers = await waitForChildren(
      a.pid,
      [/dist\/main\.js/, /load-gen\.js/],
      'the control plane and the load generator',
    );
    expect((await a.kill('SIGTERM')).code).toBe(143);
    await waitFor(() => allEnded(servers.map((k) => k.pid)), {
      what: `the bench's children to end: ${servers.map((k) => k.cmdline).join('; ')}`,
    });

    // kill -9 (no handler runs) while the baseline runs: the kernel's parent-death signal ends them
    const b = startProcess(process.execPath, [bench, ...small, '--held-seconds', '3'], {
      name: 'ingest-bench',
    });
    const baseline = await waitForChildren(
      b.pid,
      [/mosquitto/, /raw-subscriber\.js/, /load-gen\.js/],
      'mosquitto, the subscriber and the load generator',
    );
    await b.kill('SIGKILL');
    await waitFor(() => allEnded(baseline.map((k) => k.pid)), {
      what: `the bench's children to end after its kill -9: ${baseline.map((k) => k.cmdline).join('; ')}`,
    });
  }, 120_000);
});
