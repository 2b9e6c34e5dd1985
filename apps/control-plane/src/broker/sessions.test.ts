import { agentClientId } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import { createSessionRegistry } from './sessions.js';

const device = (deviceId: string) => ({ kind: 'device' as const, deviceId });
const registry = () => createSessionRegistry<{ id: string }>({ ratePerSec: 10, rateBurst: 10 });

describe('session registry', () => {
  it('counts open device sessions and finds them by username until they are gone', () => {
    const r = registry();
    const a = { id: 'a' };
    const sub = { id: 's' };
    r.admit(a, device('cam-a'), 'cam-a', r.epoch('cam-a'));
    r.admit(sub, { kind: 'subscriber' }, 'subscriber@ha', 0);
    expect(r.ready(a)).toBe(true);
    expect(r.ready(sub)).toBe(true);
    expect(r.connectedDevices).toBe(1);
    r.gone(a);
    expect(r.connectedDevices).toBe(0);
    expect(r.revoke('cam-a', true)).toEqual([]);
  });

  it('closes a login revoked between its check and its CONNACK, discarding its will if asked', () => {
    const r = registry();
    const late = { id: 'late' };
    const kept = { id: 'kept' };
    const epoch = r.epoch('cam-a');
    const session = r.admit(late, device('cam-a'), 'cam-a', epoch);
    r.admit(kept, device('cam-b'), 'cam-b', r.epoch('cam-b'));
    expect(r.revoke('cam-a', true)).toEqual([]); // not open yet
    expect(r.ready(late)).toBe(false);
    expect(session.revoked).toBe(true);
    expect(r.ready(kept)).toBe(true);
    // a token rotation (no discard) leaves the will
    const rotated = { id: 'rotated' };
    const s2 = r.admit(rotated, device('cam-b'), 'cam-b', r.epoch('cam-b'));
    r.revoke('cam-b', false);
    expect(r.ready(rotated)).toBe(false);
    expect(s2.revoked).toBe(false);
  });

  it('returns the open sessions of a revoked login and marks them revoked', () => {
    const r = registry();
    const one = { id: '1' };
    const two = { id: '2' };
    const s1 = r.admit(one, device('cam-a'), 'cam-a', 0);
    r.admit(two, device('cam-a'), 'cam-a', 0);
    r.ready(one);
    r.ready(two);
    expect(r.revoke('cam-a', true)).toEqual([one, two]);
    expect(s1.revoked).toBe(true);
    expect(r.epoch('cam-a')).toBe(1);
  });

  it("refuses a client id held by another login and another device's agent id", () => {
    const r = registry();
    const held = { id: 'shared' };
    r.admit(held, device('cam-b'), 'cam-b', 0);
    r.ready(held);
    expect(r.clientIdRefusal('shared', 'cam-a')).toBe('client id in use by another login');
    expect(r.clientIdRefusal('shared', 'cam-b')).toBeUndefined();
    expect(r.clientIdRefusal(agentClientId('cam-b'), 'cam-a')).toBe(
      "another device's agent client id",
    );
    expect(r.clientIdRefusal(agentClientId('cam-a'), 'cam-a')).toBeUndefined();
    r.gone(held);
    expect(r.clientIdRefusal('shared', 'cam-a')).toBeUndefined();
  });
});
