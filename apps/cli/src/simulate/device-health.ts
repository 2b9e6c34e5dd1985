import type { DeviceHealth, HealthCollector } from '@facefleet/agent';
import type { DeviceClass } from '@facefleet/protocol';

/**
 * What a device of each class looks like to tegrastats and nvpmodel. The shapes (cores, RAM total,
 * sensor and rail names, L4T/JetPack pairs, power mode names) follow the recorded real output in
 * /work/shared/fixtures/jetson (tegrastats on a Nano and an AGX Xavier, nv_tegra_release R32.7.1 and
 * R35.4.1, `nvpmodel -q`) and the protocol's Xavier NX example; loads are drawn around them.
 */
interface ClassShape {
  model: string;
  l4t: string;
  jetpack: string;
  powerMode: string;
  cores: number;
  ramTotalMb: number;
  ramUsedMb: number;
  temps: string[];
  rails: Record<string, number>;
  gpuFreqMhz: number;
}

export const CLASS_SHAPES: Partial<Record<DeviceClass, ClassShape>> = {
  'jetson-nano': {
    model: 'NVIDIA Jetson Nano Developer Kit',
    l4t: 'R32.7.1',
    jetpack: '4.6.1',
    powerMode: 'MAXN',
    cores: 4,
    ramTotalMb: 3965,
    ramUsedMb: 1180,
    temps: ['PLL', 'CPU', 'GPU', 'AO', 'thermal'],
    rails: { POM_5V_IN: 4520, POM_5V_GPU: 1200, POM_5V_CPU: 1078 },
    gpuFreqMhz: 921,
  },
  'jetson-xavier-nx': {
    model: 'NVIDIA Jetson Xavier NX Developer Kit',
    l4t: 'R35.4.1',
    jetpack: '5.1.2',
    powerMode: 'MODE_15W_6CORE',
    cores: 6,
    ramTotalMb: 7765,
    ramUsedMb: 2810,
    temps: ['CPU', 'GPU', 'AO'],
    rails: { VDD_IN: 6420, VDD_CPU_GPU_CV: 2210, VDD_SOC: 1410 },
    gpuFreqMhz: 1109,
  },
  'jetson-agx-xavier': {
    model: 'Jetson-AGX',
    l4t: 'R35.4.1',
    jetpack: '5.1.2',
    powerMode: 'MAXN',
    cores: 8,
    ramTotalMb: 15692,
    ramUsedMb: 4700,
    temps: ['AO', 'GPU', 'Tboard', 'Tdiode', 'AUX', 'CPU', 'thermal'],
    rails: { GPU: 4630, CPU: 1618, SOC: 2936, CV: 0, VDDRQ: 809, SYS5V: 3306 },
    gpuFreqMhz: 1377,
  },
};

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Device health for one simulated device: its class's shape with loads and temperatures drawn. */
export function createSyntheticHealth(
  deviceClass: DeviceClass,
  options: { busy: number; random?: () => number },
): HealthCollector {
  const shape = CLASS_SHAPES[deviceClass];
  if (!shape) throw new Error(`no simulated health for ${deviceClass}`);
  const random = options.random ?? Math.random;
  // a device's own baseline temperature; GPU load follows how busy its detector is
  const baseTemp = 38 + 8 * random();
  return {
    start() {},
    async stop() {},
    sample(): DeviceHealth {
      const gpu = Math.min(99, Math.max(1, options.busy * 100 + 6 * (random() - 0.5)));
      const temp = baseTemp + gpu / 8;
      return {
        deviceClass,
        model: shape.model,
        l4t: shape.l4t,
        jetpack: shape.jetpack,
        powerMode: shape.powerMode,
        cpuPct: Array.from({ length: shape.cores }, () => Math.round(8 + 25 * random())),
        ramMb: {
          used: Math.round(shape.ramUsedMb * (0.95 + 0.1 * random())),
          total: shape.ramTotalMb,
        },
        gpuPct: Math.round(gpu),
        gpuFreqMhz: shape.gpuFreqMhz,
        emcPct: Math.round(10 + 20 * random()),
        tempsC: Object.fromEntries(
          shape.temps.map((t, i) => [t, round1(temp - i * 0.5 + random())]),
        ),
        powerMw: Object.fromEntries(
          Object.entries(shape.rails).map(([k, v]) => [k, Math.round(v * (0.9 + 0.2 * random()))]),
        ),
      };
    },
  };
}
