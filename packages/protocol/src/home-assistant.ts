import { createHash } from 'node:crypto';
import { cameraIdSchema, DEFAULT_CAMERA_ID } from './cameras.js';
import type { DeviceClass } from './device-classes.js';
import { TOPIC_ROOT, topics } from './topics.js';

/**
 * Home Assistant MQTT discovery: the retained configs that make every enrolled device appear in
 * Home Assistant with its sensors, without a line of YAML. Single-component discovery
 * (`<prefix>/<component>/<node_id>/<object_id>/config`, one message per entity) because every
 * Home Assistant release with MQTT discovery reads it; the device-based form (`<prefix>/device/…`)
 * needs 2024.11 or later.
 *
 * The entities read facefleet's own topics (nothing is published twice): the face count from
 * `devices/{id}/faces`, FPS and temperature from `devices/{id}/metrics`, and whether the device is
 * online from its retained `devices/{id}/status`, which is also every sensor's availability (the
 * agent's will turns it offline when the link drops). Templates are Jinja, as Home Assistant
 * renders them; a template that renders `None` leaves the state unknown.
 *
 * Cameras. A device with two or more cameras gets, per camera, the sensors Faces and FPS and the
 * binary sensor Online (the camera delivers frames), grouped under the device; its device-level
 * Faces entity is left out there (its config cleared), because the face windows of all cameras share
 * the device's faces topic and one entity could only show whichever camera sent last. A device with
 * one camera (or none known yet) keeps the device entities alone: they already describe its camera.
 *
 * The per-camera entities read the same shared topics, so each template takes only its camera's
 * figures (documented, home-assistant.io/docs/configuration/templating/#using-value-templates-with-mqtt
 * and home-assistant.io/integrations/sensor.mqtt/, option `state_topic`):
 * - Faces: a window of another camera renders an empty string. Home Assistant's MQTT sensor with a
 *   `state_class` or unit expects a number, and "an empty value `''` will be ignored and will not
 *   update the state" (sensor.mqtt, `state_topic`): the entity keeps its camera's last count. Its
 *   attributes (the window's figures) are rendered again from the entity's own current attributes
 *   through the `this` variable, which "refers to the entity state of the MQTT item" in MQTT value
 *   templates (templating docs above; that attribute templates get it too, and that an empty
 *   render there would be logged as erroneous JSON, is read from Home Assistant's MQTT source, not
 *   its docs).
 *   `this.state` is not used for the state itself: it is the string `unknown` until the first
 *   window, which a numeric sensor would reject.
 * - FPS and Online need no such care: every metrics message lists every camera
 *   (`runner.cameras`) and every status lists every camera (`cameras`), so each message carries the
 *   camera's figure; a camera missing from one renders unknown (FPS) or off (Online).
 */

/** Home Assistant's default discovery prefix. */
export const HA_DEFAULT_PREFIX = 'homeassistant';

/**
 * Why `prefix` cannot be a discovery prefix, or null when it can: topic levels of letters, digits,
 * `_` and `-` (no wildcards, no `$`), and nothing that overlaps facefleet's own topics (subscribers
 * may read everything below the prefix).
 */
export function haPrefixProblem(prefix: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_-]{1,64}){0,3}$/.test(prefix)) {
    return 'must be 1-4 topic levels of A-Z a-z 0-9 _ - (no wildcards, no $, no empty level)';
  }
  const root = TOPIC_ROOT.split('/')[0]!;
  if (prefix === root || prefix.startsWith(`${root}/`)) {
    return `must not be below ${root}/ (facefleet's own topics)`;
  }
  return null;
}

/** Where Home Assistant announces itself: `online` when it (re)starts, `offline` as its will. */
export function haStatusTopic(prefix: string): string {
  return `${prefix}/status`;
}

/** The origin block: who published the discovery message. */
const ORIGIN_NAME = 'facefleet';

/** What the configs of one device are built from. */
export interface HaDevice {
  id: string;
  deviceClass: DeviceClass | string;
  /** The device's cameras (ids); per-camera entities when there are two or more. */
  cameras?: readonly string[];
}

/** Whether a device with these cameras gets per-camera entities (and no device-level Faces). */
export function haPerCamera(cameras: readonly string[] | undefined): boolean {
  return (cameras?.length ?? 0) > 1;
}

/** One retained discovery message. */
export interface HaDiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/**
 * The node id of a device in discovery topics and unique ids: Home Assistant allows only
 * `[A-Za-z0-9_-]` there, device ids may also hold `.`; such an id gets its `.` replaced and a
 * short hash of the real id appended, so two ids never share a node id.
 */
export function haNodeId(deviceId: string): string {
  return `facefleet_${idPart(deviceId)}`;
}

/**
 * The part of a camera's object ids (and unique ids) that names the camera: `camera_<id>`, with the
 * same rule as the node id for a camera id holding `.`. Every per-camera object id ends in `_faces`,
 * `_fps` or `_online`, none a suffix of another, so two cameras never share one.
 */
export function haCameraObjectId(camera: string): string {
  return `camera_${idPart(camera)}`;
}

