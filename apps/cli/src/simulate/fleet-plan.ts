import { type DeviceClass, MODEL_CARD_FPS, resolveDeviceClass } from '@facefleet/protocol';
import { UsageError } from '../errors.js';

/** Classes the simulator can play: those the FaceNet model card gives an FPS figure for. */
export const SIMULATED_CLASSES = Object.keys(MODEL_CARD_FPS).filter((c) =>
  c.startsWith('jetson-'),
) as DeviceClass[];

export const DEFAULT_CLASSES = 'nano:40,xavier-nx:40,agx-xavier:20';

export type Role = 'normal' | 'throttle' | 'crash' | 'fail-gate' | 'flaky-camera';

export interface PlannedDevice {
  id: string;
  deviceClass: DeviceClass;
  role: Role;
  tags: string[];
}

/** `nano:40,xavier-nx:40,agx-xavier:20` → weights per class (names or aliases). */
export function parseClassMix(
  text: string,
): { deviceClass: DeviceClass; alias: string; weight: number }[] {
  const seen = new Set<string>();
  return text.split(',').map((part) => {
    const m = /^\s*([A-Za-z0-9_-]+)\s*(?::\s*(\d+(?:\.\d+)?))?\s*$/.exec(part);
    if (!m) throw new UsageError(`--classes: ${JSON.stringify(part)} is not CLASS:WEIGHT`);
    const alias = m[1]!;
    const deviceClass = resolveDeviceClass(alias);
    if (!deviceClass || !SIMULATED_CLASSES.includes(deviceClass)) {
      throw new UsageError(
        `--classes: ${JSON.stringify(alias)} is not a class the simulator plays`,
        `the model card gives FPS for ${SIMULATED_CLASSES.join(', ')} (or nano, xavier-nx, agx-xavier)`,
      );
    }
    if (seen.has(deviceClass)) throw new UsageError(`--classes names ${deviceClass} twice`);
    seen.add(deviceClass);
    const weight = m[2] === undefined ? 1 : Number(m[2]);
    if (!(weight > 0)) throw new UsageError(`--classes: the weight of ${alias} must be above 0`);
    return { deviceClass, alias, weight };
  });
}

/** Splits `n` by weight with the largest-remainder method, so the counts always sum to `n`. */
export function allocate(n: number, weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (n * w) / total);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

/**
 * The simulated fleet: ids `PREFIX-ALIAS-NNNN` in class blocks, and the special roles handed out
 * round-robin over the classes from the end of each block (so each class gets its share and the
 * canaries — the first ids of a rollout — stay normal unless a class is small).
 */
export function planFleet(options: {
  devices: number;
  classes: string;
  prefix: string;
  throttle: number;
  crash: number;
  failGate: number;
  /** Devices one of whose cameras goes offline on a schedule (tag flaky-camera). */
  flakyCameras?: number;
}): PlannedDevice[] {
  const mix = parseClassMix(options.classes);
  const flaky = options.flakyCameras ?? 0;
  const special = options.throttle + options.crash + options.failGate + flaky;
  if (special > options.devices) {
    throw new UsageError(
      `--throttle, --crash, --fail-gate and --flaky-cameras ask for ${special} devices, but --devices is ${options.devices}`,
    );
  }
  const counts = allocate(
    options.devices,
    mix.map((m) => m.weight),
  );
  const width = Math.max(4, String(options.devices).length);
  const blocks = mix.map((m, i) =>
    Array.from({ length: counts[i] ?? 0 }, (_, j) => ({
      id: `${options.prefix}-${m.alias}-${String(j + 1).padStart(width, '0')}`,
      deviceClass: m.deviceClass,
      role: 'normal' as Role,
      tags: ['simulated'],
    })),
  );
  const roles: Role[] = [
    ...Array<Role>(options.failGate).fill('fail-gate'),
    ...Array<Role>(options.crash).fill('crash'),
    ...Array<Role>(options.throttle).fill('throttle'),
    ...Array<Role>(flaky).fill('flaky-camera'),
  ];
  const taken = blocks.map(() => 0);
  let b = 0;
  for (const role of roles) {
    while ((taken[b] ?? 0) >= (blocks[b]?.length ?? 0)) b = (b + 1) % blocks.length;
    const block = blocks[b]!;
    const device = block[block.length - 1 - taken[b]!]!;
    device.role = role;
    device.tags.push(role);
    taken[b]! += 1;
    b = (b + 1) % blocks.length;
  }
  return blocks.flat();
}
