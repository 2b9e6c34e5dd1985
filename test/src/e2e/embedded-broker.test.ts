import { afterAll, beforeAll, describe, expect } from 'vitest';
import { DEVICE_IDS, type Fleet, startFleet } from './fleet.js';
import { mainFlowTests } from './main-flow.js';
import { rolloutTests } from './rollout-flow.js';

/**
 * The whole system on the default deployment: the control plane with its embedded broker and
 * SQLite, three agents running the real runner on real video, an outside mosquitto_sub; then
 * engine rollouts, good and bad, through all of it.
 */
let fleet: Fleet | undefined;
const get = () => {
  if (!fleet) throw new Error('the fleet did not start');
  return fleet;
};

describe('a fleet on the embedded broker', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    fleet = await startFleet();
  }, 120_000);

  afterAll(async () => {
    const codes = await fleet?.stop();
    // SIGTERM: every process shuts down cleanly (agents publish offline, the server flushes)
    if (codes) {
      expect(codes).toEqual({
        mosquitto_sub: 0,
        ...Object.fromEntries(DEVICE_IDS.map((id) => [id, 0])),
        'control-plane': 0,
      });
    }
  }, 120_000);

  mainFlowTests(get);
  rolloutTests(get);
});
