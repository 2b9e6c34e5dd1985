import type { ControlPlane } from '@facefleet/test-support';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserSession,
  DESKTOP,
  openBrowser,
  PHONE,
  shot,
  shotOfFailure,
  signIn as signInAt,
} from './browser.js';
import { type DashboardServer, startDashboardServer } from './dashboard-server.js';
import { type SimulatorProcess, startSimulator } from './simulator-process.js';

/**
 * The dashboard end to end: the real control plane process serving the freshly bundled dashboard,
 * the fleet simulator (`facefleet simulate`, the agent's own code per device with a synthetic
 * detector) as a child process over real MQTT, and Debian's Chromium driven by playwright-core.
 * Each page is saved under test-results/screenshots/ (desktop 1366×768 and phone 390×844) for a
 * reviewer.
 *
 * The simulated fleet: two Xavier NX and one Nano (ids PREFIX-CLASS-NNNN, tag `simulated`); the
 * second Xavier NX is `--throttle`d (infers at 30 % of the model card, tag `throttle`). Faces are a
 * Poisson draw per frame at `--faces-rate` 3, published every second, so counts change on their own
 * and a window's max crosses 7 now and then (the faces_above rule below fires and resolves).
 */

let server: DashboardServer | undefined;
let cp: ControlPlane;
let operator: BrowserSession;
let sim: SimulatorProcess | undefined;
const OK = 'e2e-xavier-nx-0001';
const SLOW = 'e2e-xavier-nx-0002';
const NANO = 'e2e-nano-0001';
const ENGINE = 'facenet-nx-int8-9';
const tokens: Record<'operator' | 'viewer', string> = { operator: '', viewer: '' };

const signIn = (page: Page, token: string) => signInAt(page, cp.url, token);

const facesCell = (page: Page, id: string) =>
  page.locator(`tr[data-device="${id}"] [data-testid="faces"] strong`);

/** Polls `read` until it has returned at least two different values: the page changed live. */
async function seesChange(read: () => Promise<string | null>, timeout = 15_000): Promise<string[]> {
  const seen = new Set<string>();
  await expect
    .poll(
      async () => {
        const v = await read();
        if (v !== null && v !== '') seen.add(v);
        return seen.size;
      },
      { timeout, interval: 200 },
    )
    .toBeGreaterThanOrEqual(2);
  return [...seen];
}

interface DeviceDoc {
  device: {
    engineId: string | null;
    reported: {
      engine: { id: string } | null;
      update: { state: string; engineId: string | null } | null;
    } | null;
  };
}

beforeAll(async () => {
  server = await startDashboardServer();
  cp = server.cp;
  for (const role of ['operator', 'viewer'] as const) {
    tokens[role] = (
      await cp.json<{ token: string }>('POST', '/api/v1/tokens', { role, name: `${role} e2e` })
    ).token;
  }
  operator = await openBrowser(DESKTOP);
}, 60_000);

// A failed test leaves a picture of what the operator's page showed at that moment.
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && operator) {
    await shotOfFailure(operator.page, ctx.task.name);
  }
});

afterAll(async () => {
  await operator?.close();
  const simExit = await sim?.stop();
  await server?.stop();
  // SIGTERM: every simulated device said offline and the simulator exited cleanly
  if (sim) expect(simExit, sim.stderr.join('\n')).toBe(0);
});

