import { readFileSync } from 'node:fs';
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
