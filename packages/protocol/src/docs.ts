import { examples } from './examples.js';
import { HA_DEFAULT_PREFIX, haCameraObjectId, haDiscoveryMessages } from './home-assistant.js';
import { filters, TOPIC_ROOT, topics } from './topics.js';

interface TopicDoc {
  title: string;
  topic: string;
  filter: string;
  direction: string;
  qos: string;
  who: string;
  schema: string;
  example: unknown;
  /** How to read it with mosquitto_sub, or why a subscriber cannot. */
  sub: string;
}

const host = '-h localhost -p 1883';
const subLogin = '-u subscriber@NAME -P "$FACEFLEET_SUBSCRIBER_TOKEN"';

const rows: TopicDoc[] = [
  {
    title: 'Device status',
    topic: topics.status('cam-7'),
    filter: filters.allStatus,
    direction: 'agent → control plane',
    qos: '1, retained; the offline variant is the MQTT will',
    who: 'published by the device; read by the control plane',
    schema: 'status.schema.json',
    example: examples.status,
    sub: 'Not readable with subscriber credentials; the fleet API (`GET /api/v1/devices`) serves it.',
  },
  {
    title: 'Face counts',
    topic: topics.faces('cam-7'),
    filter: filters.allFaces,
    direction: 'agent → control plane, subscribers',
    qos: '1',
    who: 'published by the device; read by the control plane and read-only subscribers',
    schema: 'faces.schema.json',
    example: examples.faces,
    sub: `mosquitto_sub ${host} ${subLogin} -t '${filters.allFaces}' -v`,
  },
  {
    title: 'Metrics and device health',
    topic: topics.metrics('cam-7'),
    filter: 'facefleet/v1/devices/+/metrics',
    direction: 'agent → control plane',
    qos: '1',
    who: 'published by the device; read by the control plane',
    schema: 'metrics.schema.json',
    example: examples.metrics,
    sub: 'Not readable with subscriber credentials; the fleet API serves metric series and the FPS table.',
  },
  {
    title: 'Desired state',
    topic: topics.desired('cam-7'),
    filter: topics.desired('cam-7'),
    direction: 'control plane → agent',
    qos: '1, retained',
    who: 'published by the control plane; read only by the device it names',
    schema: 'desired.schema.json',
    example: examples.desired,
    sub: `Only the device itself: mosquitto_sub ${host} -u cam-7 -P "$DEVICE_TOKEN" -t '${topics.desired('cam-7')}' -v`,
  },
  {
    title: 'Reported state',
    topic: topics.reported('cam-7'),
    filter: 'facefleet/v1/devices/+/reported',
    direction: 'agent → control plane',
    qos: '1',
    who: 'published by the device after every change; read by the control plane',
    schema: 'reported.schema.json',
    example: examples.reported,
    sub: 'Not readable with subscriber credentials; the fleet API serves update history.',
  },
  {
    title: 'Alerts',
    topic: topics.alert('lobby-crowd', 'cam-7'),
    filter: filters.allAlerts,
    direction: 'control plane → subscribers',
    qos: '1',
    who: 'published by the control plane; read by read-only subscribers',
    schema: 'alert.schema.json',
    example: examples.alert,
    sub: `mosquitto_sub ${host} ${subLogin} -t '${filters.allAlerts}' -v`,
  },
];

const runnerLines: [string, unknown][] = [
  ['hello — once, after the model loaded', examples.runnerHello],
  ['hello of TensorRT on a DLA core (`dlaCore` only then)', examples.runnerHelloDla],
  ['frame — one per processed frame', examples.runnerFrame],
  ['stats — every `--stats-interval` seconds and at the end', examples.runnerStats],
  [
    'camera — once per camera after hello, then at every change of its state',
    examples.runnerCamera,
  ],
  ['error — then the runner exits with the code of its class', examples.runnerError],
];

const json = (value: unknown) => `\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\``;

