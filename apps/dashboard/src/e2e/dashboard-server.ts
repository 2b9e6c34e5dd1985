import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ControlPlane, repoRoot, startControlPlane } from '@facefleet/test-support';

export interface DashboardServer {
  cp: ControlPlane;
  /** Stops the control plane (its exit code) and removes the bundle. */
  stop(): Promise<number | null>;
}

/**
 * The real control plane serving the dashboard freshly bundled (scripts/bundle.mjs into a temp
 * dir), with a 200 ms tick and 100 ms live flushes so that pages change within a test's patience.
 */
export async function startDashboardServer(): Promise<DashboardServer> {
  const dist = mkdtempSync(join(tmpdir(), 'ff-e2e-dashboard-'));
  const remove = () => rmSync(dist, { recursive: true, force: true });
  const bundle = spawnSync(
    process.execPath,
    [join(repoRoot, 'apps/dashboard/scripts/bundle.mjs'), '--outdir', dist],
    { encoding: 'utf8' },
  );
  if (bundle.status !== 0) {
    remove();
    throw new Error(`bundling failed:\n${bundle.stderr}`);
  }
  let cp: ControlPlane;
  try {
    cp = await startControlPlane({
      tickMs: 200,
      args: ['--live-flush-ms', '100', '--dashboard-dir', dist],
    });
  } catch (err) {
    remove();
    throw err;
  }
  return {
    cp,
    async stop() {
      try {
        return await cp.stop();
      } finally {
        remove();
      }
    },
  };
}