/** An id as a topic level Home Assistant accepts, unique per id. */
function idPart(id: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(id)) return id;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `${id.replace(/[^A-Za-z0-9_-]/g, '_')}_${hash}`;
}

const CLASS_NAMES: Record<string, { manufacturer: string; model: string }> = {
  'jetson-nano': { manufacturer: 'NVIDIA', model: 'Jetson Nano' },
  'jetson-tx2': { manufacturer: 'NVIDIA', model: 'Jetson TX2' },
  'jetson-xavier-nx': { manufacturer: 'NVIDIA', model: 'Jetson Xavier NX' },
  'jetson-agx-xavier': { manufacturer: 'NVIDIA', model: 'Jetson AGX Xavier' },
  'jetson-orin-nano': { manufacturer: 'NVIDIA', model: 'Jetson Orin Nano' },
  'jetson-orin-nx': { manufacturer: 'NVIDIA', model: 'Jetson Orin NX' },
  'jetson-agx-orin': { manufacturer: 'NVIDIA', model: 'Jetson AGX Orin' },
  'generic-x86_64': { manufacturer: 'facefleet', model: 'Linux x86_64 (CPU runner)' },
  'generic-arm64': { manufacturer: 'facefleet', model: 'Linux arm64 (CPU runner)' },
};

/** The device's status mapped to Home Assistant's availability: only `offline` is unavailable. */
const AVAILABLE_TEMPLATE = "{{ 'offline' if value_json.state == 'offline' else 'online' }}";

interface Entity {
  component: 'sensor' | 'binary_sensor';
  object: string;
  config: Record<string, unknown>;
}

function deviceEntities(deviceId: string): Entity[] {
  const faces = topics.faces(deviceId);
  const metrics = topics.metrics(deviceId);
  const status = topics.status(deviceId);
  return [
    {
      component: 'sensor',
      object: 'faces',
      config: {
        name: 'Faces',
        icon: 'mdi:face-recognition',
        state_topic: faces,
        // Faces in the last frame of the newest window; the window's figures as attributes.
        value_template: '{{ value_json.last }}',
        json_attributes_topic: faces,
        json_attributes_template:
          '{{ {"max": value_json.max, "mean": value_json.mean, "frames": value_json.frames, "window_start": value_json.start, "window_end": value_json.end} | tojson }}',
        state_class: 'measurement',
      },
    },
    {
      component: 'sensor',
      object: 'fps',
      config: {
        name: 'FPS',
        icon: 'mdi:speedometer',
        state_topic: metrics,
        // End-to-end frames per second; none while the runner is not running.
        value_template: '{{ value_json.runner.fps if value_json.runner else none }}',
        unit_of_measurement: 'fps',
        state_class: 'measurement',
        suggested_display_precision: 1,
      },
    },
    {
      component: 'sensor',
      object: 'inference_fps',
      config: {
        name: 'Inference FPS',
        icon: 'mdi:chip',
        state_topic: metrics,
        value_template: '{{ value_json.runner.inferFps if value_json.runner else none }}',
        unit_of_measurement: 'fps',
        state_class: 'measurement',
        suggested_display_precision: 0,
        entity_category: 'diagnostic',
      },
    },
    {
      component: 'sensor',
      object: 'temperature',
      config: {
        name: 'Temperature',
        device_class: 'temperature',
        state_topic: metrics,
        // The hottest of the device's thermal zones (tegrastats: CPU, GPU, AO, …).
        value_template:
          '{{ value_json.device.tempsC.values() | max if value_json.device.tempsC else none }}',
        unit_of_measurement: '°C',
        state_class: 'measurement',
        entity_category: 'diagnostic',
      },
    },
    {
      component: 'binary_sensor',
      object: 'online',
      config: {
        name: 'Online',
        device_class: 'connectivity',
        state_topic: status,
        value_template: "{{ 'OFF' if value_json.state == 'offline' else 'ON' }}",
        payload_on: 'ON',
        payload_off: 'OFF',
        json_attributes_topic: status,
        json_attributes_template:
          '{{ {"state": value_json.state, "runner": value_json.runner.state, "reason": value_json.reason} | tojson }}',
        entity_category: 'diagnostic',
      },
    },
  ];
}

/** A Jinja string literal of a camera id (checked: letters, digits, `.`, `_`, `-` only). */
function cameraLiteral(camera: string): string {
  return `'${cameraIdSchema.parse(camera)}'`;
}

/** Whether the faces message is the camera's (no `camera` field: camera "0"). */
const ownWindow = (camera: string) =>
  `value_json.get('camera', ${cameraLiteral(DEFAULT_CAMERA_ID)}) == ${cameraLiteral(camera)}`;

/** The window's figures as attributes: where they are in a faces message. */
const WINDOW_ATTRIBUTES: [name: string, field: string][] = [
  ['max', 'max'],
  ['mean', 'mean'],
  ['frames', 'frames'],
  ['window_start', 'start'],
  ['window_end', 'end'],
];

