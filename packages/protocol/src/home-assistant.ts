import { createHash } from 'node:crypto';
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
  if (/^[A-Za-z0-9_-]+$/.test(deviceId)) return `facefleet_${deviceId}`;
  const hash = createHash('sha256').update(deviceId).digest('hex').slice(0, 8);
  return `facefleet_${deviceId.replace(/[^A-Za-z0-9_-]/g, '_')}_${hash}`;
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

function entities(deviceId: string): Entity[] {
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

/** The topics of a device's discovery configs (to clear them: an empty retained payload each). */
export function haDiscoveryTopics(prefix: string, deviceId: string): string[] {
  const node = haNodeId(deviceId);
  return entities(deviceId).map((e) => `${prefix}/${e.component}/${node}/${e.object}/config`);
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
  return entities(device.id).map((e) => ({
    topic: `${prefix}/${e.component}/${node}/${e.object}/config`,
    payload: {
      ...e.config,
      unique_id: `${node}_${e.object}`,
      // The connectivity sensor stays available so that it can show the device offline.
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
