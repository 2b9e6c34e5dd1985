import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { examples } from './examples.js';
import {
  HA_DEFAULT_PREFIX,
  haCameraObjectId,
  haDiscoveryMessages,
  haDiscoveryTopics,
  haNodeId,
  haPrefixProblem,
} from './home-assistant.js';
import { assertTopicName, parseTopic } from './topics.js';

/**
 * The discovery payloads against what Home Assistant's MQTT documentation requires
 * (home-assistant.io/integrations/mqtt, sensor.mqtt, binary_sensor.mqtt): the topic layout, the
 * required options of each component, the device and origin blocks, only options the components
 * know (Home Assistant refuses a config with unknown keys), and templates rendered by Jinja2 in
 * a sandbox as Home Assistant renders them, on the protocol's example messages.
 */

const cam = { id: 'cam-7', deviceClass: 'jetson-xavier-nx' };

/** An entity's state object as `this` gives it to MQTT templates (state and attributes). */
interface HaState {
  state: string;
  attributes: Record<string, unknown>;
}
const messages = haDiscoveryMessages(HA_DEFAULT_PREFIX, cam, '1.2.3');

/** Options each component accepts (the subset the docs list that facefleet may use). */
const COMMON = [
  'name',
  'icon',
  'state_topic',
  'value_template',
  'json_attributes_topic',
  'json_attributes_template',
  'device_class',
  'entity_category',
  'unique_id',
  'availability',
  'device',
  'origin',
  'qos',
  'expire_after',
];
const KNOWN: Record<string, string[]> = {
  sensor: [...COMMON, 'state_class', 'unit_of_measurement', 'suggested_display_precision'],
  binary_sensor: [...COMMON, 'payload_on', 'payload_off'],
};
const DEVICE_CLASSES: Record<string, string[]> = {
  sensor: ['temperature'],
  binary_sensor: ['connectivity'],
};

/**
 * Renders Jinja templates with `value_json` bound (and `this`, the entity's current state object,
 * where a case gives one), in Jinja2's immutable sandbox.
 */
