import type { CameraState, LastFaces } from '@facefleet/protocol';
import { describe, expect, it } from 'vitest';
import {
  type DeviceFacts,
  describe as describeAlert,
  evaluate,
  idleTracker,
  perCamera,
  type RuleSpec,
  readCondition,
  type Tracker,
} from './rules.js';

/** A face window whose busiest frame had `max` faces. */
const window = (max: number) => ({ ts: 0, last: max, max, mean: max, frames: 10 });

/** Device facts; `lastFaces` and `state` are camera "0"'s (the camera the per-camera rules read here). */
type TestFacts = Partial<DeviceFacts> & {
  lastFaces?: LastFaces | null;
  state?: CameraState | null;
};
const facts = ({ lastFaces = null, state = null, ...over }: TestFacts = {}): DeviceFacts => ({
  lastSeen: 0,
  deviceState: 'online',
  cameras: new Map([['0', { lastFaces, state, reason: null }]]),
  inferFps: null,
  referenceFps: null,
  tempMaxC: null,
  updateState: null,
  ...over,
});

/** Runs a rule over a timeline of (time, facts) and returns the transitions with their times. */
function run(rule: RuleSpec, timeline: [number, TestFacts][]): [number, string][] {
  let tracker: Tracker = idleTracker;
  const out: [number, string][] = [];
  for (const [t, f] of timeline) {
    const camera = perCamera(rule.kind) ? '0' : undefined;
    const next = evaluate(rule, tracker, readCondition(rule, facts(f), t, camera), t);
    tracker = next.tracker;
    if (next.transition) out.push([t, next.transition]);
  }
  return out;
}

describe('faces_above', () => {
  const rule: RuleSpec = { id: 'crowd', kind: 'faces_above', threshold: 5, forS: 3 };
  it('fires only after the count held ≥ N for T seconds, and resolves when it drops', () => {
    expect(
      run(rule, [
        [0, { lastFaces: window(6) }],
        [2000, { lastFaces: window(7) }],
        [3000, { lastFaces: window(5) }],
        [4000, { lastFaces: window(9) }],
        [5000, { lastFaces: window(2) }],
      ]),
    ).toEqual([
      [3000, 'firing'],
      [5000, 'resolved'],
    ]);
  });
  it('starts the hold again after a dip', () => {
    expect(
      run(rule, [
        [0, { lastFaces: window(6) }],
        [2000, { lastFaces: window(1) }],
        [3000, { lastFaces: window(6) }],
        [5000, { lastFaces: window(6) }],
        [6000, { lastFaces: window(6) }],
      ]),
    ).toEqual([[6000, 'firing']]);
  });
});

describe('no_faces', () => {
  it('fires after T seconds of empty windows', () => {
    const rule: RuleSpec = { id: 'empty', kind: 'no_faces', threshold: 0, forS: 10 };
    expect(
      run(rule, [
        [0, { lastFaces: window(0) }],
        [9000, { lastFaces: window(0) }],
        [10_000, { lastFaces: window(0) }],
        [11_000, { lastFaces: window(1) }],
      ]),
    ).toEqual([
      [10_000, 'firing'],
      [11_000, 'resolved'],
    ]);
  });
});

describe('device_offline', () => {
  const rule: RuleSpec = { id: 'gone', kind: 'device_offline', threshold: 30, forS: 0 };
  it('fires when nothing was heard for more than T seconds and resolves when the device speaks', () => {
    expect(
      run(rule, [
        [10_000, { lastSeen: 0 }],
        [30_000, { lastSeen: 0 }],
        [30_001, { lastSeen: 0 }],
        [40_000, { lastSeen: 39_000 }],
      ]),
    ).toEqual([
      [30_001, 'firing'],
      [40_000, 'resolved'],
    ]);
  });
  it('says nothing of a device never heard from', () => {
    expect(run(rule, [[1e9, { lastSeen: null }]])).toEqual([]);
  });
});

