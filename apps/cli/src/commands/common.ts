import { type ApiClient, createApiClient } from '../api-client.js';
import { resolveLogin, type StoredLogin } from '../cli-config.js';
import type { CliContext, ParsedValues } from '../command.js';
import { UsageError } from '../errors.js';
import { colours } from '../table.js';
import { fetchTrusting } from '../tls.js';

/** The fetch for a login: the context's, or one that trusts the login's CA file. */
export function fetchFor(ctx: CliContext, login: Pick<StoredLogin, 'ca'>): typeof fetch {
  return login.ca ? fetchTrusting(login.ca) : ctx.fetch;
}

/** The server, token and CA the flags, the environment or the stored login name. */
export function loginFor(ctx: CliContext, values: ParsedValues): StoredLogin {
  return resolveLogin(ctx, {
    server: values.server as string | undefined,
    token: values.token as string | undefined,
    ca: values.ca as string | undefined,
  });
}

/** The API client for the server and token the flags, the environment or the stored login name. */
export function clientFor(ctx: CliContext, values: ParsedValues): ApiClient {
  const login = loginFor(ctx, values);
  return createApiClient({ ...login, fetch: fetchFor(ctx, login), signal: ctx.signal });
}

/** Prints one value as indented JSON (for `--json`). */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Terminal colours when stdout is a terminal and NO_COLOR is not set. */
export function coloursFor(ctx: CliContext) {
  return colours(Boolean(ctx.stdout.isTTY) && !ctx.env.NO_COLOR);
}

/** Exactly `n` positional arguments, named in the error when they are missing or extra. */
export function positionalArgs(positionals: string[], names: string[], command: string): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(
      `missing ${names.slice(positionals.length).join(' ')}`,
      `usage: facefleet ${command} ${names.join(' ')}`,
    );
  }
  if (positionals.length > names.length) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(positionals[names.length])}`,
      `usage: facefleet ${command} ${names.join(' ')}`,
    );
  }
  return positionals;
}

/** A comma-separated list flag (`--devices a,b`), repeated flags allowed; empty items refused. */
export function listFlag(values: ParsedValues, name: string): string[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(','));
  if (items.some((s) => s.trim() === '')) {
    throw new UsageError(`--${name} has an empty item (got ${JSON.stringify(raw)})`);
  }
  return items.map((s) => s.trim());
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
