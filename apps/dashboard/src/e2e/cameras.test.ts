import type { ControlPlane } from '@facefleet/test-support';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserSession,
  DESKTOP,
  openBrowser,
  shot,
  shotOfFailure,
  signIn,
} from './browser.js';
import { type DashboardServer, startDashboardServer } from './dashboard-server.js';
import { type SimulatorProcess, startSimulator } from './simulator-process.js';

/**
 * Cameras in the dashboard, end to end: the real control plane serving the bundled dashboard, the
 * fleet simulator as a child process with two devices of three cameras each — the agent's own code
 * per device, one synthetic runner for its three cameras — where one device's camera "2" goes
 * offline on a schedule (`--flaky-cameras 1 --camera-outage 14:6`: reconnecting for the last 6 s of
 * every 14 s), and Debian's Chromium. Screenshots under test-results/screenshots/: the fleet with
 * its camera counts, the device page with the camera down, and with it back.
 */

let server: DashboardServer | undefined;
let cp: ControlPlane;
let operator: BrowserSession;
let sim: SimulatorProcess | undefined;
/** The device whose camera "2" goes offline on the schedule (the simulator says which). */
let FLAKY = '';

const cameraRow = (page: Page, camera: string) => page.locator(`tr[data-camera="${camera}"]`);

beforeAll(async () => {
  server = await startDashboardServer();
  cp = server.cp;
  const operatorToken = (
    await cp.json<{ token: string }>('POST', '/api/v1/tokens', {
      role: 'operator',
      name: 'cameras e2e',
    })
  ).token;
  // camera_offline after 2 s: fires in every outage, resolves when the camera is back
  await cp.json('POST', '/api/v1/alert-rules', {
    id: 'camera-down',
    kind: 'camera_offline',
    threshold: 2,
    severity: 'critical',
  });
  sim = startSimulator(
    [
      '--devices',
      '2',
      '--classes',
      'agx-xavier:1,nano:1',
      '--cameras-per-device',
      '3',
      '--flaky-cameras',
      '1',
      '--camera-outage',
      '14:6',
      '--prefix',
      'cams',
      '--metrics-interval',
      '1',
      '--report-every',
      '1',
    ],
    { server: cp.url, token: cp.adminToken },
  );
  FLAKY = /(cams-[\w-]+) flaky-camera/.exec(await sim.waitForLine(/flaky-camera/))?.[1] ?? '';
  await sim.waitForLine(/^ready: 2\/2 devices connected/, 20_000);
  operator = await openBrowser(DESKTOP);
  await signIn(operator.page, cp.url, operatorToken);
}, 60_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && operator) {
    await shotOfFailure(operator.page, ctx.task.name, 'cameras-');
  }
});

afterAll(async () => {
  await operator?.close();
  const simExit = await sim?.stop();
  await server?.stop();
  if (sim) expect(simExit, sim.stderr.join('\n')).toBe(0);
});

describe('cameras in the dashboard', { timeout: 60_000 }, () => {
  it('counts the cameras of the fleet, and the one that goes offline, live', async () => {
    expect(FLAKY).toMatch(/^cams-/);
    const { page } = operator;
    await expect
      .poll(() => page.locator('tr[data-device] .state-online').count(), { timeout: 10_000 })
      .toBe(2);
    await expect.poll(() => page.getByTestId('count-cameras').textContent()).toBe('6');
    // camera "2" of the flaky device goes down within 14 s, and its row and the total say so
    await expect
      .poll(() => page.getByTestId('count-cameras-down').textContent(), { timeout: 20_000 })
      .toBe('1');
    expect(
      await page.locator(`tr[data-device="${FLAKY}"] [data-testid="cameras"]`).textContent(),
    ).toBe('3 1 down');
    await shot(page, 'cameras-fleet-one-down-desktop');
    await expect
      .poll(() => page.getByTestId('count-cameras-down').textContent(), { timeout: 20_000 })
      .toBe('0');
  });

  it("shows a device's three cameras with FPS and sparklines; a camera goes offline and comes back", async () => {
    const { page } = operator;
    await page.goto(`${cp.url}/#/devices/${FLAKY}`);
    await page.getByTestId('device-title').getByText(FLAKY).waitFor();
    await page.selectOption('select[name="range"]', { label: '15 min' });
    await expect.poll(() => page.locator('tr[data-camera]').count(), { timeout: 10_000 }).toBe(3);
    expect(await page.getByTestId('camera-count').textContent()).toBe('3');
    // every camera gets an FPS figure and a line in its sparkline (metrics every second)
    for (const camera of ['0', '1', '2']) {
      await expect
        .poll(() => cameraRow(page, camera).locator('svg.spark polyline').count(), {
          timeout: 15_000,
        })
        .toBeGreaterThanOrEqual(1);
    }
    // camera "2" drops: reconnecting, with the runner's reason, while 0 and 1 stay online
    await cameraRow(page, '2').and(page.locator('[data-state="reconnecting"]')).waitFor({
      timeout: 20_000,
    });
    expect(await cameraRow(page, '2').textContent()).toContain('simulated outage');
    expect(await cameraRow(page, '0').getAttribute('data-state')).toBe('online');
    expect(await cameraRow(page, '1').getAttribute('data-state')).toBe('online');
    // …and after 2 s of it, its camera_offline alert arrives in the device's alert list
    await page
      .locator('[data-alert-camera="2"]:has(.alert-firing)')
      .first()
      .waitFor({ timeout: 10_000 });
    await shot(page, 'camera-offline-desktop');
    // back online by itself (the runner reconnects), and the alert resolves
    await cameraRow(page, '2').and(page.locator('[data-state="online"]')).waitFor({
      timeout: 20_000,
    });
    await page
      .locator('[data-alert-camera="2"]:has(.alert-resolved)')
      .first()
      .waitFor({ timeout: 10_000 });
    // the outage is marked under camera 2's sparkline, and under no other
    await expect
      .poll(() => cameraRow(page, '2').locator('rect.spark-down').count(), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    expect(await cameraRow(page, '0').locator('rect.spark-down').count()).toBe(0);
    await shot(page, 'camera-back-desktop');
  });
});