/** `{% set m = … %}`: the camera's entry in a list of cameras (`m` empty when it is not there). */
const pick = (list: string, camera: string) =>
  `{% set m = (${list} or []) | selectattr('id', 'eq', ${cameraLiteral(camera)}) | list %}`;

function cameraEntities(deviceId: string, camera: string): Entity[] {
  const object = haCameraObjectId(camera);
  const faces = topics.faces(deviceId);
  const metrics = topics.metrics(deviceId);
  const status = topics.status(deviceId);
  const own = ownWindow(camera);
  const fresh = WINDOW_ATTRIBUTES.map(([n, f]) => `"${n}": value_json.${f}`).join(', ');
  const kept = WINDOW_ATTRIBUTES.map(([n]) => `"${n}": this.attributes.get("${n}")`).join(', ');
  const inMetrics = pick("(value_json.runner or {}).get('cameras')", camera);
  const inStatus = pick("value_json.get('cameras')", camera);
  return [
    {
      component: 'sensor',
      object: `${object}_faces`,
      config: {
        name: `Camera ${camera} faces`,
        icon: 'mdi:face-recognition',
        state_topic: faces,
        // Another camera's window renders '' and leaves the state as it is (see the top).
        value_template: `{{ value_json.last if ${own} else '' }}`,
        json_attributes_topic: faces,
        json_attributes_template: `{{ ({${fresh}} if ${own} else {${kept}}) | tojson }}`,
        state_class: 'measurement',
      },
    },
    {
      component: 'sensor',
      object: `${object}_fps`,
      config: {
        name: `Camera ${camera} FPS`,
        icon: 'mdi:speedometer',
        state_topic: metrics,
        // Frames of this camera processed per second; none while the runner is not running.
        value_template: `${inMetrics}{{ m[0].fps if m else none }}`,
        json_attributes_topic: metrics,
        json_attributes_template: `${inMetrics}{{ ({"source_fps": m[0].cameraFps, "frames": m[0].frames, "dropped": m[0].dropped, "skipped": m[0].skipped, "reconnects": m[0].reconnects} if m else {}) | tojson }}`,
        unit_of_measurement: 'fps',
        state_class: 'measurement',
        suggested_display_precision: 1,
      },
    },
    {
      component: 'binary_sensor',
      object: `${object}_online`,
      config: {
        name: `Camera ${camera} online`,
        device_class: 'connectivity',
        state_topic: status,
        // On while the camera delivers frames; reconnecting, offline or not listed is off.
        value_template: `${inStatus}{{ 'ON' if m and m[0].state == 'online' else 'OFF' }}`,
        payload_on: 'ON',
        payload_off: 'OFF',
        json_attributes_topic: status,
        json_attributes_template: `${inStatus}{{ ({"state": m[0].state, "reason": m[0].reason, "since": m[0].since} if m else {"state": none, "reason": none, "since": none}) | tojson }}`,
      },
    },
  ];
}

/**
 * The entities of a device with these cameras: the device's own (without Faces when it has
 * per-camera ones), then each camera's.
 */
function entities(deviceId: string, cameras: readonly string[]): Entity[] {
  if (!haPerCamera(cameras)) return deviceEntities(deviceId);
  return [
    ...deviceEntities(deviceId).filter((e) => e.object !== 'faces'),
    ...cameras.flatMap((camera) => cameraEntities(deviceId, camera)),
  ];
}

const topicOf = (prefix: string, node: string, e: Entity) =>
  `${prefix}/${e.component}/${node}/${e.object}/config`;

/**
 * Every topic a device's configs may be on, given cameras it has or had: the device's entities
 * (Faces included) and each of those cameras' (to clear them: an empty retained payload each).
 */
export function haDiscoveryTopics(
  prefix: string,
  deviceId: string,
  cameras: readonly string[] = [],
): string[] {
  const node = haNodeId(deviceId);
  return [
    ...deviceEntities(deviceId),
    ...cameras.flatMap((camera) => cameraEntities(deviceId, camera)),
  ].map((e) => topicOf(prefix, node, e));
}

/** The retained discovery configs of one device. */
export function haDiscoveryMessages(
  prefix: string,
  device: HaDevice,
  version: string,
): HaDiscoveryMessage[] {
  const node = haNodeId(device.id);
  const names = CLASS_NAMES[device.deviceClass] ?? {
    manufacturer: 'facefleet',
    model: device.deviceClass,
  };
  const status = topics.status(device.id);
  return entities(device.id, device.cameras ?? []).map((e) => ({
    topic: topicOf(prefix, node, e),
    payload: {
      ...e.config,
      unique_id: `${node}_${e.object}`,
      // The device's connectivity sensor stays available so that it can show the device offline.
      ...(e.object === 'online'
        ? {}
        : {
            availability: [
              {
                topic: status,
                value_template: AVAILABLE_TEMPLATE,
                payload_available: 'online',
                payload_not_available: 'offline',
              },
            ],
          }),
      device: {
        identifiers: [node],
        name: device.id,
        manufacturer: names.manufacturer,
        model: names.model,
      },
      origin: { name: ORIGIN_NAME, sw_version: version },
    },
  }));
}
