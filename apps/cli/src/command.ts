import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { CliEnv } from './cli-config.js';
import { type ExitCode, UsageError } from './errors.js';

/** Everything a command touches of the outside world, injected so tests can run it in-process. */
export interface CliContext extends CliEnv {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  fetch: typeof fetch;
  now: () => number;
  /** Aborted on SIGINT/SIGTERM: long-running commands (tail, watch, simulate) stop on it. */
  signal: AbortSignal;
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Command {
  /** Words that select the command: `['devices', 'list']`. */
  path: string[];
  summary: string;
  /** Positional arguments as shown in usage, e.g. `ID`. */
  args?: string;
  options?: OptionSpec;
  /** One line per option for the help text, keyed by option name. */
  optionHelp?: Record<string, string>;
  run(ctx: CliContext, values: ParsedValues, positionals: string[]): Promise<ExitCode>;
}

/** Options every command accepts. */
export const globalOptions: OptionSpec = {
  server: { type: 'string' },
  token: { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const globalHelp: Record<string, string> = {
  server: 'control plane URL (default: the one `facefleet login` stored, or FACEFLEET_SERVER)',
  token: 'API token (default: the stored one, or FACEFLEET_TOKEN)',
  ca: 'CA certificate (PEM) that an https:// server and an mqtts:// broker are checked against (default: the stored one, or FACEFLEET_CA; else the system CAs)',
  json: 'print machine-readable JSON instead of tables',
  help: 'show this help',
};

export function usage(cmd: Command): string {
  const opts = { ...cmd.options, ...globalOptions };
  const help = { ...cmd.optionHelp, ...globalHelp };
  const lines = [
    `usage: facefleet ${cmd.path.join(' ')}${cmd.args ? ` ${cmd.args}` : ''} [options]`,
    '',
    cmd.summary,
    '',
  ];
  for (const [name, spec] of Object.entries(opts)) {
    const flag = `--${name}${spec.type === 'string' ? ' VALUE' : ''}`;
    lines.push(`  ${flag.padEnd(24)} ${help[name] ?? ''}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

/** Finds the command whose path is the longest prefix of the argument words. */
export function findCommand(commands: readonly Command[], argv: readonly string[]) {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length))
      best = c;
  }
  return best;
}

/** Parses a command's flags strictly; unknown or malformed flags become a UsageError naming the flag. */
export function parseCommandArgs(cmd: Command, argv: readonly string[]) {
  try {
    return parseArgs({
      args: argv.slice(cmd.path.length) as string[],
      options: { ...cmd.options, ...globalOptions },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(message, `see \`facefleet ${cmd.path.join(' ')} --help\``);
  }
}

/** Reads a numeric flag, or throws a UsageError naming it. */
export function numberFlag(
  values: ParsedValues,
  name: string,
  { min, max, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const bad =
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    !Number.isFinite(n) ||
    (integer && !Number.isInteger(n)) ||
    (min !== undefined && n < min) ||
    (max !== undefined && n > max);
  if (bad) {
    const range = [min !== undefined ? `≥ ${min}` : '', max !== undefined ? `≤ ${max}` : '']
      .filter(Boolean)
      .join(' and ');
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''} (got ${JSON.stringify(raw)})`,
    );
  }
  return n;
}

/** Reads a required string flag, or throws a UsageError naming it. */
export function requiredFlag(values: ParsedValues, name: string, what: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required: ${what}`);
  return v;
}
