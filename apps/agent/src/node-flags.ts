import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The Node flags a script's first line names: `#!/usr/bin/env -S node --a --b` → ['--a', '--b'].
 * The shipped agent (dist/facefleet-agent.js, scripts/bundle.mjs) carries the flags it is tuned for
 * there, and everything that starts it reads them from there: the `facefleet-agent` bin (the kernel
 * runs the line), the systemd unit (infra/jetson/install.sh), scripts/start-demo.mjs, the tests and
 * `pnpm bench agent`. A plain `#!/usr/bin/env node` (dist/main.js) names none.
 */
export function parseShebangFlags(firstLine: string): string[] {
  const m = /^#!\s*\S*env\s+(?:-S\s+)?node((?:\s+--?[\w-]+(?:=\S+)?)*)\s*$/.exec(firstLine);
  if (!m) return [];
  return (m[1] ?? '').split(/\s+/).filter(Boolean);
}

/** The flags the first line of `file` names (reads only its first 512 bytes). */
export function scriptNodeFlags(file: string): string[] {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('utf8', 0, n);
    const nl = text.indexOf('\n');
    return parseShebangFlags(nl >= 0 ? text.slice(0, nl) : text);
  } finally {
    closeSync(fd);
  }
}

/** Flags of `expected` that this process was not started with (`process.execArgv`). */
export function missingNodeFlags(expected: string[], execArgv: string[]): string[] {
  return expected.filter((f) => !execArgv.includes(f));
}