/** Why the camera is a payload field and not a topic level: the decision, written down once. */
const CAMERAS = [
  '## Cameras',
  '',
  'A device may serve several cameras with one runner (one model instance, batched inference). Every',
  'face window, per-camera FPS figure and camera state names its camera. Camera ids follow the device',
  'id rule. A device without a camera list has one camera, `"0"`.',
  '',
  '- **Face windows** stay on `devices/{deviceId}/faces`; a window of a camera carries `"camera"`. A',
  '  device publishes one window per camera per interval, each with its own `seq`. A window without',
  '  `camera` is camera `"0"`, and agents leave the field out for camera `"0"`: a one-camera device',
  '  publishes byte for byte what it published before cameras existed.',
  '- **Status** (`devices/{deviceId}/status`) lists every camera with its state — `online`,',
  '  `reconnecting` (a live source being opened or reopened) or `offline` (failed for good, ended, or',
  '  the runner is not running) — the reason, and since when. A change of any camera publishes a new',
  '  status at once. The offline will lists every camera offline.',
  '- **Metrics** (`devices/{deviceId}/metrics`) carry `runner.cameras`: per camera processed FPS,',
  '  source FPS, frames, dropped, skipped, reconnects; `runner.batch`: inference calls and mean batch.',
  '- **Alerts** of per-camera rules (`faces_above`, `no_faces`, `camera_offline`) go to',
  '  `alerts/{ruleId}/{deviceId}/{camera}` and carry `"camera"`; camera `"0"` and device-wide rules',
  '  keep `alerts/{ruleId}/{deviceId}`. Alerts are retained, so each camera needs its own topic: on',
  '  one topic a camera that recovers would overwrite another that is still down.',
  '',
  'Why the camera is a field and not a topic level (`devices/{id}/cameras/{cam}/faces`):',
  '',
  '1. A subscriber still takes every face count with one filter, `facefleet/v1/devices/+/faces`,',
  '   which read-only subscribers are allowed. With camera topics, every face count would need',
  '   `devices/+/faces` and `devices/+/cameras/+/faces`, and every existing subscriber would miss the',
  '   new cameras without a change.',
  '2. A one-camera device keeps working exactly as before: same topic, same payload.',
  '3. The ACL stays per device with no new rule: a device may publish only its own',
  '   `devices/{id}/faces`, whatever camera it names (a camera is not an MQTT principal), so the',
  '   Mosquitto ACL file and dynamic-security roles do not change.',
  '4. The cost — a subscriber cannot pick one camera with a broker filter — is small: it filters on',
  "   the payload's `camera`, and a camera's counts are also served by the API",
  '   (`GET /api/v1/devices/{id}/faces?camera=…`) and `facefleet faces tail --camera`.',
];

