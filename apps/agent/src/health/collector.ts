import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DeviceClass, Metrics } from '@facefleet/protocol';
import type { Logger } from 'pino';
import {
  deviceClassFromModel,
  genericDeviceClass,
  parseDeviceTreeModel,
  parseNvpmodel,
  parseNvTegraRelease,
} from './jetson-info.js';
import {
  type CpuTimes,
  cpuPercent,
  parseMeminfo,
  parseProcStat,
  parseThermalMilliC,
} from './proc.js';
import { parseTegrastats, type TegraStats } from './tegrastats.js';

export type DeviceHealth = Metrics['device'];

export interface DeviceIdentity {
  deviceClass: DeviceClass;
  /** device-tree model string, null off Jetson */
  model: string | null;
  l4t: string | null;
  jetpack: string | null;
  isJetson: boolean;
}

export interface HealthPaths {
  deviceTreeModel: string;
  nvTegraRelease: string;
  procRoot: string;
  sysRoot: string;
}

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** Who this device is: Jetson model and class from the device tree, L4T/JetPack, else generic by arch. */
export function identifyDevice(
  paths: HealthPaths,
  arch: string,
  override?: DeviceClass,
): DeviceIdentity {
  const raw = readText(paths.deviceTreeModel);
  const model = raw === null ? null : parseDeviceTreeModel(raw) || null;
  const jetsonClass = model ? deviceClassFromModel(model) : undefined;
  let l4t: string | null = null;
  let jetpack: string | null = null;
  const release = readText(paths.nvTegraRelease);
  if (release) {
    try {
      ({ l4t, jetpack } = parseNvTegraRelease(release));
    } catch {
      /* not an L4T release file: leave null */
    }
  }
  return {
    deviceClass: override ?? jetsonClass ?? genericDeviceClass(arch),
    model,
    l4t,
    jetpack,
    isJetson: jetsonClass !== undefined,
  };
}

/** TensorRT version from NvInferVersion.h (`#define NV_TENSORRT_MAJOR 8` …); null when not installed. */
export function detectTrtVersion(
  headers = [
    '/usr/include/aarch64-linux-gnu/NvInferVersion.h',
    '/usr/include/x86_64-linux-gnu/NvInferVersion.h',
    '/usr/include/NvInferVersion.h',
  ],
): string | null {
  for (const h of headers) {
    const text = readText(h);
    if (!text) continue;
    const part = (name: string) =>
      new RegExp(`#define\\s+(?:NV_)?TENSORRT_${name}\\s+(\\d+)`).exec(text)?.[1];
    const major = part('MAJOR');
    const minor = part('MINOR');
    const patch = part('PATCH');
    if (major && minor && patch) return `${major}.${minor}.${patch}`;
  }
  return null;
}

export interface HealthCollector {
  start(): void;
  stop(): Promise<void>;
  /** The latest device health figures. */
  sample(): DeviceHealth;
}

export interface HealthCollectorOptions {
  identity: DeviceIdentity;
  paths: HealthPaths;
  tegrastatsBin: string;
  nvpmodelBin: string;
  log: Logger;
  /** tegrastats --interval, ms */
  intervalMs?: number;
}

/**
 * Device health for metrics. On a Jetson a long-running `tegrastats --interval N` child feeds the
 * latest line (RAM, per-core CPU, GR3D, EMC, temperatures, rails) and `nvpmodel -q` gives the power
 * mode; elsewhere (or if tegrastats is missing) /proc/stat, /proc/meminfo and
 * /sys/class/thermal are sampled.
 */
