import type { DeviceClass } from '@facefleet/protocol';
import { ParseError } from '../errors.js';

/** `nvpmodel -q`: the power mode name, then its id on the next line. */
export interface PowerMode {
  name: string;
  id: number | null;
}

export function parseNvpmodel(text: string): PowerMode {
  const m = /NV Power Mode:\s*(\S+)/.exec(text);
  if (!m?.[1]) throw new ParseError('nvpmodel -q', 'no "NV Power Mode:" line');
  const after = text.slice((m.index ?? 0) + m[0].length);
  const id = /^\s*(\d+)\s*$/m.exec(after);
  return { name: m[1], id: id?.[1] !== undefined ? Number(id[1]) : null };
}

/** `/proc/device-tree/model` ends in a NUL byte; strip it and surrounding whitespace. */
export function parseDeviceTreeModel(raw: string | Buffer): string {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  return text.replace(/\0+$/g, '').replace(/\0/g, ' ').trim();
}

/**
 * Device class from the device-tree model string. Orin before Xavier and Nano (an "Orin Nano" is
 * not a Nano); "Jetson-AGX" is what early L4T prints on AGX Xavier (see the recorded sample).
 * Returns undefined for anything that is not a known Jetson.
 */
export function deviceClassFromModel(model: string): DeviceClass | undefined {
  const m = model.toLowerCase();
  if (m.includes('orin')) {
    if (m.includes('nano')) return 'jetson-orin-nano';
    if (m.includes(' nx') || m.includes('orin-nx')) return 'jetson-orin-nx';
    return 'jetson-agx-orin';
  }
  if (m.includes('xavier')) return m.includes(' nx') ? 'jetson-xavier-nx' : 'jetson-agx-xavier';
  if (m === 'jetson-agx' || m.includes('jetson-agx')) return 'jetson-agx-xavier';
  if (m.includes('tx2')) return 'jetson-tx2';
  if (m.includes('nano')) return 'jetson-nano';
  return undefined;
}

/** The CPU-only device class of a machine that is not a known Jetson, from `process.arch`. */
export function genericDeviceClass(arch: string): DeviceClass {
  return arch === 'arm64' ? 'generic-arm64' : 'generic-x86_64';
}

export interface L4tRelease {
  /** `R35.4.1` */
  l4t: string;
  /** `5.1.2`, or null for a release missing from the table */
  jetpack: string | null;
}

/**
 * L4T release → JetPack release, from NVIDIA's JetPack archive
 * (developer.nvidia.com/embedded/jetpack-archive), as also tabulated by rbonghi/jetson_stats
 * (jtop/core/jetson_variables.py). Keys are `major.minor.patch` of the L4T release.
 */
export const L4T_TO_JETPACK: Readonly<Record<string, string>> = {
  '36.4.4': '6.2.1',
  '36.4.3': '6.2',
  '36.4.0': '6.1',
  '36.3.0': '6.0',
  '36.2.0': '6.0 DP',
  '35.6.0': '5.1.4',
  '35.5.0': '5.1.3',
  '35.4.1': '5.1.2',
  '35.3.1': '5.1.1',
  '35.2.1': '5.1',
  '35.1.0': '5.0.2',
  '34.1.1': '5.0.1 DP',
  '34.1.0': '5.0 DP',
  '32.7.6': '4.6.6',
  '32.7.5': '4.6.5',
  '32.7.4': '4.6.4',
  '32.7.3': '4.6.3',
  '32.7.2': '4.6.2',
  '32.7.1': '4.6.1',
  '32.6.1': '4.6',
  '32.5.2': '4.5.1',
  '32.5.1': '4.5.1',
  '32.5.0': '4.5',
  '32.4.4': '4.4.1',
  '32.4.3': '4.4',
  '32.4.2': '4.4 DP',
  '32.3.1': '4.3',
  '32.2.3': '4.2.3',
  '32.2.1': '4.2.2',
  '32.2.0': '4.2.1',
  '32.1.0': '4.2',
};

/**
 * Parses `/etc/nv_tegra_release`:
 * `# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, …` → `{ l4t: 'R35.4.1', jetpack: '5.1.2' }`.
 */
export function parseNvTegraRelease(text: string): L4tRelease {
  const m = /#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?/.exec(text);
  if (!m?.[1] || !m[2])
    throw new ParseError('/etc/nv_tegra_release', 'no "# Rnn (release), REVISION: x.y" header');
  const key = `${m[1]}.${m[2]}.${m[3] ?? '0'}`;
  const l4t = `R${m[1]}.${m[2]}${m[3] !== undefined ? `.${m[3]}` : ''}`;
  return { l4t, jetpack: L4T_TO_JETPACK[key] ?? null };
}
