import { describe, expect, it } from 'vitest';
import { ParseError } from '../errors.js';
import { fixture } from '../test-support/fixtures.js';
import { parseTegrastats } from './tegrastats.js';

describe('parseTegrastats on recorded real output', () => {
  it('Jetson Nano (JetPack 4): POM_ rails without unit, GR3D with clock', () => {
    const s = parseTegrastats(fixture('tegrastats-nano.txt').trim());
    expect(s.ramMb).toEqual({ used: 1180, total: 3965 });
    expect(s.swapMb).toEqual({ used: 149, total: 1024 });
    expect(s.cpu).toEqual([
      { online: true, pct: 30, freqMhz: 1036 },
      { online: true, pct: 33, freqMhz: 1036 },
      { online: true, pct: 28, freqMhz: 1036 },
      { online: true, pct: 26, freqMhz: 1036 },
    ]);
    expect(s.emc).toEqual({ pct: 10, freqMhz: 1600 });
    expect(s.gr3d).toEqual({ pct: 0, freqMhz: 76 });
    expect(s.tempsC).toEqual({ PLL: 57, CPU: 60.5, PMIC: 100, GPU: 59, AO: 65, thermal: 59.75 });
    // IRAM 0/252kB(lfb 252kB) is memory, not a rail
    expect(s.powerMw).toEqual({ POM_5V_IN: 4520, POM_5V_GPU: 0, POM_5V_CPU: 1078 });
  });

  it('AGX Xavier (JetPack 4.2): EMC and GR3D without clock, bare rail names', () => {
    const s = parseTegrastats(fixture('tegrastats-agx-xavier-jp42.txt').trim());
    expect(s.ramMb).toEqual({ used: 14700, total: 15692 });
    expect(s.cpu).toHaveLength(8);
    expect(s.cpu.every((c) => c.online && c.pct === 0 && c.freqMhz === 1190)).toBe(true);
    expect(s.emc).toEqual({ pct: 0, freqMhz: null });
    expect(s.gr3d).toEqual({ pct: 0, freqMhz: null });
    expect(s.tempsC.CPU).toBe(31.5);
    expect(s.tempsC.GPU).toBe(30.5);
    expect(s.tempsC.thermal).toBe(30.8);
    expect(s.powerMw).toEqual({ GPU: 463, CPU: 618, SOC: 2936, CV: 0, VDDRQ: 309, SYS5V: 3306 });
  });

  it('TX2 family (JetPack 4): both line variants, no SWAP in the first', () => {
    const [a, b] = fixture('tegrastats-tx2-jp4.txt').trim().split('\n');
    const s1 = parseTegrastats(a ?? '');
    expect(s1.swapMb).toBeNull();
    expect(s1.cpu.map((c) => c.pct)).toEqual([9, 21, 25, 3, 1, 1]);
    expect(s1.powerMw.VDD_IN).toBe(3140);
    expect(s1.powerMw.VDD_4V0_WIFI).toBe(633);
    const s2 = parseTegrastats(b ?? '');
    expect(s2.swapMb).toEqual({ used: 1626, total: 12122 });
    expect(s2.cpu[1]).toEqual({ online: true, pct: 49, freqMhz: 2031 });
    expect(s2.emc).toEqual({ pct: 1, freqMhz: 1866 });
    expect(s2.gr3d).toEqual({ pct: 0, freqMhz: 114 });
    expect(s2.tempsC.MCPU).toBe(42.5);
    expect(s2.powerMw).toEqual({
      VDD_SYS_GPU: 182,
      VDD_SYS_SOC: 730,
      VDD_4V0_WIFI: 0,
      VDD_IN: 5297,
      VDD_SYS_CPU: 1917,
      VDD_SYS_DDR: 1241,
    });
  });

  it('AGX Orin (JetPack 6): timestamp prefix, mW rails, GR3D per-GPC clocks, absent sensors', () => {
    const s = parseTegrastats(fixture('tegrastats-agx-orin-jp6.txt').trim());
    expect(s.ramMb).toEqual({ used: 4321, total: 62801 });
    expect(s.swapMb).toEqual({ used: 19, total: 31400 });
    expect(s.cpu).toHaveLength(12);
    expect(s.emc).toEqual({ pct: 0, freqMhz: 2133 });
    expect(s.gr3d).toEqual({ pct: 0, freqMhz: 0 });
    // CV0@-256C etc. are sensors that are not there
    expect(s.tempsC).toEqual({
      CPU: 44.562,
      Tboard: 32,
      SOC2: 40.093,
      Tdiode: 33,
      SOC0: 41.093,
      tj: 44.343,
      SOC1: 41.25,
    });
    expect(s.powerMw).toEqual({
      VDD_GPU_SOC: 2340,
      VDD_CPU_CV: 390,
      VIN_SYS_5V0: 4025,
      VDDQ_VDD2_1V8AO: 301,
    });
  });

  it('offline cores', () => {
    const s = parseTegrastats('RAM 100/200MB CPU [12%@1479,off,off,3%@1479]');
    expect(s.cpu).toEqual([
      { online: true, pct: 12, freqMhz: 1479 },
      { online: false, pct: 0, freqMhz: null },
      { online: false, pct: 0, freqMhz: null },
      { online: true, pct: 3, freqMhz: 1479 },
    ]);
  });

  it('rejects a line that is not tegrastats output, naming the reason', () => {
    expect(() => parseTegrastats('hello world')).toThrow(ParseError);
    expect(() => parseTegrastats('hello world')).toThrow(/no RAM or CPU field/);
    expect(() => parseTegrastats('RAM 1/2MB CPU [x%]')).toThrow(/CPU core "x%"/);
  });
});
