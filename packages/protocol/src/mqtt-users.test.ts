import { describe, expect, it } from 'vitest';
import { parseMqttUsername, subscriberUsername } from './mqtt-users.js';

describe('MQTT usernames', () => {
  it('tells devices, subscribers and the control plane apart', () => {
    expect(parseMqttUsername('cam-7')).toEqual({
      principal: { kind: 'device', deviceId: 'cam-7' },
    });
    expect(parseMqttUsername(subscriberUsername('node-red'))).toEqual({
      principal: { kind: 'subscriber' },
      name: 'node-red',
    });
    expect(parseMqttUsername('control-plane')).toEqual({ principal: { kind: 'control-plane' } });
  });
  it.each([
    undefined,
    '',
    'subscriber@',
    'subscriber@a/b',
    'cam/7',
    '+',
    '#',
    '$SYS',
    'a:b',
    'a@b',
  ])('refuses %j', (name) => {
    expect(parseMqttUsername(name)).toBeUndefined();
  });
});