describe('dashboard in Chromium', { timeout: 30_000 }, () => {
  it('signs in with an API token, and refuses a wrong one', async () => {
    const { page } = operator;
    await page.goto(cp.url);
    await page.getByRole('heading', { name: 'facefleet' }).waitFor();
    await shot(page, 'sign-in-desktop');
    await page.getByLabel('API token').fill('ff_0123456789abcdef_wrongwrongwrongwrongwrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('not a valid API token');
    await signIn(page, tokens.operator);
    expect(await page.getByTestId('role').textContent()).toContain('operator');
    expect(await page.getByTestId('read-only').count()).toBe(0);
  });

  it('shows devices as they come online and their face counts change live', async () => {
    const { page } = operator;
    expect(await page.locator('tr[data-device]').count()).toBe(0);
    sim = startSimulator(
      [
        '--devices',
        '3',
        '--classes',
        'xavier-nx:2,nano:1',
        '--throttle',
        '1',
        '--faces-rate',
        '3',
        '--prefix',
        'e2e',
        '--metrics-interval',
        '1',
        '--report-every',
        '1',
      ],
      // enrolling devices takes the admin role
      { server: cp.url, token: cp.adminToken },
    );
    expect(await sim.waitForLine(/throttle/)).toContain(`${SLOW} throttle`);
    await sim.waitForLine(/^ready: 3\/3 devices connected/, 20_000);
    // All three appear online without a reload.
    await expect
      .poll(() => page.locator('tr[data-device] .state-online').count(), { timeout: 10_000 })
      .toBe(3);
    // Each device's count of faces in view changes window by window, live.
    for (const id of [OK, SLOW, NANO]) {
      const values = await seesChange(() => facesCell(page, id).textContent());
      for (const v of values) expect(v).toMatch(/^\d+$/);
    }
    // The total is the sum of the rows (read in one go: the rows move every second).
    await expect
      .poll(
        () =>
          page.evaluate(() => {
            const rows = Array.from(
              document.querySelectorAll('tr[data-device] [data-testid="faces"] strong'),
              (e) => Number(e.textContent),
            );
            const total = Number(
              document.querySelector('[data-testid="count-faces"]')?.textContent,
            );
            return rows.length === 3 && rows.reduce((n, x) => n + x, 0) === total;
          }),
        { timeout: 10_000 },
      )
      .toBe(true);
    // The throttled Xavier NX infers at ~30 % of the card's 329 FPS: flagged; the others are not.
    await expect
      .poll(() => page.locator(`tr[data-device="${SLOW}"] .fps-bad`).count(), { timeout: 10_000 })
      .toBe(1);
    expect(await page.locator(`tr[data-device="${OK}"] .fps-ok`).count()).toBe(1);
    expect(await page.locator(`tr[data-device="${NANO}"] .fps-ok`).count()).toBe(1);
    // Filters
    await page.selectOption('select[name="tag"]', 'throttle');
    expect(await page.locator('tr[data-device]').count()).toBe(1);
    expect(await page.locator(`tr[data-device="${SLOW}"]`).count()).toBe(1);
    await page.selectOption('select[name="tag"]', '');
    await page.selectOption('select[name="class"]', 'jetson-xavier-nx');
    expect(await page.locator('tr[data-device]').count()).toBe(2);
    await page.selectOption('select[name="class"]', '');
    await shot(page, 'fleet-desktop');
  });

  it('opens a device page with its face chart, FPS chart, temperatures and history', async () => {
    const { page } = operator;
    await page.getByRole('link', { name: OK }).click();
    await page.getByTestId('device-title').getByText(OK).waitFor();
    // uPlot draws into a canvas; the chart says "no data" until buckets arrive.
    await page.locator('[data-testid="chart-faces"] canvas').waitFor();
    await expect
      .poll(() => page.locator('[data-testid="chart-faces"] .chart-empty').count(), {
        timeout: 10_000,
      })
      .toBe(0);
    await expect
      .poll(() => page.locator('[data-testid="chart-fps"] .chart-empty').count(), {
        timeout: 10_000,
      })
      .toBe(0);
    await page.getByTestId('temps').getByText('GPU', { exact: true }).waitFor();
    await page.selectOption('select[name="range"]', { label: '15 min' });
    await expect
      .poll(() => page.locator('[data-testid="chart-faces"] figcaption').textContent())
      .toContain('10s');
    // The live count on the page follows the device.
    const values = await seesChange(() => page.getByTestId('device-faces').textContent());
    for (const v of values) expect(v).toMatch(/^\d+$/);
    await shot(page, 'device-desktop');
  });

  it('uploads an engine, starts a rollout and watches it go through its stages to completion', {
    timeout: 60_000,
  }, async () => {
    const { page } = operator;
    await page.getByRole('link', { name: 'Engines & rollouts' }).click();
    const upload = page.getByTestId('upload-form');
    await upload.locator('input[name="file"]').setInputFiles({
      name: 'facenet-nx.plan',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('not really a TensorRT plan, but bytes with a sha256'),
    });
    await upload.locator('input[name="id"]').fill(ENGINE);
    await upload.locator('input[name="name"]').fill('facenet pruned int8 9');
    await upload.locator('input[name="trtVersion"]').fill('8.5.2');
    expect(await upload.locator('select[name="deviceClass"]').inputValue()).toBe(
      'jetson-xavier-nx',
    );
    expect(await upload.locator('select[name="backend"]').inputValue()).toBe('tensorrt');
    await upload.getByRole('button', { name: 'Upload' }).click();
    await page.getByTestId('engines').getByText(ENGINE).waitFor();

    // both Xavier NX count runner stats windows of their current engine: their FPS gates will have
    // the previous engine's figures to show beside the new one's
    await sim!.waitForLine(/devices connected, 3 with runner stats/, 30_000);
    const form = page.getByTestId('rollout-form');
    await form.locator('select[name="engineId"]').selectOption(ENGINE);
    // Tag `simulated` is all three; the engine's class narrows it to the two Xavier NX.
    await form.locator('select[name="tag"]').selectOption('simulated');
    await form.locator('input[name="canaryPct"]').fill('50');
    await form.locator('input[name="holdS"]').fill('2');
    await form.locator('input[name="gateHoldS"]').fill('1');
    await form.getByRole('button', { name: 'Start rollout' }).click();
    const card = page.locator('article.rollout').first();
    // The canary stage holds for 2 s before the rest follows: both states show up live.
    await card
      .locator('[data-state="canary"]')
      .or(page.locator('article.rollout[data-state="canary"]'))
      .first()
      .waitFor();
    await shot(page, 'rollout-canary-desktop');
    // Each simulated device downloads the engine, verifies its sha256 and signature, benches it
    // with the trtexec stand-in, passes the 1 s health gate and reports it applied.
    await page.locator('article.rollout[data-state="completed"]').waitFor({ timeout: 40_000 });
    expect(await card.getByText('canary 1/1 applied').count()).toBe(1);
    expect(await card.getByText('rest 1/1 applied').count()).toBe(1);
    // each target shows what its FPS gate measured: the new engine's inference FPS beside the old's
    await card.locator('details summary').click();
    const fps = await card.getByTestId('target-fps').allTextContents();
    expect(fps).toHaveLength(2);
    for (const text of fps) expect(text).toMatch(/inference [\d.]+ FPS \(was [\d.]+\)/);
    for (const id of [OK, SLOW]) {
      const { device } = await cp.json<DeviceDoc>('GET', `/api/v1/devices/${id}`);
      expect(device.reported?.engine?.id, id).toBe(ENGINE);
      expect(device.reported?.update?.state, id).toBe('applied');
    }
    const nano = await cp.json<DeviceDoc>('GET', `/api/v1/devices/${NANO}`);
    expect(nano.device.reported?.engine?.id).not.toBe(ENGINE);
    // the Nano was never asked: no update, its bootstrap engine still runs
    expect(nano.device.reported?.update?.state ?? 'idle').toBe('idle');
    await shot(page, 'engines-desktop');
    // The device page shows the new engine and the update in its history.
    await page.goto(`${cp.url}/#/devices/${SLOW}`);
    await expect
      .poll(() => page.getByTestId('device-engine').textContent(), { timeout: 10_000 })
      .toBe(ENGINE);
    await page.getByTestId('updates').getByText('applied').first().waitFor();
  });

  it('creates an alert rule and sees its alert arrive in the live feed', async () => {
    const { page } = operator;
    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByTestId('rule-form').waitFor();
    expect(await page.locator('[data-alert-rule="crowd"]').count()).toBe(0);
    // At 3 faces per frame on average, a 1 s window's max reaches 7 in about 40 % of windows.
    const form = page.getByTestId('rule-form');
    await form.locator('input[name="id"]').fill('crowd');
    await form.locator('select[name="kind"]').selectOption('faces_above');
    await form.locator('input[name="threshold"]').fill('7');
    await form.locator('input[name="tag"]').fill('throttle');
    await form.locator('select[name="severity"]').selectOption('critical');
    await form.getByRole('button', { name: 'Create rule' }).click();
    await page.locator('tr[data-rule="crowd"]').waitFor();
    const firing = page.locator('[data-alert-rule="crowd"]:has(.alert-firing)').first();
    await firing.waitFor({ timeout: 15_000 });
    expect(await firing.textContent()).toContain(SLOW);
    // Only the device the rule's tag selects.
    for (const text of await page.locator('[data-alert-rule="crowd"]').allTextContents())
      expect(text).toContain(SLOW);
    // …and it resolves live when the crowd thins out again.
    await page
      .locator('[data-alert-rule="crowd"] .alert-resolved')
      .first()
      .waitFor({ timeout: 15_000 });
    await shot(page, 'alerts-desktop');
  });

  it('lets a viewer see everything and change nothing: no write controls, and the server refuses', async () => {
    const viewer = await openBrowser(DESKTOP);
    try {
      const { page } = viewer;
      await signIn(page, tokens.viewer);
      await page.getByTestId('read-only').waitFor();
      await expect.poll(() => page.locator('tr[data-device]').count()).toBe(3);
      await shot(page, 'fleet-viewer-desktop');
      await page.getByRole('link', { name: 'Engines & rollouts' }).click();
      await page.locator('article.rollout[data-state="completed"]').waitFor();
      expect(await page.getByTestId('upload-form').count()).toBe(0);
      expect(await page.getByTestId('rollout-form').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Abort' }).count()).toBe(0);
      await page.getByRole('link', { name: 'Alerts' }).click();
      await page.locator('tr[data-rule="crowd"]').waitFor();
      expect(await page.getByTestId('rule-form').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
      // A write sent from the viewer's signed-in page anyway (as a user could from the console).
      const attempts = await page.evaluate(async () => {
        const post = (path: string, body?: unknown) =>
          fetch(path, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-facefleet-request': '1' },
            body: body === undefined ? undefined : JSON.stringify(body),
          }).then(async (r) => ({ status: r.status, body: await r.text() }));
        return [
          await post('/api/v1/alert-rules', { id: 'sneaky', kind: 'faces_above', threshold: 1 }),
          await fetch('/api/v1/alert-rules/crowd', {
            method: 'DELETE',
            headers: { 'x-facefleet-request': '1' },
          }).then((r) => ({ status: r.status, body: '' })),
          await post('/api/v1/devices', { id: 'sneaky-cam', deviceClass: 'jetson-nano' }),
        ];
      });
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403]);
      expect(attempts[0]!.body).toContain('needs the operator role');
      const rules = await cp.json<{ rules: { id: string }[] }>('GET', '/api/v1/alert-rules');
      expect(rules.rules.map((r) => r.id)).toEqual(['crowd']);
    } finally {
      await viewer.close();
    }
  });

  it('fits a phone screen: no sideways scrolling on any page', async () => {
    const phone = await openBrowser(PHONE, true);
    try {
      const { page } = phone;
      await page.goto(cp.url);
      await shot(page, 'sign-in-phone');
      await signIn(page, tokens.operator);
      await expect.poll(() => page.locator('tr[data-device]').count()).toBe(3);
      const overflow = () =>
        page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      for (const [hash, name] of [
        ['#/', 'fleet-phone'],
        [`#/devices/${OK}`, 'device-phone'],
        ['#/engines', 'engines-phone'],
        ['#/alerts', 'alerts-phone'],
      ] as const) {
        await page.goto(`${cp.url}/${hash}`);
        await page.locator('main h1').first().waitFor();
        if (name === 'device-phone')
          await page.locator('[data-testid="chart-faces"] canvas').waitFor();
        if (name === 'engines-phone') await page.locator('article.rollout').first().waitFor();
        expect(await overflow(), name).toBeLessThanOrEqual(0);
        await shot(page, name);
      }
    } finally {
      await phone.close();
    }
  });

  it('serves the bundle compressed and cacheable, and the server stops cleanly on SIGTERM with streams open', async () => {
    const html = await (await fetch(cp.url)).text();
    const js = /src="(\/assets\/app-[\w-]+\.js)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    const res = await fetch(`${cp.url}${js}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(res.headers.get('content-encoding')).toBe('gzip');
    // The operator's page still holds its event stream open.
    const started = Date.now();
    expect(await cp.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
