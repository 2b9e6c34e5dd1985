import { readFileSync } from 'node:fs';

/** CPU time (seconds, user + system) and resident memory (bytes) of a process, from /proc. */
export function readProcStats(pid: number): { cpuS: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
    return { cpuS: ticks / 100, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** Samples a set of processes once a second: CPU share (of one core) over the span and peak RSS. */
export function sampleProcesses(pids: number[]) {
  const first = pids.map((p) => readProcStats(p));
  const started = Date.now();
  let peakRss = 0;
  const tick = () => {
    const rss = pids.reduce((sum, p) => sum + (readProcStats(p)?.rssBytes ?? 0), 0);
    peakRss = Math.max(peakRss, rss);
  };
  tick();
  const timer = setInterval(tick, 1000);
  return {
    stop(): { cpuPct: number; peakRssMb: number } {
      clearInterval(timer);
      tick();
      const seconds = (Date.now() - started) / 1000;
      const cpu = pids.reduce((sum, p, i) => {
        const now = readProcStats(p)?.cpuS ?? 0;
        return sum + (now - (first[i]?.cpuS ?? now));
      }, 0);
      return { cpuPct: (cpu / seconds) * 100, peakRssMb: peakRss / 2 ** 20 };
    },
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}
