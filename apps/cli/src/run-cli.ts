import { type CliContext, type Command, findCommand, parseCommandArgs, usage } from './command.js';
import { CliError, EXIT, type ExitCode } from './errors.js';

/** The top-level help: every command with its one-line summary. */
export function overview(commands: readonly Command[]): string {
  const width = Math.max(
    ...commands.map((c) => c.path.join(' ').length + (c.args ? c.args.length + 1 : 0)),
  );
  const lines = [
    'usage: facefleet COMMAND [options]',
    '',
    'Operate a fleet of Jetson devices running FaceNet.',
    '',
    'commands:',
    ...commands.map(
      (c) => `  ${`${c.path.join(' ')}${c.args ? ` ${c.args}` : ''}`.padEnd(width)}  ${c.summary}`,
    ),
    '',
    "Run `facefleet COMMAND --help` for a command's options.",
    `Exit codes: 0 ok, 1 failed, 2 usage, 3 not signed in or not allowed, 4 not found, 5 halted, 6 unreachable.`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Runs one CLI invocation and returns its exit code. Operator mistakes print a message and a hint on
 * stderr, never a stack trace; unexpected errors print their message (and the stack with FACEFLEET_DEBUG=1).
 */
export async function runCli(
  argv: readonly string[],
  ctx: CliContext,
  commands: readonly Command[],
): Promise<ExitCode> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? ctx.stderr : ctx.stdout).write(overview(commands));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const cmd = findCommand(commands, argv);
  try {
    if (!cmd) {
      const known = [...new Set(commands.map((c) => c.path[0]))].join(', ');
      throw new CliError(
        `unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith('-')).join(' '))}`,
        EXIT.usage,
        `commands: ${known}; see \`facefleet --help\``,
      );
    }
    const { values, positionals } = parseCommandArgs(cmd, argv);
    if (values.help) {
      ctx.stdout.write(usage(cmd));
      return EXIT.ok;
    }
    return await cmd.run(ctx, values, positionals);
  } catch (err) {
    if (err instanceof CliError) {
      ctx.stderr.write(`facefleet: ${err.message}\n`);
      if (err.hint) ctx.stderr.write(`  hint: ${err.hint}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    ctx.stderr.write(`facefleet: unexpected error: ${e.message}\n`);
    if (ctx.env.FACEFLEET_DEBUG) ctx.stderr.write(`${e.stack}\n`);
    return EXIT.failed;
  }
}
