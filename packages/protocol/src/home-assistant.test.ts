import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { examples } from './examples.js';
import {
  HA_DEFAULT_PREFIX,
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

/** Renders Jinja templates with `value_json` bound, in Jinja2's immutable sandbox. */
function render(cases: { template: string; value: unknown }[]): string[] {
  const script = `
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment()
out = []
for c in json.load(sys.stdin):
    out.append(str(env.from_string(c["template"]).render(value_json=c["value"])))
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`jinja2 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

const byObject = (object: string) => {
  const m = messages.find((x) => x.topic.split('/')[3] === object);
  if (!m) throw new Error(`no ${object} config`);
  return m.payload as Record<string, string> & { availability?: Record<string, string>[] };
};
/** A template option of one entity's config. */
const tpl = (object: string, key: string): string => {
  const value = byObject(object)[key];
  if (typeof value !== 'string') throw new Error(`no ${key} in the ${object} config`);
  return value;
};

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
    const uniqueIds = new Set<string>();
    for (const { topic, payload } of messages) {
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
    expect(uniqueIds.size).toBe(messages.length);
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