describe('fps_below', () => {
  const rule: RuleSpec = { id: 'slow', kind: 'fps_below', threshold: 0.5, forS: 0 };
  it("compares inference FPS with the model card's figure", () => {
    const reading = readCondition(rule, facts({ inferFps: 120, referenceFps: 329 }), 0);
    expect(reading.holds).toBe(true);
    expect(reading.value).toBeCloseTo(0.365, 3);
    expect(readCondition(rule, facts({ inferFps: 310, referenceFps: 329 }), 0).holds).toBe(false);
  });
  it('has no opinion without a reference (a class the card does not list)', () => {
    expect(readCondition(rule, facts({ inferFps: 1, referenceFps: null }), 0).holds).toBeNull();
  });
  it('keeps a firing alert firing while nothing new is known', () => {
    const firing = { since: 0, firing: true };
    expect(evaluate(rule, firing, { holds: null, value: null }, 5)).toEqual({
      tracker: firing,
      transition: null,
    });
  });
});

describe('temp_above and engine_rolled_back', () => {
  it('fires on a hot sensor held for T seconds', () => {
    const rule: RuleSpec = { id: 'hot', kind: 'temp_above', threshold: 80, forS: 5 };
    expect(
      run(rule, [
        [0, { tempMaxC: 85 }],
        [5000, { tempMaxC: 86 }],
        [6000, { tempMaxC: 70 }],
      ]),
    ).toEqual([
      [5000, 'firing'],
      [6000, 'resolved'],
    ]);
  });
  it('fires at once on a rollback and resolves on the next applied update', () => {
    const rule: RuleSpec = { id: 'rb', kind: 'engine_rolled_back', threshold: 0, forS: 0 };
    expect(
      run(rule, [
        [0, { updateState: 'rolled_back' }],
        [1, { updateState: 'rolled_back' }],
        [2, { updateState: 'applied' }],
      ]),
    ).toEqual([
      [0, 'firing'],
      [2, 'resolved'],
    ]);
  });
});

describe('camera_offline', () => {
  const rule: RuleSpec = { id: 'cam-down', kind: 'camera_offline', threshold: 30, forS: 0 };
  it('fires after the camera was reconnecting or offline for T seconds and resolves when it is back', () => {
    expect(
      run(rule, [
        [0, { state: 'online' }],
        [1000, { state: 'reconnecting' }],
        [30_000, { state: 'offline' }],
        [31_000, { state: 'offline' }],
        [40_000, { state: 'online' }],
      ]),
    ).toEqual([
      [31_000, 'firing'],
      [40_000, 'resolved'],
    ]);
  });
  it('starts over when the camera comes back before T', () => {
    expect(
      run(rule, [
        [0, { state: 'reconnecting' }],
        [20_000, { state: 'online' }],
        [25_000, { state: 'reconnecting' }],
        [50_000, { state: 'reconnecting' }],
      ]),
    ).toEqual([]);
  });
  it('says nothing while the whole device is offline, and a camera the device dropped is not offline', () => {
    const offline = facts({ state: 'offline', deviceState: 'offline' });
    expect(readCondition(rule, offline, 0, '0').holds).toBeNull();
    expect(readCondition(rule, facts({ state: 'offline' }), 0, 'gone').holds).toBe(false);
    expect(readCondition(rule, facts({ state: null }), 0, '0').holds).toBeNull();
  });
  it('reads the faces of the camera it is asked about, not another', () => {
    const faces: RuleSpec = { id: 'crowd', kind: 'faces_above', threshold: 3, forS: 0 };
    const f = facts({ lastFaces: window(1) });
    f.cameras.set('yard', { lastFaces: window(5), state: 'online', reason: null });
    expect(readCondition(faces, f, 0, '0')).toEqual({ holds: false, value: 1 });
    expect(readCondition(faces, f, 0, 'yard')).toEqual({ holds: true, value: 5 });
  });
  it('names the camera in the sentence, except camera "0", and says why it is down', () => {
    expect(describeAlert(rule, 'cam-7', 'firing', 42, 'yard', 'no frame for 5 s')).toBe(
      'cam-7 camera yard was reconnecting or offline for more than 30 s (42) [rule cam-down]: no frame for 5 s',
    );
    expect(describeAlert(rule, 'cam-7', 'resolved', 50, 'yard', 'x')).toBe(
      'cam-7 camera yard is back to normal (50) [rule cam-down]',
    );
    expect(describeAlert(rule, 'cam-7', 'firing', null, '0')).toBe(
      'cam-7 was reconnecting or offline for more than 30 s [rule cam-down]',
    );
  });
});
