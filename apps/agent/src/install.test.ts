import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { scriptNodeFlags } from './node-flags.js';
import { AGENT_BUNDLE } from './test-support/agent-process.js';
import { jetsonFixtures, repoRoot } from './test-support/fixtures.js';

const script = join(repoRoot, 'infra/jetson/install.sh');

function tempRoot(release?: string) {
  const root = mkdtempSync(join(tmpdir(), 'ff-install-'));
  if (release) {
    mkdirSync(join(root, 'etc'), { recursive: true });
    copyFileSync(join(jetsonFixtures, release), join(root, 'etc/nv_tegra_release'));
  }
  const key = join(root, 'fleet.pub');
  writeFileSync(
    key,
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }),
  );
  return { root, key };
}

const enroll = (key: string) => [
  '--device-id',
  'cam-7',
  '--device-token',
  'tok "with" quotes',
  '--broker-url',
  'mqtts://fleet.example:8883',
  '--control-plane-url',
  'https://fleet.example',
  '--fleet-public-key-file',
  key,
  '--source',
  '/dev/video0',
];

const install = (args: string[]) => spawnSync('bash', [script, ...args], { encoding: 'utf8' });

describe('infra/jetson/install.sh --root DIR --dry-run', () => {
  it('on JetPack 5 (L4T R35.4.1): builds with TensorRT, writes a valid config and a hardened unit', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const r = install(['--root', root, '--dry-run', ...enroll(key)]);
    expect(r.stderr).toContain('L4T R35.4.1');
    expect(r.status).toBe(0);
    // system commands are printed, not run
    expect(r.stdout).toMatch(/^\+ cmake -S .*packages\/runner .*-DFACEFLEET_TENSORRT=ON$/m);
    expect(r.stdout).toMatch(
      /^\+ \/usr\/src\/tensorrt\/bin\/trtexec --onnx=.*detectnet_v2_facenet_shaped\.onnx --fp16 --saveEngine=/m,
    );
    expect(r.stdout).toMatch(/^\+ systemctl enable --now facefleet-agent\.service$/m);

    const unit = readFileSync(join(root, 'etc/systemd/system/facefleet-agent.service'), 'utf8');
    for (const line of [
      'Restart=on-failure',
      'RestartSec=5',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/facefleet',
      'PrivateTmp=yes',
      'StandardOutput=journal',
      'User=facefleet',
      'KillSignal=SIGTERM',
      `ExecStart=/usr/bin/env node ${scriptNodeFlags(AGENT_BUNDLE).join(' ')} /opt/facefleet/apps/agent/dist/facefleet-agent.js --config /etc/facefleet/agent.json`,
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    // the flags are the bundle's, not a second list that could drift
    expect(scriptNodeFlags(AGENT_BUNDLE)).toContain('--single-threaded');
    expect(unit).not.toContain('NODE_OPTIONS');

    // the config the agent will read passes the agent's own validation
    const configPath = join(root, 'etc/facefleet/agent.json');
    const config = loadConfig({ argv: ['--config', configPath], env: {} });
    expect(config).toMatchObject({
      deviceId: 'cam-7',
      deviceToken: 'tok "with" quotes',
      brokerUrl: 'mqtts://fleet.example:8883',
      dataDir: '/var/lib/facefleet',
      runner: {
        backend: 'tensorrt',
        model: 'detectnet_v2',
        source: '/dev/video0',
        bootstrapModel: '/var/lib/facefleet/engines/bootstrap/model.plan',
      },
    });
    expect(config.fleetPublicKey.asymmetricKeyType).toBe('ed25519');

    // the uninstall script removes what was installed, keeping the data dir without --purge
    const uninstall = join(root, 'opt/facefleet/uninstall.sh');
    expect(existsSync(uninstall)).toBe(true);
    const u = spawnSync('bash', [uninstall, '--root', root, '--dry-run'], { encoding: 'utf8' });
    expect(u.status).toBe(0);
    expect(u.stdout).toContain('+ systemctl disable --now facefleet-agent.service');
    expect(existsSync(join(root, 'etc/systemd/system/facefleet-agent.service'))).toBe(false);
    expect(existsSync(join(root, 'etc/facefleet'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/facefleet'))).toBe(true);
  });

  it('refuses a machine that is not a Jetson, and names missing enrollment flags', () => {
    const { root, key } = tempRoot();
    const r = install(['--root', root, '--dry-run', ...enroll(key)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nv_tegra_release not found: not a Jetson/);
    const m = install(['--root', root, '--dry-run', '--device-id', 'x']);
    expect(m.status).toBe(2);
    expect(m.stderr).toContain(
      'missing --device-token --broker-url --control-plane-url --fleet-public-key-file --source',
    );
  });

  describe('on JetPack 4 (L4T R32.7.1, a Jetson Nano): glibc 2.27, so no NodeSource Node.js 20', () => {
    /** An executable stand-in for a `node` binary: `<root>/fake-bin/node`, running `body` in sh. */
    function fakeNode(root: string, body: string): string {
      const dir = join(root, 'fake-bin');
      mkdirSync(dir, { recursive: true });
      const bin = join(dir, 'node');
      writeFileSync(bin, `#!/bin/sh\n${body}\n`);
      chmodSync(bin, 0o755);
      return bin;
    }
    // what Ubuntu 18.04's dynamic loader prints for a binary built against glibc 2.28, as
    // Node.js 20's official linux-arm64 one is
    const glibcFailure = (bin: string) =>
      `${bin}: /lib/aarch64-linux-gnu/libc.so.6: version \`GLIBC_2.28' not found (required by ${bin})`;
    const unitOf = (root: string) =>
      readFileSync(join(root, 'etc/systemd/system/facefleet-agent.service'), 'utf8');

    it('--node PATH: checks that it runs and is >= 20, and the unit runs the agent with it', () => {
      const { root, key } = tempRoot('nv_tegra_release-r32.7.1-nano.txt');
      const r = install(['--root', root, '--dry-run', '--node', process.execPath, ...enroll(key)]);
      expect(r.stderr).toContain('L4T R32.7.1');
      expect(r.stderr).toContain(`using Node.js ${process.version} at ${process.execPath}`);
      expect(r.status).toBe(0);
      expect(r.stdout).not.toMatch(/nodesource|apt-get install -y nodejs/);
      expect(unitOf(root).split('\n')).toContain(
        `ExecStart=${process.execPath} ${scriptNodeFlags(AGENT_BUNDLE).join(' ')} /opt/facefleet/apps/agent/dist/facefleet-agent.js --config /etc/facefleet/agent.json`,
      );
      const config = loadConfig({
        argv: ['--config', join(root, 'etc/facefleet/agent.json')],
        env: {},
      });
      expect(config.deviceId).toBe('cam-7');
    });

    it('refuses, and says what to do, when there is no Node.js >= 20', () => {
      const { root, key } = tempRoot('nv_tegra_release-r32.7.1-nano.txt');
      // the `node` on PATH is an old one, as Ubuntu 18.04's own nodejs package is
      fakeNode(root, 'echo v18.19.0');
      const r = spawnSync('bash', [script, '--root', root, '--dry-run', ...enroll(key)], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${join(root, 'fake-bin')}:${process.env.PATH}` },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('no Node.js >= 20 here (node is v18.19.0)');
      for (const fact of [
        'JetPack 4 (L4T R32, Ubuntu 18.04) has glibc 2.27',
        'official linux-arm64',
        'need glibc 2.28',
        'the Jetson Nano cannot',
        'move to JetPack 5',
        '--node /path/to/node',
        'infra/jetson/README.md',
      ]) {
        expect(r.stderr.replace(/\s+/g, ' ')).toContain(fact);
      }
      expect(existsSync(join(root, 'etc/systemd/system/facefleet-agent.service'))).toBe(false);
    });

    it('refuses a --node that does not run here (an official binary: GLIBC_2.28 not found)', () => {
      const { root, key } = tempRoot('nv_tegra_release-r32.7.1-nano.txt');
      const bin = join(root, 'fake-bin/node');
      fakeNode(root, `cat >&2 <<'OUT'\n${glibcFailure(bin)}\nOUT\nexit 1`);
      const r = install(['--root', root, '--dry-run', '--node', bin, ...enroll(key)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`--node ${bin} does not run here: ${glibcFailure(bin)}`);
      expect(r.stderr.replace(/\s+/g, ' ')).toContain('need glibc 2.28');
    });

    it('refuses a --node older than 20, a relative path and a file that is not executable', () => {
      const { root, key } = tempRoot('nv_tegra_release-r32.7.1-nano.txt');
      const old = fakeNode(root, 'echo v18.19.0');
      const tooOld = install(['--root', root, '--dry-run', '--node', old, ...enroll(key)]);
      expect(tooOld.status).toBe(1);
      expect(tooOld.stderr).toContain(
        `--node ${old} is Node.js v18.19.0; the agent needs 20 or later`,
      );
      const relative = install(['--root', root, '--dry-run', '--node', 'bin/node', ...enroll(key)]);
      expect(relative.status).toBe(2);
      expect(relative.stderr).toContain("--node: 'bin/node' is not an absolute path");
      const notExecutable = join(root, 'fleet.pub');
      const r = install(['--root', root, '--dry-run', '--node', notExecutable, ...enroll(key)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--node: '${notExecutable}' is not an executable file`);
    });

    it('uses a Node.js >= 20 that is already on PATH', () => {
      const { root, key } = tempRoot('nv_tegra_release-r32.7.1-nano.txt');
      // this machine's node is >= 20
      const r = install(['--root', root, '--dry-run', ...enroll(key)]);
      expect(r.stderr).toMatch(/JetPack 4 .*Node\.js 20 cannot be installed from NodeSource/);
      expect(r.stderr).toMatch(/using Node\.js v2\d+\.\d+\.\d+ from PATH/);
      expect(r.status).toBe(0);
      expect(unitOf(root)).toContain('ExecStart=/usr/bin/env node ');
    });
  });

  it('passes shellcheck (install and the generated uninstall script)', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    expect(install(['--root', root, '--dry-run', ...enroll(key)]).status).toBe(0);
    // throws (fails the test) on any finding, or when shellcheck is not installed (scripts/setup.sh installs it)
    execFileSync('shellcheck', [script, join(root, 'opt/facefleet/uninstall.sh')], {
      encoding: 'utf8',
    });
  });
});