function render(cases: { template: string; value: unknown; this?: HaState }[]): string[] {
  const script = `
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment()
out = []
for c in json.load(sys.stdin):
    out.append(str(env.from_string(c["template"]).render(value_json=c["value"], this=c.get("this"))))
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`jinja2 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

const byObject = (object: string, list = messages) => {
  const m = list.find((x) => x.topic.split('/')[3] === object);
  if (!m) throw new Error(`no ${object} config`);
  return m.payload as Record<string, string> & { availability?: Record<string, string>[] };
};
/** A template option of one entity's config. */
const tpl = (object: string, key: string, list = messages): string => {
  const value = byObject(object, list)[key];
  if (typeof value !== 'string') throw new Error(`no ${key} in the ${object} config`);
  return value;
};

/**
 * What every config of cam-7 must hold: the required options of its component and only options it
 * knows, topics of cam-7 only, a unique id of its own, the device and origin blocks.
 */
function expectValidConfigs(list: typeof messages): void {
  const uniqueIds = new Set<string>();
  for (const { topic, payload } of list) {
    const component = topic.split('/')[1]!;
    for (const key of Object.keys(payload)) expect(KNOWN[component]).toContain(key);
    // state_topic is required for both components; every *_topic is a topic the device sends.
    expect(typeof payload.state_topic).toBe('string');
    for (const [key, value] of Object.entries(payload)) {
      if (!key.endsWith('_topic')) continue;
      assertTopicName(value as string);
      expect(parseTopic(value as string).deviceId).toBe('cam-7');
    }
    expect(typeof payload.name).toBe('string');
    expect(payload.unique_id).toMatch(/^[A-Za-z0-9_-]+$/);
    // The object id of the topic is the unique id's end (Home Assistant: [A-Za-z0-9_-]).
    expect(payload.unique_id).toBe(`facefleet_cam-7_${topic.split('/')[3]}`);
    uniqueIds.add(payload.unique_id as string);
    if (payload.device_class !== undefined) {
      expect(DEVICE_CLASSES[component]).toContain(payload.device_class);
    }
    if (payload.state_class !== undefined) expect(payload.state_class).toBe('measurement');
    if (payload.entity_category !== undefined) expect(payload.entity_category).toBe('diagnostic');
    // A device block needs identifiers (or connections); an origin block needs a name.
    const device = payload.device as Record<string, unknown>;
    expect(device.identifiers).toEqual(['facefleet_cam-7']);
    expect(device).toMatchObject({
      name: 'cam-7',
      manufacturer: 'NVIDIA',
      model: 'Jetson Xavier NX',
    });
    expect(payload.origin).toEqual({ name: 'facefleet', sw_version: '1.2.3' });
    const availability = payload.availability as Record<string, string>[] | undefined;
    for (const a of availability ?? []) {
      expect(a.topic).toBe('facefleet/v1/devices/cam-7/status');
    }
  }
  expect(uniqueIds.size).toBe(list.length);
}

describe('Home Assistant discovery payloads', () => {
  it('are published under <prefix>/<component>/<node_id>/<object_id>/config', () => {
    expect(messages.map((m) => m.topic)).toEqual([
      'homeassistant/sensor/facefleet_cam-7/faces/config',
      'homeassistant/sensor/facefleet_cam-7/fps/config',
      'homeassistant/sensor/facefleet_cam-7/inference_fps/config',
      'homeassistant/sensor/facefleet_cam-7/temperature/config',
      'homeassistant/binary_sensor/facefleet_cam-7/online/config',
    ]);
    for (const m of messages) {
      expect(m.topic).toMatch(
        /^homeassistant\/(sensor|binary_sensor)\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+\/config$/,
      );
    }
    expect(haDiscoveryTopics(HA_DEFAULT_PREFIX, 'cam-7')).toEqual(messages.map((m) => m.topic));
  });

  it('hold the required options, known options only, and read only the device’s own topics', () => {
    expectValidConfigs(messages);
    // Every sensor follows the device's status; the connectivity sensor itself stays available.
    expect(byObject('online').availability).toBeUndefined();
    expect(byObject('faces').availability).toHaveLength(1);
  });

  it('render, with Jinja2, the values Home Assistant shows from the example messages', () => {
    const offline = { ...examples.status, state: 'offline' };
    const degraded = { ...examples.status, state: 'degraded' };
    const idle = {
      ...examples.metrics,
      runner: null,
      device: { ...examples.metrics.device, tempsC: {} },
    };
    const availability = byObject('fps').availability![0]!;
    const rendered = render([
      { template: tpl('faces', 'value_template'), value: examples.faces },
      { template: tpl('faces', 'json_attributes_template'), value: examples.faces },
      { template: tpl('fps', 'value_template'), value: examples.metrics },
      { template: tpl('inference_fps', 'value_template'), value: examples.metrics },
      { template: tpl('temperature', 'value_template'), value: examples.metrics },
      { template: tpl('fps', 'value_template'), value: idle },
      { template: tpl('temperature', 'value_template'), value: idle },
      { template: tpl('online', 'value_template'), value: examples.status },
      { template: tpl('online', 'value_template'), value: offline },
      { template: tpl('online', 'value_template'), value: degraded },
      { template: tpl('online', 'json_attributes_template'), value: degraded },
      { template: availability.value_template ?? '', value: examples.status },
      { template: availability.value_template ?? '', value: offline },
      { template: availability.value_template ?? '', value: degraded },
    ]);
    expect(rendered.slice(0, 1)).toEqual([String(examples.faces.last)]);
    expect(JSON.parse(rendered[1]!)).toEqual({
      max: examples.faces.max,
      mean: examples.faces.mean,
      frames: examples.faces.frames,
      window_start: examples.faces.start,
      window_end: examples.faces.end,
    });
    expect(rendered.slice(2, 5)).toEqual(['29.9', '310.4', '47.5']);
    // A template that renders None leaves the state unknown.
    expect(rendered.slice(5, 7)).toEqual(['None', 'None']);
    expect(rendered.slice(7, 10)).toEqual(['ON', 'OFF', 'ON']);
    expect(JSON.parse(rendered[10]!)).toEqual({
      state: 'degraded',
      runner: 'running',
      reason: null,
    });
    expect(rendered.slice(11)).toEqual([
      availability.payload_available,
      availability.payload_not_available,
      availability.payload_available,
    ]);
  });

  it('give every device id a node id of its own', () => {
    expect(haNodeId('cam-7')).toBe('facefleet_cam-7');
    const dotted = haNodeId('lobby.cam');
    expect(dotted).toMatch(/^facefleet_lobby_cam_[0-9a-f]{8}$/);
    expect(haNodeId('lobby_cam')).not.toBe(dotted);
    expect(haNodeId('lobby.cam')).toBe(dotted);
  });

  it('take a prefix of topic levels that stays clear of facefleet’s topics', () => {
    expect(haPrefixProblem('homeassistant')).toBeNull();
    expect(haPrefixProblem('site-a/ha')).toBeNull();
    expect(haPrefixProblem('')).toMatch(/topic levels/);
    expect(haPrefixProblem('ha/#')).toMatch(/topic levels/);
    expect(haPrefixProblem('$SYS')).toMatch(/topic levels/);
    expect(haPrefixProblem('ha//x')).toMatch(/topic levels/);
    expect(haPrefixProblem('facefleet')).toMatch(/facefleet/);
    expect(haPrefixProblem('facefleet/v1')).toMatch(/facefleet/);
  });

  it('fall back to the class name for a class Home Assistant has no model name for', () => {
    const [first] = haDiscoveryMessages('ha', { id: 'x1', deviceClass: 'generic-x86_64' }, '0');
    expect(first?.topic).toBe('ha/sensor/facefleet_x1/faces/config');
    expect(first?.payload.device).toMatchObject({ manufacturer: 'facefleet' });
  });
});

describe('Home Assistant discovery payloads of a device with several cameras', () => {
  const cameras = ['0', 'lobby', 'yard.2'];
  const multi = haDiscoveryMessages(HA_DEFAULT_PREFIX, { ...cam, cameras }, '1.2.3');
  const yard = haCameraObjectId('yard.2');
  const t = (camera: string, kind: string, key: string) =>
    tpl(`${haCameraObjectId(camera)}_${kind}`, key, multi);

  it('give each camera faces, FPS and online entities under the device, and no device-level Faces', () => {
    const objects = multi.map((m) => m.topic.split('/').slice(1, 4).join('/'));
    expect(objects).toEqual([
      'sensor/facefleet_cam-7/fps',
      'sensor/facefleet_cam-7/inference_fps',
      'sensor/facefleet_cam-7/temperature',
      'binary_sensor/facefleet_cam-7/online',
      'sensor/facefleet_cam-7/camera_0_faces',
      'sensor/facefleet_cam-7/camera_0_fps',
      'binary_sensor/facefleet_cam-7/camera_0_online',
      'sensor/facefleet_cam-7/camera_lobby_faces',
      'sensor/facefleet_cam-7/camera_lobby_fps',
      'binary_sensor/facefleet_cam-7/camera_lobby_online',
      `sensor/facefleet_cam-7/${yard}_faces`,
      `sensor/facefleet_cam-7/${yard}_fps`,
      `binary_sensor/facefleet_cam-7/${yard}_online`,
    ]);
    expectValidConfigs(multi);
    // A camera id with '.' gets a hash of its own: `yard_2` is another camera.
    expect(yard).toMatch(/^camera_yard_2_[0-9a-f]{8}$/);
    expect(haCameraObjectId('yard_2')).toBe('camera_yard_2');
    // Every per-camera entity follows the device's status, like the device's sensors.
    for (const camera of cameras) {
      for (const kind of ['faces', 'fps', 'online']) {
        const config = byObject(`${haCameraObjectId(camera)}_${kind}`, multi);
        expect(config.availability).toEqual(byObject('fps').availability);
        expect(config.name).toContain(`Camera ${camera} `);
      }
    }
    // Clearing covers every config a device with these cameras may have had, device Faces too.
    const all = haDiscoveryTopics(HA_DEFAULT_PREFIX, 'cam-7', cameras);
    expect(all).toEqual(expect.arrayContaining(multi.map((m) => m.topic)));
    expect(all).toContain('homeassistant/sensor/facefleet_cam-7/faces/config');
    expect(all).toHaveLength(5 + 3 * cameras.length);
  });

  it('keep the device entities alone, Faces included, on a device with one camera', () => {
    const one = haDiscoveryMessages(HA_DEFAULT_PREFIX, { ...cam, cameras: ['door'] }, '1.2.3');
    expect(one).toEqual(messages);
  });

  it('render per-camera faces from that camera’s windows only, keeping state and attributes otherwise', () => {
    // Home Assistant's rule for a numeric sensor (sensor.mqtt, state_topic): an empty render is
    // ignored and keeps the state; `this` is the entity's current state object.
    const lobbyWindow = examples.facesCamera;
    const yardWindow = {
      ...examples.facesCamera,
      camera: 'yard.2',
      seq: 1044,
      last: 3,
      max: 3,
      min: 3,
      mean: 3,
    };
    // examples.faces carries no camera: what a camera-less (older or one-camera) agent sends.
    const cameraless = examples.faces;
    const kept: HaState = {
      state: '0',
      attributes: {
        max: 1,
        mean: 0.2,
        frames: 25,
        window_start: lobbyWindow.start,
        window_end: lobbyWindow.end,
        friendly_name: 'cam-7 Camera lobby faces',
        state_class: 'measurement',
      },
    };
    const rendered = render([
      { template: t('lobby', 'faces', 'value_template'), value: lobbyWindow },
      { template: t('lobby', 'faces', 'value_template'), value: yardWindow },
      { template: t('lobby', 'faces', 'value_template'), value: cameraless },
      { template: t('0', 'faces', 'value_template'), value: cameraless },
      { template: t('0', 'faces', 'value_template'), value: lobbyWindow },
      { template: t('yard.2', 'faces', 'value_template'), value: yardWindow },
      { template: t('lobby', 'faces', 'json_attributes_template'), value: lobbyWindow, this: kept },
      { template: t('lobby', 'faces', 'json_attributes_template'), value: yardWindow, this: kept },
      { template: t('lobby', 'faces', 'json_attributes_template'), value: cameraless, this: kept },
      {
        template: t('lobby', 'faces', 'json_attributes_template'),
        value: yardWindow,
        this: { state: 'unknown', attributes: { friendly_name: 'x' } },
      },
    ]);
    expect(rendered.slice(0, 6)).toEqual(['0', '', '', '2', '', '3']);
    const window = {
      max: 1,
      mean: 0.2,
      frames: 25,
      window_start: lobbyWindow.start,
      window_end: lobbyWindow.end,
    };
    expect(JSON.parse(rendered[6]!)).toEqual(window);
    // Another camera's window, or a camera-less one: the attributes the entity has, unchanged.
    expect(JSON.parse(rendered[7]!)).toEqual(window);
    expect(JSON.parse(rendered[8]!)).toEqual(window);
    // Before the camera's first window there is nothing to keep.
    expect(JSON.parse(rendered[9]!)).toEqual({
      max: null,
      mean: null,
      frames: null,
      window_start: null,
      window_end: null,
    });

    // The windows of a multi-camera device in turn, applied as Home Assistant applies them.
    const sequence = [cameraless, lobbyWindow, yardWindow, cameraless, yardWindow];
    const out = render(
      cameras.flatMap((camera) =>
        sequence.map((value) => ({ template: t(camera, 'faces', 'value_template'), value })),
      ),
    );
    const states = cameras.map((_, i) => {
      let state = 'unknown';
      return out.slice(i * sequence.length, (i + 1) * sequence.length).map((r) => {
        if (r !== '') state = r;
        return state;
      });
    });
    expect(states).toEqual([
      ['2', '2', '2', '2', '2'],
      ['unknown', '0', '0', '0', '0'],
      ['unknown', 'unknown', '3', '3', '3'],
    ]);
  });

  it('render per-camera FPS from the metrics’ camera list and online from the status’ camera list', () => {
    const idle = { ...examples.metrics, runner: null };
    const { cameras: _c, ...olderRunner } = examples.metrics.runner;
    const older = { ...examples.metrics, runner: olderRunner };
    const withYard2 = {
      ...examples.metrics,
      runner: {
        ...examples.metrics.runner,
        cameras: examples.metrics.runner.cameras.map((c) =>
          c.id === 'yard' ? { ...c, id: 'yard.2' } : c,
        ),
      },
    };
    const statusYard2 = {
      ...examples.status,
      cameras: examples.status.cameras.map((c) => (c.id === 'yard' ? { ...c, id: 'yard.2' } : c)),
    };
    const will = {
      ...examples.status,
      state: 'offline',
      cameras: examples.status.cameras.map((c) => ({
        ...c,
        state: 'offline',
        reason: 'device offline',
      })),
    };
    const { cameras: _s, ...olderStatus } = examples.status;
    const rendered = render([
      { template: t('lobby', 'fps', 'value_template'), value: examples.metrics },
      { template: t('0', 'fps', 'value_template'), value: examples.metrics },
      { template: t('yard.2', 'fps', 'value_template'), value: withYard2 },
      { template: t('lobby', 'fps', 'value_template'), value: idle },
      { template: t('lobby', 'fps', 'value_template'), value: older },
      { template: t('lobby', 'online', 'value_template'), value: examples.status },
      { template: t('yard.2', 'online', 'value_template'), value: statusYard2 },
      { template: t('lobby', 'online', 'value_template'), value: will },
      { template: t('lobby', 'online', 'value_template'), value: olderStatus },
      { template: t('lobby', 'fps', 'json_attributes_template'), value: examples.metrics },
      { template: t('lobby', 'fps', 'json_attributes_template'), value: idle },
      { template: t('yard.2', 'online', 'json_attributes_template'), value: statusYard2 },
      { template: t('lobby', 'online', 'json_attributes_template'), value: olderStatus },
    ]);
    // Each camera its own figure; unknown (None) while the runner is not running or lists no cameras.
    expect(rendered.slice(0, 5)).toEqual(['9.9', '10', '10', 'None', 'None']);
    // Online only while the camera is; reconnecting, the will and an unlisted camera are off.
    expect(rendered.slice(5, 9)).toEqual(['ON', 'OFF', 'OFF', 'OFF']);
    expect(JSON.parse(rendered[9]!)).toEqual({
      source_fps: 25,
      frames: 99,
      dropped: 0,
      skipped: 151,
      reconnects: 0,
    });
    expect(JSON.parse(rendered[10]!)).toEqual({});
    expect(JSON.parse(rendered[11]!)).toEqual({
      state: 'reconnecting',
      reason: 'rtsp://10.0.4.12/stream1: no frame for 5 s',
      since: examples.status.cameras[2]!.since,
    });
    expect(JSON.parse(rendered[12]!)).toEqual({ state: null, reason: null, since: null });
  });

  it('refuse a camera id that could not be a template literal', () => {
    expect(() =>
      haDiscoveryMessages(HA_DEFAULT_PREFIX, { ...cam, cameras: ['0', 'a"b'] }, '1'),
    ).toThrow(/camera id/);
  });
});
