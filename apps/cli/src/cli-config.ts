import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { CliError, EXIT } from './errors.js';

/** What `facefleet login` stores: where the server is and the operator's API token. */
export const storedLoginSchema = z.strictObject({
  server: z.url({ protocol: /^https?$/ }),
  token: z.string().min(1),
  /** The CA certificate file (PEM) an https:// server's certificate is checked against. */
  ca: z.string().min(1).optional(),
});
export type StoredLogin = z.infer<typeof storedLoginSchema>;

export interface CliEnv {
  /** The environment variables the CLI reads, picked by `cliEnv` (see CLI_ENV_VARS). */
  env: Record<string, string | undefined>;
}

/** Every environment variable the CLI reads; nothing else in the CLI looks at process.env. */
export const CLI_ENV_VARS = [
  'FACEFLEET_SERVER',
  'FACEFLEET_TOKEN',
  'FACEFLEET_CA',
  'FACEFLEET_MQTT',
  'FACEFLEET_MQTT_USER',
  'FACEFLEET_MQTT_PASSWORD',
  'FACEFLEET_DEBUG',
  'XDG_CONFIG_HOME',
  'XDG_STATE_HOME',
  'HOME',
  'NO_COLOR',
] as const;

/** The CLI's view of an environment: only the variables it reads. */
export function cliEnv(env: Record<string, string | undefined>): CliEnv['env'] {
  return Object.fromEntries(CLI_ENV_VARS.map((name) => [name, env[name]]));
}

/** `$XDG_CONFIG_HOME/facefleet/login.json`, else `~/.config/facefleet/login.json`. */
export function loginFile({ env }: CliEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'facefleet', 'login.json');
}

export function readLogin(ctx: CliEnv): StoredLogin | undefined {
  const file = loginFile(ctx);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON`, EXIT.failed, 'run `facefleet login` again');
  }
  const parsed = storedLoginSchema.safeParse(data);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || '(root)';
    throw new CliError(
      `${file}: field ${field} is invalid`,
      EXIT.failed,
      'run `facefleet login` again',
    );
  }
  return parsed.data;
}

/** Writes the login with mode 0600 (the token is a secret), atomically. */
export function writeLogin(ctx: CliEnv, login: StoredLogin): string {
  const file = loginFile(ctx);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

/**
 * The server, token and CA a command uses: flags first, then FACEFLEET_SERVER / FACEFLEET_TOKEN /
 * FACEFLEET_CA, then the stored login (its CA only for its own server).
 */
export function resolveLogin(
  ctx: CliEnv,
  flags: { server?: string | undefined; token?: string | undefined; ca?: string | undefined },
): StoredLogin {
  const stored = readLogin(ctx);
  const server = flags.server ?? ctx.env.FACEFLEET_SERVER ?? stored?.server;
  const token = flags.token ?? ctx.env.FACEFLEET_TOKEN ?? stored?.token;
  const ca =
    flags.ca ?? ctx.env.FACEFLEET_CA ?? (server === stored?.server ? stored?.ca : undefined);
  if (!server || !token) {
    throw new CliError(
      'not signed in',
      EXIT.auth,
      'run `facefleet login --server URL --token TOKEN` (or set FACEFLEET_SERVER and FACEFLEET_TOKEN)',
    );
  }
  const parsed = storedLoginSchema.safeParse({ server, token, ...(ca ? { ca } : {}) });
  if (!parsed.success) {
    throw new CliError(`server ${JSON.stringify(server)} is not an http(s) URL`, EXIT.usage);
  }
  return parsed.data;
}
