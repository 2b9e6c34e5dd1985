#!/usr/bin/env node
// The main job on one machine: the control plane (embedded MQTT broker, SQLite, engine store, API,
// dashboard) and one local agent whose runner detects faces on the CPU in Debian's sample video,
// looping. State lives in .data/ and survives restarts. Ctrl-C (or SIGTERM) stops everything cleanly.
//   node scripts/start-demo.mjs [--http-port 8080] [--mqtt-port 1883] [--device-id local-cpu]
//                               [--data-dir .data] [--max-fps N  (spare the CPU: detect N frames/s)]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    'http-port': { type: 'string', default: '8080' },
    'mqtt-port': { type: 'string', default: '1883' },
    'ws-port': { type: 'string', default: '8083' },
    'device-id': { type: 'string', default: 'local-cpu' },
    'data-dir': { type: 'string', default: join(root, '.data') },
    source: { type: 'string', default: '/usr/share/doc/opencv-doc/examples/data/Megamind.avi' },
    'max-fps': { type: 'string' },
  },
});
const dataDir = flags['data-dir'];
const cpDir = join(dataDir, 'control-plane');
const agentDir = join(dataDir, 'agent');
const secretsFile = join(dataDir, 'demo-secrets.json');
const api = `http://127.0.0.1:${flags['http-port']}`;
const deviceId = flags['device-id'];
const model = join(root, 'packages/runner/models/face_detection_back_256x256_barracuda.onnx');
const runner = join(root, 'packages/runner/build/facefleet-runner');
const agentBundle = join(root, 'apps/agent/dist/facefleet-agent.js');
for (const p of [runner, model, flags.source, agentBundle]) {
  if (!existsSync(p)) {
    console.error(`${p} is missing: run bash scripts/setup.sh`);
    process.exit(1);
  }
}
mkdirSync(cpDir, { recursive: true });
mkdirSync(agentDir, { recursive: true });

/** Tokens the demo created, kept (0600) so a restart reuses them: the server shows each only once. */
const secrets = existsSync(secretsFile) ? JSON.parse(readFileSync(secretsFile, 'utf8')) : {};
const saveSecrets = () =>
  writeFileSync(secretsFile, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });

