import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configuredCameras, loadConfig, parseEd25519PublicKey, usage } from './config.js';
import { ConfigError } from './errors.js';

const { publicKey } = generateKeyPairSync('ed25519');
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const rawB64 = publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');

const env = {
  FACEFLEET_DEVICE_ID: 'cam-7',
  FACEFLEET_DEVICE_TOKEN: 'secret',
  FACEFLEET_BROKER_URL: 'mqtt://127.0.0.1:1883',
  FACEFLEET_CONTROL_PLANE_URL: 'http://127.0.0.1:8080',
  FACEFLEET_DATA_DIR: '/var/lib/facefleet',
  FACEFLEET_FLEET_PUBLIC_KEY: pem,
  FACEFLEET_RUNNER_BIN: '/opt/facefleet/bin/facefleet-runner',
  FACEFLEET_RUNNER_BOOTSTRAP_MODEL: '/opt/facefleet/models/blazeface.onnx',
  FACEFLEET_RUNNER_SOURCE: '/dev/video0',
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('builds a config from the environment with defaults', () => {
    const c = loadConfig({ argv: [], env });
    expect(c.deviceId).toBe('cam-7');
    expect(c.fleetPublicKey.asymmetricKeyType).toBe('ed25519');
    expect(c.publish).toEqual({ facesWindowS: 1, metricsIntervalS: 10, boxes: true });
    expect(c.runner.backend).toBe('opencv');
    expect(c.supervisor.crashLoopExits).toBe(5);
    expect(c.outbox.maxMessages).toBe(100_000);
    expect(c.trtVersion).toBeNull();
  });

  it('takes TLS settings: the fleet CA, a device certificate with its key, over mqtts:// or wss://', () => {
    const c = loadConfig({
      argv: [
        '--broker-url',
        'wss://broker.example:8084/mqtt',
        '--ca-file',
        'ca.pem',
        '--mqtt-cert-file',
        'cam-7.crt',
        '--mqtt-key-file',
        'cam-7.key',
      ],
      env,
      cwd: '/etc/facefleet',
    });
    expect(c.caFile).toBe('/etc/facefleet/ca.pem');
    expect(c.mqtt).toMatchObject({
      certFile: '/etc/facefleet/cam-7.crt',
      keyFile: '/etc/facefleet/cam-7.key',
    });
    const alone = errorOf(() => loadConfig({ argv: ['--mqtt-cert-file', 'a.crt'], env }));
    expect(alone.issues.map((i) => i.path)).toEqual(['mqtt.keyFile', 'mqtt.certFile']);
    expect(alone.message).toMatch(/go together/);
    expect(alone.message).toMatch(/needs a TLS broker URL/);
    const scheme = errorOf(() => loadConfig({ argv: ['--broker-url', 'http://x:1'], env }));
    expect(scheme.issues[0]?.path).toBe('brokerUrl');
  });

  it('flags override the environment, which overrides the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        deviceId: 'from-file',
        brokerUrl: 'mqtts://broker.example:8883',
        publish: { facesWindowS: 2, metricsIntervalS: 30 },
        runner: { loop: true, extraArgs: ['--cluster', 'nms'] },
      }),
    );
    const c = loadConfig({
      argv: [
        '--config',
        file,
        '--device-id',
        'from-flag',
        '--publish-faces-window-s=0.5',
        '--runner-pace',
      ],
      env: { ...env, FACEFLEET_DEVICE_ID: 'from-env', FACEFLEET_BROKER_URL: undefined },
    });
    expect(c.deviceId).toBe('from-flag');
    expect(c.brokerUrl).toBe('mqtts://broker.example:8883');
    expect(c.publish.facesWindowS).toBe(0.5);
    expect(c.publish.metricsIntervalS).toBe(30);
    expect(c.runner.loop).toBe(true);
    expect(c.runner.pace).toBe(true);
    expect(c.runner.extraArgs).toEqual(['--cluster', 'nms']);
  });

  it('takes a list of cameras from the file, the environment or flags, instead of runner.source', () => {
    const noSource = { ...env, FACEFLEET_RUNNER_SOURCE: undefined };
    const dir = mkdtempSync(join(tmpdir(), 'ff-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        cameras: [{ id: 'door', source: 'rtsp://10.0.0.5/s1' }, 'yard=/dev/video1'],
      }),
    );
    const fromFile = loadConfig({ argv: ['--config', file], env: noSource });
    expect(configuredCameras(fromFile)).toEqual([
      { id: 'door', source: 'rtsp://10.0.0.5/s1' },
      { id: 'yard', source: '/dev/video1' },
    ]);
    const fromEnv = loadConfig({
      argv: [],
      env: { ...noSource, FACEFLEET_CAMERAS: 'a=/dev/video0 b=rtsp://h/x?y=1' },
    });
    expect(configuredCameras(fromEnv)).toEqual([
      { id: 'a', source: '/dev/video0' },
      { id: 'b', source: 'rtsp://h/x?y=1' },
    ]);
    const pipeline = 'videotestsrc ! video/x-raw,width=320 ! appsink';
    const fromFlag = loadConfig({
      argv: ['--cameras', JSON.stringify([`gst=${pipeline}`])],
      env: noSource,
    });
    expect(configuredCameras(fromFlag)).toEqual([{ id: 'gst', source: pipeline }]);
    // a one-camera device is camera "0" of runner.source, as before
    expect(configuredCameras(loadConfig({ argv: [], env }))).toEqual([
      { id: '0', source: '/dev/video0' },
    ]);
  });

  it('refuses cameras beside runner.source, duplicate or bad ids, and no camera at all', () => {
    expect(errorOf(() => loadConfig({ argv: ['--cameras', 'a=/dev/video1'], env })).issues).toEqual(
      [{ path: 'cameras', message: 'give either cameras or runner.source, not both' }],
    );
    const noSource = { ...env, FACEFLEET_RUNNER_SOURCE: undefined };
    const dup = errorOf(() => loadConfig({ argv: ['--cameras', 'a=/x a=/y'], env: noSource }));
    expect(dup.issues).toEqual([
      { path: 'cameras', message: 'camera ids must be unique (from --cameras)' },
    ]);
    const bad = errorOf(() => loadConfig({ argv: ['--cameras', 'a/b=/x'], env: noSource }));
    expect(bad.issues[0]?.path).toBe('cameras.0.id');
    expect(bad.issues[0]?.message).toMatch(/camera id must be 1-64 characters/);
    const none = errorOf(() => loadConfig({ argv: [], env: noSource }));
    expect(none.issues.map((i) => i.path)).toEqual(['runner.source']);
    // the cameras of a deepstream-app config file are the runner's to read
    expect(
      loadConfig({ argv: ['--runner-config-file', '/etc/ds/app.txt'], env: noSource }).cameras,
    ).toBeUndefined();
  });

  it('names every wrong field, with where its value came from', () => {
    const err = errorOf(() =>
      loadConfig({
        argv: [
          '--broker-url',
          'http://nope',
          '--publish-metrics-interval-s',
          'often',
          '--bogus',
          'x',
        ],
        env: {
          ...env,
          FACEFLEET_DEVICE_ID: 'bad/id',
          FACEFLEET_FLEET_PUBLIC_KEY: 'not a key',
          FACEFLEET_DEVICE_TOKEN: undefined,
          FACEFLEET_DEVICE_CLASS: 'jetson-nano-2',
        },
      }),
    );
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        '--bogus',
        'brokerUrl',
        'deviceClass',
        'deviceId',
        'deviceToken',
        'fleetPublicKey',
        'publish.metricsIntervalS',
      ].sort(),
    );
    expect(byPath.brokerUrl).toMatch(/mqtt:\/\/ or mqtts:\/\/.*from --broker-url/);
    expect(byPath.deviceId).toMatch(/device id must be.*FACEFLEET_DEVICE_ID/);
    expect(byPath.fleetPublicKey).toMatch(/PEM public key or base64/);
    expect(byPath['publish.metricsIntervalS']).toMatch(/number/);
    expect(byPath.deviceToken).toBe('required (--device-token-file or FACEFLEET_DEVICE_TOKEN)');
  });

  it('takes the device token from a private file or the environment, never a flag (issue 17, finding 4)', () => {
    const { FACEFLEET_DEVICE_TOKEN: _, ...noToken } = env;
    const refused = errorOf(() =>
      loadConfig({ argv: ['--device-token', 'in-ps-for-all'], env: noToken }),
    );
    expect(refused.issues.find((i) => i.path === '--device-token')?.message).toMatch(
      /visible to every local user \(ps\): use --device-token-file, FACEFLEET_DEVICE_TOKEN or the config file/,
    );
    expect(JSON.stringify(refused.issues)).not.toContain('in-ps-for-all');
    const dir = mkdtempSync(join(tmpdir(), 'ff-token-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'from-the-file\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(loadConfig({ argv: ['--device-token-file', file], env: noToken }).deviceToken).toBe(
      'from-the-file',
    );
    chmodSync(file, 0o644);
    const open = errorOf(() => loadConfig({ argv: ['--device-token-file', file], env: noToken }));
    expect(open.issues[0]).toMatchObject({ path: 'deviceTokenFile' });
    expect(open.issues[0]?.message).toMatch(/open to every user \(mode 0644\): chmod o-rwx/);
    // both at once: which one would win is not guessed
    chmodSync(file, 0o600);
    const twice = errorOf(() => loadConfig({ argv: ['--device-token-file', file], env }));
    expect(twice.issues[0]?.message).toMatch(/give the device token once/);
    expect(usage()).not.toContain('--device-token <');
  });

  it('reports unknown settings in the file and an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ runner: { bim: 'x' }, colour: 'blue' }));
    const err = errorOf(() => loadConfig({ argv: ['--config', file], env }));
    const paths = err.issues.map((i) => i.path);
    expect(paths).toContain('runner.bim');
    expect(paths).toContain('colour');
    const missing = errorOf(() => loadConfig({ argv: ['--config', join(dir, 'nope.json')], env }));
    expect(missing.issues[0]?.path).toBe('config file');
    expect(missing.issues[0]?.message).toMatch(/ENOENT/);
  });

  it('makes relative paths absolute', () => {
    const c = loadConfig({
      argv: ['--data-dir', 'data', '--runner-bootstrap-model', 'm.onnx'],
      env,
      cwd: '/srv/ff',
    });
    expect(c.dataDir).toBe('/srv/ff/data');
    expect(c.runner.bootstrapModel).toBe('/srv/ff/m.onnx');
  });

  it('usage lists every flag with its environment variable', () => {
    expect(usage()).toMatch(/--runner-bootstrap-model <string>\s+FACEFLEET_RUNNER_BOOTSTRAP_MODEL/);
    expect(usage()).toMatch(/--outbox-max-messages <number>\s+FACEFLEET_OUTBOX_MAX_MESSAGES/);
  });
});

describe('parseEd25519PublicKey', () => {
  it('accepts PEM, raw base64 and SPKI base64 of the same key', () => {
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    for (const text of [pem, rawB64, spki]) {
      expect(parseEd25519PublicKey(text).equals(publicKey)).toBe(true);
    }
  });
  it('rejects a key of another type', () => {
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() =>
      parseEd25519PublicKey(rsa.export({ type: 'spki', format: 'pem' }).toString()),
    ).toThrow(/must be an Ed25519 key, not ec/);
  });
});
