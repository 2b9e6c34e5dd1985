import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loginFile, readLogin, resolveLogin, writeLogin } from './cli-config.js';
import { type CliContext, type Command, numberFlag } from './command.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { runCli } from './run-cli.js';
import { ago, renderTable } from './table.js';

function capture() {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    env: { HOME: mkdtempSync(join(tmpdir(), 'ff-cli-')) },
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    fetch: globalThis.fetch,
    now: () => 1_764_270_000_000,
    signal: new AbortController().signal,
  };
  return { ctx, out: () => out, err: () => err };
}

const echo: Command = {
  path: ['devices', 'tag'],
  args: 'ID',
  summary: 'tag a device',
  options: { add: { type: 'string', multiple: true }, limit: { type: 'string' } },
  async run(ctx, values, positionals) {
    const limit = numberFlag(values, 'limit', { min: 1, integer: true });
    if (positionals.length !== 1) throw new UsageError('expected one device ID');
    ctx.stdout.write(`${JSON.stringify({ positionals, add: values.add, limit })}\n`);
    return EXIT.ok;
  },
};
const boom: Command = {
  path: ['boom'],
  summary: 'fails',
  async run() {
    throw new CliError('the rollout halted', EXIT.halted, 'see `facefleet rollouts show`');
  },
};
const commands = [echo, boom];

describe('runCli', () => {
  it('dispatches to the longest matching command with its flags', async () => {
    const c = capture();
    const code = await runCli(
      ['devices', 'tag', 'cam-7', '--add', 'lobby', '--add', 'floor-2', '--limit', '3'],
      c.ctx,
      commands,
    );
    expect(code).toBe(EXIT.ok);
    expect(JSON.parse(c.out())).toEqual({
      positionals: ['cam-7'],
      add: ['lobby', 'floor-2'],
      limit: 3,
    });
  });

  it('names an unknown flag and exits with the usage code, without a stack trace', async () => {
    const c = capture();
    expect(await runCli(['devices', 'tag', 'cam-7', '--colour', 'red'], c.ctx, commands)).toBe(
      EXIT.usage,
    );
    expect(c.err()).toContain("Unknown option '--colour'");
    expect(c.err()).toContain('facefleet devices tag --help');
    expect(c.err()).not.toMatch(/at .*\.js:\d+/);
  });

  it('names a bad number flag', async () => {
    const c = capture();
    expect(await runCli(['devices', 'tag', 'cam-7', '--limit', '0'], c.ctx, commands)).toBe(
      EXIT.usage,
    );
    expect(c.err()).toContain('--limit must be an integer ≥ 1 (got "0")');
    const d = capture();
    expect(await runCli(['devices', 'tag', 'cam-7', '--limit', 'lots'], d.ctx, commands)).toBe(
      EXIT.usage,
    );
    expect(d.err()).toContain('--limit');
  });

  it('rejects unknown commands with the list of known ones', async () => {
    const c = capture();
    expect(await runCli(['fleet', 'explode'], c.ctx, commands)).toBe(EXIT.usage);
    expect(c.err()).toContain('unknown command "fleet explode"');
    expect(c.err()).toContain('devices, boom');
  });

  it('prints per-command help listing its flags', async () => {
    const c = capture();
    expect(await runCli(['devices', 'tag', '--help'], c.ctx, commands)).toBe(EXIT.ok);
    expect(c.out()).toContain('usage: facefleet devices tag ID [options]');
    expect(c.out()).toContain('--add VALUE');
    expect(c.out()).toContain('--json');
  });

  it('returns the exit code and hint of a CliError', async () => {
    const c = capture();
    expect(await runCli(['boom'], c.ctx, commands)).toBe(EXIT.halted);
    expect(c.err()).toBe('facefleet: the rollout halted\n  hint: see `facefleet rollouts show`\n');
  });

  it('shows the overview without arguments (usage exit) and with --help (ok)', async () => {
    const c = capture();
    expect(await runCli([], c.ctx, commands)).toBe(EXIT.usage);
    expect(c.err()).toContain('devices tag ID');
    const d = capture();
    expect(await runCli(['--help'], d.ctx, commands)).toBe(EXIT.ok);
    expect(d.out()).toContain('boom');
  });
});

describe('stored login', () => {
  it('is written with mode 0600 and read back', () => {
    const { ctx } = capture();
    const file = writeLogin(ctx, { server: 'http://127.0.0.1:8080', token: 'ff_secret' });
    expect(file).toBe(loginFile(ctx));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readLogin(ctx)).toEqual({ server: 'http://127.0.0.1:8080', token: 'ff_secret' });
  });

  it('flags beat environment beats the stored login', () => {
    const { ctx } = capture();
    writeLogin(ctx, { server: 'http://stored:1', token: 'stored' });
    expect(resolveLogin(ctx, {})).toEqual({ server: 'http://stored:1', token: 'stored' });
    ctx.env.FACEFLEET_TOKEN = 'from-env';
    expect(resolveLogin(ctx, {}).token).toBe('from-env');
    expect(resolveLogin(ctx, { token: 'flag', server: 'https://flag' })).toEqual({
      server: 'https://flag',
      token: 'flag',
    });
  });

  it('says how to sign in when nothing is stored', () => {
    const { ctx } = capture();
    expect(() => resolveLogin(ctx, {})).toThrow(/not signed in/);
    try {
      resolveLogin(ctx, {});
    } catch (err) {
      expect((err as CliError).exitCode).toBe(EXIT.auth);
      expect((err as CliError).hint).toContain('facefleet login');
    }
  });

  it('names the broken field of a damaged login file', () => {
    const { ctx } = capture();
    const file = writeLogin(ctx, { server: 'http://x', token: 't' });
    writeFileSync(file, JSON.stringify({ server: 'ftp://x', token: 't' }));
    expect(() => readLogin(ctx)).toThrow(/field server is invalid/);
    writeFileSync(file, '{');
    expect(() => readLogin(ctx)).toThrow(/not valid JSON/);
    expect(readFileSync(file, 'utf8')).toBe('{');
  });
});

describe('tables', () => {
  it('aligns columns, right-aligns numbers and prints - for missing values', () => {
    const text = renderTable(
      [
        { id: 'cam-7', fps: 29.94, seen: null },
        { id: 'lobby-entrance', fps: 5, seen: 'now' },
      ],
      [
        { header: 'DEVICE', value: (r) => r.id },
        { header: 'FPS', value: (r) => r.fps, align: 'right' },
        { header: 'SEEN', value: (r) => r.seen },
      ],
    );
    expect(text).toBe(
      [
        'DEVICE           FPS  SEEN',
        'cam-7           29.9  -',
        'lobby-entrance     5  now',
        '',
      ].join('\n'),
    );
  });

  it('says how long ago', () => {
    const now = 1_000_000_000;
    expect(ago(now - 4_000, now)).toBe('4s ago');
    expect(ago(now - 300_000, now)).toBe('5m ago');
    expect(ago(null, now)).toBe('never');
  });
});