export function createHealthCollector(options: HealthCollectorOptions): HealthCollector {
  const { identity, paths, log } = options;
  let tegra: TegraStats | null = null;
  let powerMode: string | null = null;
  let proc: ChildProcess | null = null;
  let prevCpu: CpuTimes[] | null = null;
  let stopping = false;

  const readProcCpu = (): CpuTimes[] | null => {
    const text = readText(join(paths.procRoot, 'stat'));
    try {
      return text ? parseProcStat(text) : null;
    } catch {
      return null;
    }
  };

  const thermalZones = (): Record<string, number> => {
    const out: Record<string, number> = {};
    const dir = join(paths.sysRoot, 'class/thermal');
    if (!existsSync(dir)) return out;
    for (const zone of readdirSync(dir)
      .filter((z) => z.startsWith('thermal_zone'))
      .slice(0, 64)) {
      const type = readText(join(dir, zone, 'type'))?.trim() || zone;
      const temp = parseThermalMilliC(readText(join(dir, zone, 'temp')) ?? '');
      if (temp !== undefined && temp > -100) out[type.slice(0, 32)] = temp;
    }
    return out;
  };

  const base = () => ({
    deviceClass: identity.deviceClass,
    model: identity.model?.slice(0, 256) ?? null,
    l4t: identity.l4t,
    jetpack: identity.jetpack,
    powerMode,
  });

  return {
    start() {
      if (!identity.isJetson) {
        prevCpu = readProcCpu();
        return;
      }
      execFile(options.nvpmodelBin, ['-q'], { timeout: 5000 }, (err, stdout) => {
        if (err) return log.warn({ err: err.message }, 'nvpmodel -q failed; power mode unknown');
        try {
          powerMode = parseNvpmodel(stdout).name;
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'cannot parse nvpmodel -q');
        }
      });
      const start = () => {
        const child = spawn(
          options.tegrastatsBin,
          ['--interval', String(options.intervalMs ?? 1000)],
          {
            stdio: ['ignore', 'pipe', 'ignore'],
          },
        );
        proc = child;
        child.once('error', (err) =>
          log.warn({ err: err.message }, 'cannot run tegrastats; using /proc'),
        );
        createInterface({ input: child.stdout }).on('line', (line) => {
          try {
            tegra = parseTegrastats(line);
          } catch (err) {
            log.debug({ err: (err as Error).message }, 'tegrastats line skipped');
          }
        });
        child.once('close', () => {
          proc = null;
          if (!stopping) setTimeout(start, 5000).unref();
        });
      };
      prevCpu = readProcCpu();
      start();
    },
    async stop() {
      stopping = true;
      const p = proc;
      if (p && p.exitCode === null) {
        const closed = new Promise((r) => p.once('close', r));
        p.kill('SIGTERM');
        await closed;
      }
    },
    sample(): DeviceHealth {
      const t = tegra as TegraStats | null;
      if (t) {
        return {
          ...base(),
          cpuPct: t.cpu.map((c) => (c.online ? Math.min(100, c.pct) : 0)).slice(0, 256),
          ramMb: t.ramMb ?? { used: 0, total: 0 },
          gpuPct: t.gr3d ? Math.min(100, t.gr3d.pct) : null,
          gpuFreqMhz: t.gr3d?.freqMhz ?? null,
          emcPct: t.emc ? Math.min(100, t.emc.pct) : null,
          tempsC: limit(t.tempsC),
          powerMw: limit(t.powerMw),
        };
      }
      const cur = readProcCpu();
      const cpuPct = prevCpu && cur ? cpuPercent(prevCpu, cur) : [];
      if (cur) prevCpu = cur;
      let ramMb = { used: 0, total: 0 };
      const meminfo = readText(join(paths.procRoot, 'meminfo'));
      if (meminfo) {
        try {
          ramMb = parseMeminfo(meminfo);
        } catch {
          /* keep zeros */
        }
      }
      return {
        ...base(),
        cpuPct: cpuPct.slice(0, 256),
        ramMb,
        gpuPct: null,
        gpuFreqMhz: null,
        emcPct: null,
        tempsC: limit(thermalZones()),
        powerMw: {},
      };
    },
  };
}

/** metrics caps tempsC/powerMw at 64 entries with names of at most 32 characters. */
function limit(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(r)
      .filter(([k]) => k.length > 0)
      .slice(0, 64)
      .map(([k, v]) => [k.slice(0, 32), v]),
  );
}
