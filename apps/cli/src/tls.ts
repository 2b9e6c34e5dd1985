import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import { CliError, EXIT } from './errors.js';

/** The PEM CA file given to `--ca` (or FACEFLEET_CA, or stored by `facefleet login`). */
export function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(
      `--ca: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT.usage,
    );
  }
}

/**
 * A fetch that checks an https:// server's certificate against the CA in `caFile` (the fleet CA),
 * in place of the system's CAs. Node's fetch takes extra CAs only at start (NODE_EXTRA_CA_CERTS);
 * undici, the library it is built on, takes them per request.
 */
export function fetchTrusting(caFile: string): typeof fetch {
  // Idle connections close soon: a command is a few requests, and an open socket would hold the
  // process (up to main.ts's exit timer) after the command is done.
  const dispatcher = new Agent({
    connect: { ca: readCa(caFile) },
    keepAliveTimeout: 100,
    keepAliveMaxTimeout: 100,
  });
  return ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as typeof fetch;
}
