import { ParseError } from '../errors.js';

/** One CPU core as tegrastats shows it: load and clock, or `off` (core powered down). */
export interface CoreSample {
  online: boolean;
  pct: number;
  freqMhz: number | null;
}

/** A load percentage with the unit's clock when tegrastats prints it (`EMC_FREQ 10%@1600`). */
export interface LoadAtFreq {
  pct: number;
  freqMhz: number | null;
}

/** One tegrastats line, parsed. Fields a device does not print are null or empty. */
export interface TegraStats {
  ramMb: { used: number; total: number } | null;
  swapMb: { used: number; total: number } | null;
  cpu: CoreSample[];
  emc: LoadAtFreq | null;
  gr3d: LoadAtFreq | null;
  tempsC: Record<string, number>;
  /** Instant power per rail in mW (tegrastats prints `instant/average`). */
  powerMw: Record<string, number>;
}

/**
 * tegrastats prints -256C for a thermal zone whose sensor is absent (AGX Orin's CV0/CV1/GPU on
 * JetPack 6, see the recorded sample); such readings are dropped.
 */
const ABSENT_SENSOR_C = -256;
/** Rails named NC are "not connected" on Orin carrier boards. */
const IGNORED_RAILS = new Set(['NC', 'RAM', 'SWAP', 'IRAM']);

const RAM = /\bRAM (\d+)\/(\d+)MB\b/;
const SWAP = /\bSWAP (\d+)\/(\d+)MB\b/;
const CPU = /\bCPU \[([^\]]*)\]/;
const CORE = /^(\d+)%(?:@(\d+))?$/;
// EMC_FREQ 10%@1600 | EMC_FREQ 0%
const EMC = /\bEMC_FREQ (\d+)%(?:@(\d+))?/;
// GR3D_FREQ 0%@76 | GR3D_FREQ 0% | GR3D_FREQ 0%@[0,0] (Orin: one clock per GPC)
const GR3D = /\bGR3D_FREQ (\d+)%(?:@(\d+|\[[\d,]*\]))?/;
// CPU@47.5C, tj@44.343C, CV0@-256C
const TEMP = /(?:^|\s)([A-Za-z][A-Za-z0-9_]*)@(-?\d+(?:\.\d+)?)C(?=\s|$)/g;
// VDD_IN 5018/5018 (JetPack 4) | VDD_IN 4838mW/4838mW (JetPack 5+); the whole token must match
const RAIL = /(?:^|\s)([A-Z][A-Z0-9_]*) (\d+)(?:mW)?\/(\d+)(?:mW)?(?=\s|$)/g;

function num(s: string | undefined): number {
  return Number(s);
}

function freq(s: string | undefined): number | null {
  if (s === undefined) return null;
  if (s.startsWith('[')) {
    const clocks = s.slice(1, -1).split(',').filter(Boolean).map(Number);
    return clocks.length > 0 ? Math.max(...clocks) : null;
  }
  return Number(s);
}

/**
 * Parses one line of `tegrastats` output. Formats differ by device and JetPack (Nano, TX2, AGX
 * Xavier on JetPack 4.2, AGX Orin on JetPack 6 with a timestamp prefix and mW rails); every field
 * is looked for by its own pattern so their order and presence may vary.
 * Throws ParseError for a line that has neither a RAM nor a CPU field (not tegrastats output).
 */
export function parseTegrastats(line: string): TegraStats {
  const ram = RAM.exec(line);
  const cpu = CPU.exec(line);
  if (!ram && !cpu)
    throw new ParseError(
      'tegrastats',
      `no RAM or CPU field in ${JSON.stringify(line.slice(0, 80))}`,
    );
  const swap = SWAP.exec(line);
  const cores: CoreSample[] = (cpu?.[1] ?? '')
    .split(',')
    .filter((c) => c.length > 0)
    .map((c) => {
      if (c === 'off') return { online: false, pct: 0, freqMhz: null };
      const m = CORE.exec(c);
      if (!m)
        throw new ParseError('tegrastats', `CPU core ${JSON.stringify(c)} is not N%@MHz or off`);
      return { online: true, pct: num(m[1]), freqMhz: freq(m[2]) };
    });
  const emc = EMC.exec(line);
  const gr3d = GR3D.exec(line);
  const tempsC: Record<string, number> = {};
  for (const m of line.matchAll(TEMP)) {
    const c = num(m[2]);
    if (m[1] && c !== ABSENT_SENSOR_C) tempsC[m[1]] = c;
  }
  const powerMw: Record<string, number> = {};
  for (const m of line.matchAll(RAIL)) {
    if (m[1] && !IGNORED_RAILS.has(m[1])) powerMw[m[1]] = num(m[2]);
  }
  return {
    ramMb: ram ? { used: num(ram[1]), total: num(ram[2]) } : null,
    swapMb: swap ? { used: num(swap[1]), total: num(swap[2]) } : null,
    cpu: cores,
    emc: emc ? { pct: num(emc[1]), freqMhz: freq(emc[2]) } : null,
    gr3d: gr3d ? { pct: num(gr3d[1]), freqMhz: freq(gr3d[2]) } : null,
    tempsC,
    powerMw,
  };
}
