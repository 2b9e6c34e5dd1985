export { type CliContext, type Command, numberFlag, requiredFlag } from './command.js';
export { CliError, EXIT, type ExitCode, UsageError } from './errors.js';
export { runCli } from './run-cli.js';
