import { describe, expect, it } from 'vitest';
import { cpuPercent, parseMeminfo, parseProcStat, parseThermalMilliC } from './proc.js';

const stat1 = `cpu  100 0 100 800 0 0 0 0 0 0
cpu0 50 0 50 400 0 0 0 0 0 0
cpu1 50 0 50 400 0 0 0 0 0 0
intr 1 2 3
`;
const stat2 = `cpu  300 0 200 1000 0 0 0 0 0 0
cpu0 150 0 100 450 0 0 0 0 0 0
cpu1 50 0 50 500 0 0 0 0 0 0
`;

describe('/proc parsers', () => {
  it('per-core CPU percent between two samples', () => {
    const a = parseProcStat(stat1);
    const b = parseProcStat(stat2);
    expect(a).toHaveLength(2);
    // cpu0: busy +150 of total +200 = 75 %; cpu1: idle only
    expect(cpuPercent(a, b)).toEqual([75, 0]);
  });
  it('parses this machine’s real /proc/stat', async () => {
    const { readFileSync } = await import('node:fs');
    const cores = parseProcStat(readFileSync('/proc/stat', 'utf8'));
    // os.cpus() (libuv reads /proc/stat too; availableParallelism() is Node 18.14+)
    const { cpus } = await import('node:os');
    expect(cores).toHaveLength(cpus().length);
    expect(cores.every((c) => c.total >= c.busy && c.busy >= 0)).toBe(true);
  });
  it('meminfo: used = total - available', () => {
    expect(
      parseMeminfo('MemTotal:       8048576 kB\nMemFree:  100 kB\nMemAvailable:   4024288 kB\n'),
    ).toEqual({ used: 3930, total: 7860 });
    expect(() => parseMeminfo('nothing')).toThrow(/MemTotal/);
  });
  it('thermal zone millidegrees', () => {
    expect(parseThermalMilliC('47500\n')).toBe(47.5);
    expect(parseThermalMilliC('')).toBeUndefined();
  });
});