const children = [];
let stopping = false;
function start(name, args, { onLine, env } = {}) {
  // Own process group: Ctrl-C reaches only this launcher, which stops the agent before the control
  // plane so the agent can still publish its offline status.
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
  children.push(child);
  const relay = (stream, out) => {
    let buf = '';
    stream.on('data', (chunk) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onLine?.(line);
        out.write(`${name.padEnd(13)} | ${line}\n`);
        nl = buf.indexOf('\n');
      }
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping the demo`);
      stop(1);
    }
  });
  return child;
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // The agent first (it publishes its offline status through the broker), then the control plane.
  const [cp, ...rest] = children;
  Promise.all(rest.reverse().map(terminate))
    .then(() => (cp ? terminate(cp) : undefined))
    .then(() => process.exit(code));
}
function terminate(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
process.on('SIGINT', () => stop(0));
// If this launcher dies some other way, do not leave the children running.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
});
process.on('SIGTERM', () => stop(0));

async function call(method, path, body) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${secrets.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

// 1. The control plane. On a fresh database it leaves the first admin token in a file of its data
// dir (0600) and says where: keep it (in .data/secrets.json, 0600) and delete the file.
let ready;
const readyP = new Promise((r) => {
  ready = r;
});
start(
  'control-plane',
  [
    'apps/control-plane/dist/main.js',
    '--data-dir',
    cpDir,
    '--http-port',
    flags['http-port'],
    '--mqtt-port',
    flags['mqtt-port'],
    '--mqtt-ws-port',
    flags['ws-port'],
  ],
  {
    onLine(line) {
      const file = line.match(/first admin API token written to (\S+)/)?.[1];
      if (file) {
        secrets.adminToken = readFileSync(file, 'utf8').trim();
        saveSecrets();
        rmSync(file, { force: true });
      }
      if (line.includes('"msg":"ready"')) ready();
    },
  },
);
await readyP;
if (!secrets.adminToken) {
  console.error(
    `no admin token: ${secretsFile} was lost but ${cpDir} was kept; remove .data/ to start over`,
  );
  stop(1);
}

// 2. Enroll the local device once, and mint read-only MQTT credentials for subscribers.
if (!secrets.deviceToken || secrets.deviceId !== deviceId) {
  await call('DELETE', `/api/v1/devices/${deviceId}`);
  const enrolled = await call('POST', '/api/v1/devices', {
    id: deviceId,
    deviceClass: 'generic-x86_64',
    tags: ['demo'],
  });
  if (enrolled.status !== 201)
    throw new Error(`enrolling ${deviceId}: ${JSON.stringify(enrolled.json)}`);
  secrets.deviceId = deviceId;
  secrets.deviceToken = enrolled.json.token;
  saveSecrets();
}
if (!secrets.subscriber) {
  const sub = await call('POST', '/api/v1/subscribers', { name: 'demo' });
  if (sub.status !== 201)
    throw new Error(`creating subscriber credentials: ${JSON.stringify(sub.json)}`);
  secrets.subscriber = { username: sub.json.username, password: sub.json.password };
  saveSecrets();
}
const { publicKeyPem } = await (await fetch(`${api}/api/v1/fleet/public-key`)).json();

// 3. The local agent: it supervises the CPU runner (BlazeFace on OpenCV DNN) on the looping video.
// The agent as it ships: the bundle, with the Node flags its first line names (as the bin and the
// systemd unit run it).
const agentFlags = (
  /^#!\/usr\/bin\/env -S node (.*)$/m.exec(
    readFileSync(agentBundle, 'utf8').split('\n', 1)[0] ?? '',
  )?.[1] ?? ''
)
  .split(' ')
  .filter(Boolean);
start(
  'agent',
  [
    ...agentFlags,
    agentBundle,
    '--device-id',
    deviceId,
    '--broker-url',
    `mqtt://127.0.0.1:${flags['mqtt-port']}`,
    '--control-plane-url',
    api,
    '--fleet-public-key',
    publicKeyPem,
    '--data-dir',
    agentDir,
    '--runner-bin',
    runner,
    '--runner-backend',
    'opencv',
    '--runner-model',
    'blazeface',
    '--runner-bootstrap-model',
    model,
    '--runner-source',
    flags.source,
    '--runner-loop',
    'true',
    '--runner-pace',
    'true',
    ...(flags['max-fps'] ? [`--runner-extra-args=--max-fps ${flags['max-fps']}`] : []),
  ],
  // the device token in the environment, not the arguments every local user sees in `ps`
  { env: { FACEFLEET_DEVICE_TOKEN: secrets.deviceToken } },
);

const sub = secrets.subscriber;
console.log(`
facefleet is running (Ctrl-C stops it; data stays in ${dataDir})

  dashboard       ${api}/
  API             ${api}/api/v1      (Authorization: Bearer <admin token>)
  API docs        ${api}/docs        (OpenAPI: ${api}/openapi.json)
  admin token     ${secrets.adminToken}
  local device    ${deviceId}: BlazeFace on the CPU, looping ${flags.source}

  live face counts:
    mosquitto_sub -h 127.0.0.1 -p ${flags['mqtt-port']} -u '${sub.username}' -P '${sub.password}' -t 'facefleet/v1/devices/+/faces' -v
  alerts:
    mosquitto_sub -h 127.0.0.1 -p ${flags['mqtt-port']} -u '${sub.username}' -P '${sub.password}' -t 'facefleet/v1/alerts/#' -v
  an alert rule to try (fires when the video shows a face):
    curl -s -X POST ${api}/api/v1/alert-rules -H 'authorization: Bearer ${secrets.adminToken}' -H 'content-type: application/json' \\
      -d '{"id":"any-face","kind":"faces_above","threshold":1,"forS":0}'
`);
