import { cliMain, type RunningProcess, startProcess } from '@facefleet/test-support';

/**
 * The built `facefleet` binary (`node apps/cli/dist/main.js`) as a child process, for the CLI's
 * end-to-end tests and the dashboard's (which drive devices with `facefleet simulate`). The control
 * plane and the other processes come from @facefleet/test-support.
 */
export const CLI_MAIN = cliMain;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `facefleet` process whose output is collected line by line. */
export type RunningCli = RunningProcess;

/** Starts `facefleet ARGS` with only PATH and `env` in its environment. */
export function startCli(args: string[], env: Record<string, string>): RunningCli {
  return startProcess(process.execPath, [CLI_MAIN, ...args], {
    name: `facefleet ${args[0] ?? ''}`.trim(),
    env,
  });
}

/** Runs `facefleet ARGS` to the end (SIGKILL after `timeoutMs`). */
export async function runCliProcess(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<CliResult> {
  const p = startCli(args, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout.join('\n'), stderr: p.stderr.join('\n') };
}
