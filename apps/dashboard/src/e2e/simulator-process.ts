import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningCli, startCli } from '@facefleet/cli/test-support';

export interface SimulatorProcess extends RunningCli {
  /** Where the simulator keeps its device credentials and downloads (removed by `stop`). */
  dataDir: string;
}

/**
 * Starts the fleet simulator, `facefleet simulate ARGS --server URL --token T --data-dir TMP`, as a
 * child process, the way apps/cli's end-to-end tests do: it enrolls its devices through the API and
 * runs the agent's own code for each (MQTT link, reconciler, engine download and verification,
 * health gate, reported state) with a synthetic detector.
 */
export function startSimulator(
  args: string[],
  login: { server: string; token: string },
): SimulatorProcess {
  const dataDir = mkdtempSync(join(tmpdir(), 'ff-e2e-sim-'));
  const cli = startCli(
    ['simulate', ...args, '--data-dir', dataDir, '--server', login.server, '--token', login.token],
    // HOME in the temp dir: nothing read from or written to the user's facefleet config
    { HOME: dataDir },
  );
  const stop = cli.stop;
  return Object.assign(cli, {
    dataDir,
    async stop(timeoutMs?: number) {
      try {
        return await stop(timeoutMs);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  });
}
