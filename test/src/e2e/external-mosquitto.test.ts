import { afterAll, beforeAll, describe, expect } from 'vitest';
import { DEVICE_IDS, type Fleet, startFleet } from './fleet.js';
import { mainFlowTests } from './main-flow.js';
import { rolloutTests } from './rollout-flow.js';

/**
 * The same flows with the control plane as a client of an external Mosquitto
 * (`--broker mqtt://…`): Debian's mosquitto with the shipped ACL (infra/brokers/mosquitto/) and a
 * password file this test keeps in step with enrollment, as the README tells an operator to.
 * Desired state, reports and alerts all pass through mosquitto's ACL here.
 */
let fleet: Fleet | undefined;
const get = () => {
  if (!fleet) throw new Error('the fleet did not start');
  return fleet;
};

describe('a fleet on an external Mosquitto', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    fleet = await startFleet({ external: true });
  }, 120_000);

  afterAll(async () => {
    const codes = await fleet?.stop();
    if (codes) {
      expect(codes).toEqual({
        mosquitto_sub: 0,
        ...Object.fromEntries(DEVICE_IDS.map((id) => [id, 0])),
        'control-plane': 0,
        mosquitto: 0,
      });
    }
  }, 120_000);

  mainFlowTests(get);
  rolloutTests(get);
});
