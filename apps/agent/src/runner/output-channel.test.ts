import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openRunnerOutput } from './output-channel.js';

/** A child process that writes `lines` lines to stdout, one write each, `gapMs` apart, then exits. */
function writer(lines: number, gapMs: number) {
  return [
    '-e',
    `let i = 0;
     const t = setInterval(() => {
       process.stdout.write('line ' + i + '\\n');
       if (++i === ${lines}) { clearInterval(t); process.exit(0); }
     }, ${gapMs});`,
  ];
}

async function runThrough(args: string[], batchMs: number, command = process.execPath) {
  const chunks: Buffer[] = [];
  let reads = 0;
  const output = await openRunnerOutput({
    onData: (c) => {
      reads += 1;
      chunks.push(Buffer.from(c)); // the buffer is reused after the call
    },
    batchMs,
  });
  const startedAt = Date.now();
  const child = spawn(command, args, { stdio: ['ignore', output.writer, 'inherit'] });
  output.writer.destroy();
  const exited = new Promise((r) => child.once('close', r));
  await output.ended;
  const ms = Date.now() - startedAt;
  await exited;
  return { text: Buffer.concat(chunks).toString(), reads, ms };
}

const openFds = () => readdirSync('/proc/self/fd').length;

/** Child processes start slowly on a loaded 2-core machine. */
const SLOW = 60_000;

describe('runner output over a socket pair, read in batches', () => {
  it(
    'delivers every line in order, many lines per read',
    async () => {
      const { text, reads, ms } = await runThrough(writer(200, 2), 50);
      expect(text).toBe(Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(''));
      // lines 2 ms apart: after each quick second read the socket rests 50 ms, so at most two reads
      // per 50 ms however slowly the writer ran (and one for the end): ~20 for ~0.4 s of writes,
      // where reading each line as it arrives takes ~200
      expect(reads).toBeLessThanOrEqual(2 * Math.ceil(ms / 50) + 2);
      expect(reads).toBeLessThan(200);
    },
    SLOW,
  );

  it(
    'delivers the last line written before exit, even in the middle of a batch',
    async () => {
      const { text } = await runThrough(
        [
          '-e',
          "process.stdout.write('first\\n'); setTimeout(() => { process.stdout.write('last\\n'); process.exit(3); }, 30);",
        ],
        500,
      );
      expect(text).toBe('first\nlast\n');
    },
    SLOW,
  );

  it(
    'reads at once when not batching, and leaks no descriptor over many runners',
    async () => {
      const before = openFds();
      for (let i = 0; i < 20; i++) {
        const { text } = await runThrough(['-c', 'echo x'], 0, '/bin/sh');
        expect(text).toBe('x\n');
      }
      // a channel given up on before any runner got it
      (await openRunnerOutput({ onData: () => {}, batchMs: 50 })).destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect(openFds()).toBeLessThanOrEqual(before + 2);
    },
    SLOW,
  );
});
