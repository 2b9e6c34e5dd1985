import { describe, expect, it } from 'vitest';
import {
  agentClientId,
  mayUseClientId,
  parseMqttUsername,
  subscriberUsername,
} from './mqtt-users.js';

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

describe('agent client ids', () => {
  it('belong to their own device only', () => {
    expect(agentClientId('cam-7')).toBe('facefleet-agent-cam-7');
    expect(mayUseClientId('cam-7', agentClientId('cam-7'))).toBe(true);
    expect(mayUseClientId('cam-8', agentClientId('cam-7'))).toBe(false);
    expect(mayUseClientId('cam-7', 'facefleet-agent-')).toBe(false);
    expect(mayUseClientId(subscriberUsername('n'), agentClientId('cam-7'))).toBe(false);
    expect(mayUseClientId(undefined, agentClientId('cam-7'))).toBe(false);
    // any other client id is up to the broker's session rules
    expect(mayUseClientId('cam-8', 'cam-7-watcher')).toBe(true);
    expect(mayUseClientId('cam-8', 'facefleet-cli-1a2b')).toBe(true);
  });
});
