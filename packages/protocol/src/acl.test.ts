import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe, type Principal } from './acl.js';

const cam7: Principal = { kind: 'device', deviceId: 'cam-7' };
const subscriber: Principal = { kind: 'subscriber' };
const controlPlane: Principal = { kind: 'control-plane' };
const root = 'facefleet/v1';

describe('publish ACL', () => {
  it.each(['status', 'faces', 'metrics', 'reported'])('a device publishes its own %s', (kind) => {
    expect(mayPublish(cam7, `${root}/devices/cam-7/${kind}`)).toBe(true);
  });
  it('a device may not write its own desired state', () => {
    expect(mayPublish(cam7, `${root}/devices/cam-7/desired`)).toBe(false);
  });
  it.each(['status', 'faces', 'metrics', 'reported', 'desired'])(
    'a device may not publish as another device (%s)',
    (kind) => {
      expect(mayPublish(cam7, `${root}/devices/cam-8/${kind}`)).toBe(false);
    },
  );
  it.each([
    `${root}/alerts/r/cam-7`,
    `${root}/devices/+/faces`,
    `${root}/devices/cam-7/#`,
    '$SYS/x',
    'other/topic',
    `${root}/devices/cam-7/faces/x`,
  ])('a device may not publish to %s', (topic) => {
    expect(mayPublish(cam7, topic)).toBe(false);
  });
  it('a device principal with a bad id gets nothing', () => {
    expect(mayPublish({ kind: 'device', deviceId: '+' }, `${root}/devices/+/faces`)).toBe(false);
    expect(maySubscribe({ kind: 'device', deviceId: '#' }, `${root}/devices/#`)).toBe(false);
  });
  it("subscribers publish nothing but Home Assistant's birth message", () => {
    for (const t of [
      `${root}/devices/cam-7/faces`,
      `${root}/alerts/r/cam-7`,
      `${root}/devices/cam-7/desired`,
      'homeassistant/sensor/facefleet_cam-7/faces/config',
      'homeassistant/status/x',
    ]) {
      expect(mayPublish(subscriber, t)).toBe(false);
    }
    expect(mayPublish(subscriber, 'homeassistant/status')).toBe(true);
    expect(mayPublish(subscriber, 'ha/status', { haPrefix: 'ha' })).toBe(true);
    expect(mayPublish(subscriber, 'homeassistant/status', { haPrefix: 'ha' })).toBe(false);
    expect(mayPublish(subscriber, 'homeassistant/status', { haPrefix: null })).toBe(false);
  });
  it('a device publishes nothing below the discovery prefix', () => {
    expect(mayPublish(cam7, 'homeassistant/status')).toBe(false);
    expect(mayPublish(cam7, 'homeassistant/sensor/facefleet_cam-7/faces/config')).toBe(false);
  });
  it('a prefix that overlaps facefleet topics is ignored, never widened', () => {
    expect(mayPublish(subscriber, `facefleet/status`, { haPrefix: 'facefleet' })).toBe(false);
    expect(maySubscribe(subscriber, `${root}/#`, { haPrefix: 'facefleet' })).toBe(false);
    expect(maySubscribe(subscriber, `${root}/#`, { haPrefix: root })).toBe(false);
  });
  it('the control plane publishes desired state and alerts only', () => {
    expect(mayPublish(controlPlane, `${root}/devices/cam-7/desired`)).toBe(true);
    expect(mayPublish(controlPlane, `${root}/alerts/r/cam-7`)).toBe(true);
    expect(mayPublish(controlPlane, `${root}/devices/cam-7/faces`)).toBe(false);
    expect(mayPublish(controlPlane, `${root}/devices/cam-7/status`)).toBe(false);
  });
  it('the control plane publishes discovery configs below the prefix, unless discovery is off', () => {
    const config = 'homeassistant/sensor/facefleet_cam-7/faces/config';
    expect(mayPublish(controlPlane, config)).toBe(true);
    expect(mayPublish(controlPlane, config, { haPrefix: null })).toBe(false);
    expect(mayPublish(controlPlane, 'ha/binary_sensor/n/online/config', { haPrefix: 'ha' })).toBe(
      true,
    );
  });
});

describe('subscribe ACL', () => {
  it('a device reads only its own desired state', () => {
    expect(maySubscribe(cam7, `${root}/devices/cam-7/desired`)).toBe(true);
    expect(maySubscribe(cam7, `${root}/devices/cam-8/desired`)).toBe(false);
    expect(maySubscribe(cam7, `${root}/devices/+/desired`)).toBe(false);
    expect(maySubscribe(cam7, `${root}/devices/cam-7/#`)).toBe(false);
    expect(maySubscribe(cam7, `${root}/devices/cam-7/faces`)).toBe(false);
    expect(maySubscribe(cam7, `${root}/alerts/#`)).toBe(false);
    expect(maySubscribe(cam7, '#')).toBe(false);
  });
  it('read-only subscribers read alerts, face counts, status, metrics and discovery', () => {
    expect(maySubscribe(subscriber, `${root}/devices/+/status`)).toBe(true);
    expect(maySubscribe(subscriber, `${root}/devices/cam-7/metrics`)).toBe(true);
    expect(maySubscribe(subscriber, 'homeassistant/#')).toBe(true);
    expect(maySubscribe(subscriber, 'homeassistant/#', { haPrefix: null })).toBe(false);
    expect(maySubscribe(subscriber, 'ha/#', { haPrefix: 'ha' })).toBe(true);
    expect(maySubscribe(subscriber, `${root}/alerts/#`)).toBe(true);
    expect(maySubscribe(subscriber, `${root}/alerts/lobby/+`)).toBe(true);
    expect(maySubscribe(subscriber, `${root}/alerts/lobby/cam-7`)).toBe(true);
    expect(maySubscribe(subscriber, `${root}/devices/+/faces`)).toBe(true);
    expect(maySubscribe(subscriber, `${root}/devices/cam-7/faces`)).toBe(true);
  });
  it.each([
    `${root}/devices/+/reported`,
    `${root}/devices/+/+`,
    `${root}/devices/#`,
    `${root}/devices/cam-7/desired`,
    `${root}/#`,
    '#',
    '+/#',
    '$SYS/#',
    `${root}/alerts/#/x`,
  ])('read-only subscribers may not read %s', (filter) => {
    expect(maySubscribe(subscriber, filter)).toBe(false);
  });
  it('the control plane reads the whole contract but not $SYS or other roots', () => {
    expect(maySubscribe(controlPlane, `${root}/#`)).toBe(true);
    expect(maySubscribe(controlPlane, `${root}/devices/+/faces`)).toBe(true);
    expect(maySubscribe(controlPlane, '$SYS/#')).toBe(false);
    expect(maySubscribe(controlPlane, '#')).toBe(false);
    expect(maySubscribe(controlPlane, 'other/#')).toBe(false);
    expect(maySubscribe(controlPlane, 'homeassistant/status')).toBe(true);
    expect(maySubscribe(controlPlane, 'homeassistant/#')).toBe(false);
  });
});