/** docs/protocol.md, generated from the examples the tests validate (`pnpm -F @facefleet/protocol gen:docs`). */
export function protocolDoc(): string {
  const parts = [
    '# facefleet MQTT protocol (v1)',
    '',
    '<!-- Generated from packages/protocol/src/docs.ts and examples.ts; edit those, then run',
    '     `pnpm -F @facefleet/protocol gen:docs`. A test fails when this file drifts. -->',
    '',
    'Every topic lives under `facefleet/v1/`. Every message a device publishes is a JSON envelope',
    '`{ "v": 1, "deviceId", "seq", "ts", … }`: `seq` is a per-device counter that survives restarts (the',
    'control plane stores each message once, by `(deviceId, seq)`, and sees gaps), `ts` is milliseconds',
    'since the Unix epoch. Payloads are strict: unknown fields are rejected. JSON Schema files for',
    'validating them without TypeScript are in `packages/protocol/schemas/`.',
    '',
    'Seqs and wills: a device reserves a seq for the MQTT will of each connection it makes (one per',
    'connection established, not per attempt) and names it in the statuses it sends on that',
    'connection (`willSeq`); the will itself carries `will: true`. A will that never fires therefore',
    'leaves no unexplained hole: the control plane counts as lost only seqs that were neither stored',
    'nor announced as a will (`GET /api/v1/devices/{id}` → `seq.gaps`, `facefleet_ingest_seq_gaps`).',
    '',
    '## Identifiers and logins',
    '',
    '- Device ids and rule ids: 1–64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit,',
    '  not `control-plane` or `subscriber`. They can never contain `/`, `+`, `#` or a leading `$`.',
    '- A device logs in with username = its device id, password = its device token. It may publish only',
    '  its own `status`, `faces`, `metrics` and `reported`, and subscribe only to its own `desired`.',
    '- A read-only subscriber (mosquitto_sub, Node-RED, Home Assistant) logs in as `subscriber@NAME` with',
    '  a subscriber token from the control plane. It may subscribe to `facefleet/v1/alerts/#`,',
    '  `facefleet/v1/devices/+/faces`, `…/+/status`, `…/+/metrics` (or narrower filters) and',
    "  `homeassistant/#`, and publish only Home Assistant's birth message `homeassistant/status`.",
    '- Everything else is denied, including every `$SYS` topic.',
    '- Payloads larger than 64 KiB are refused.',
    '',
    '| topic | direction | QoS | schema |',
    '|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| \`${r.topic.replace('cam-7', '{deviceId}').replace('lobby-crowd', '{ruleId}')}\` | ${r.direction} | ${r.qos} | \`${r.schema}\` |`,
    ),
    `| \`${TOPIC_ROOT}/alerts/{ruleId}/{deviceId}/{camera}\` | control plane → subscribers | 1 | \`alert.schema.json\` |`,
    '',
    ...CAMERAS,
    '',
    "A face window of camera `lobby` (on the device's faces topic):",
    '',
    json(examples.facesCamera),
    '',
    `A camera alert, on \`${topics.alert('camera-down', 'cam-7', 'yard')}\`; every camera alert of one rule:`,
    '',
    '```sh',
    `mosquitto_sub ${host} ${subLogin} -t '${filters.ruleAlerts('camera-down')}' -v`,
    '```',
    '',
    json(examples.cameraAlert),
  ];
  for (const r of rows) {
    parts.push('', `## ${r.title}`, '', `Topic: \`${r.topic}\` (all devices: \`${r.filter}\`).`);
    parts.push(
      `QoS ${r.qos}; ${r.who}.`,
      '',
      json(r.example),
      '',
      'Read it:',
      '',
      '```sh',
      r.sub,
      '```',
    );
  }
  parts.push(
    '',
    '## Runner output (stdout of `facefleet-runner`, one JSON object per line)',
    '',
    'Not MQTT: the contract between the runner and the agent, which validates every line with',
    '`runnerLineSchema` (`runner-line.schema.json`). Exit codes after an `error` line: 2 bad arguments,',
    '3 model load, 4 source, 5 runtime; 0 is a clean end.',
  );
  for (const [title, example] of runnerLines) parts.push('', `### ${title}`, '', json(example));
  const config = (m: { topic: string; payload: unknown } | undefined) => [
    `Topic: \`${m?.topic}\``,
    '',
    json(m?.payload),
  ];
  const [faces] = haDiscoveryMessages(
    HA_DEFAULT_PREFIX,
    { id: examples.status.deviceId, deviceClass: examples.status.deviceClass },
    '0.1.0',
  );
  const cameraIds = (examples.status.cameras ?? []).map((c) => c.id);
  const lobbyFaces = haDiscoveryMessages(
    HA_DEFAULT_PREFIX,
    {
      id: examples.status.deviceId,
      deviceClass: examples.status.deviceClass,
      cameras: cameraIds,
    },
    '0.1.0',
  ).find((m) => m.topic.includes(`/${haCameraObjectId('lobby')}_faces/`));
  parts.push(
    '',
    '## Home Assistant discovery (published by the control plane)',
    '',
    'Retained configs, one per entity, under `homeassistant/<component>/facefleet_<deviceId>/<object>/config`',
    "(Home Assistant's single-component discovery, read by every release that has MQTT discovery):",
    'sensors `faces`, `fps`, `inference_fps`, `temperature` and the binary sensor `online`. They point at',
    "the device's own topics (nothing is published twice); every sensor is available while the device's",
    'status is not `offline`. The control plane publishes them when it starts leading, when a device is',
    "enrolled or changed, and again when Home Assistant's birth message (`homeassistant/status` =",
    "`online`) arrives — those two publish every device's, paced at 500 devices a second so that a fleet",
    "logging in again after a restart is not kept waiting (10,000 devices: 20 s) — while a device's own",
    'change goes out at once; deleting a device publishes an empty retained payload on each, which removes the',
    'entities. `--ha-discovery off` turns this off, `--ha-discovery-prefix` changes the prefix. A device id',
    'with `.` (not allowed in discovery topics) becomes `_` plus a short hash of the id.',
    '',
    ...config(faces),
    '',
    '### Cameras',
    '',
    'A device with two or more cameras gets, per camera, the sensors `camera_<camera>_faces` and',
    '`camera_<camera>_fps` and the binary sensor `camera_<camera>_online` (a camera id with `.` gets the',
    "device id's rule), under the same device; its device-level `faces` is cleared, because the windows",
    "of all its cameras share the faces topic. A one-camera device keeps the device's entities alone.",
    "Each per-camera template takes only its camera's figure: a faces window of another camera renders",
    "an empty string, which Home Assistant's MQTT sensor ignores (the state stays), and the attributes",
    "are rendered again from the entity's own (`this`); FPS comes from `runner.cameras` and online",
    "from the status' `cameras`, which list every camera in each message. The control plane publishes",
    'them when a camera first shows up (in a status, a window or a metrics sample, or in the store at',
    "start) and clears a camera's configs when a newer status no longer lists it.",
    '',
    ...config(lobbyFaces),
  );
  return `${parts.join('\n')}\n`;
}
