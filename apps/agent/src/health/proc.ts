import { ParseError } from '../errors.js';

/** Jiffies of one CPU from /proc/stat: busy and total since boot. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * Per-core times from /proc/stat (`cpu0 user nice system idle iowait irq softirq steal …`).
 * idle + iowait count as idle, the rest as busy (as top and procps do).
 */
export function parseProcStat(text: string): CpuTimes[] {
  const cores: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m?.[2]) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    if (v.length < 4 || v.some((x) => !Number.isFinite(x))) {
      throw new ParseError('/proc/stat', `bad cpu line ${JSON.stringify(line)}`);
    }
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    // guest and guest_nice (fields 9, 10) are already counted in user and nice
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores.push({ busy: total - idle, total });
  }
  if (cores.length === 0) throw new ParseError('/proc/stat', 'no cpuN lines');
  return cores;
}

/** Per-core load in percent between two /proc/stat samples (0 for a core with no elapsed time). */
export function cpuPercent(prev: CpuTimes[], cur: CpuTimes[]): number[] {
  return cur.map((c, i) => {
    const p = prev[i];
    if (!p) return 0;
    const dt = c.total - p.total;
    if (dt <= 0) return 0;
    const pct = ((c.busy - p.busy) / dt) * 100;
    return Math.min(100, Math.max(0, Math.round(pct * 10) / 10));
  });
}

/** RAM from /proc/meminfo in MB: used = MemTotal − MemAvailable (what `free` calls used). */
export function parseMeminfo(text: string): { used: number; total: number } {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable') ?? kb('MemFree');
  if (total === undefined || available === undefined) {
    throw new ParseError('/proc/meminfo', 'no MemTotal or MemAvailable line');
  }
  return { used: Math.round((total - available) / 1024), total: Math.round(total / 1024) };
}

/** A thermal zone's temperature: /sys/class/thermal/thermal_zoneN/temp is millidegrees C. */
export function parseThermalMilliC(text: string): number | undefined {
  const v = Number(text.trim());
  return Number.isFinite(v) && text.trim() !== '' ? Math.round(v / 100) / 10 : undefined;
}
