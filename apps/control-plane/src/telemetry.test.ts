import { topics } from '@facefleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateWindow, createTelemetry } from './telemetry.js';
import { connectClient, facesMessage, startTestServer, type TestServer } from './testing.js';

describe('rate window', () => {
  const setup = () => {
    const counter = createTelemetry().counter('test_total', 'test');
    const window = createRateWindow(counter, 10_000, [{ kind: 'faces' }, { kind: 'metrics' }]);
    const rate = (now: number, kind: string) =>
      window.rates(now).find(([l]) => l.kind === kind)?.[1];
    return { counter, window, rate };
  };

  it('is 0 for every expected label set before anything is counted', () => {
    const { window } = setup();
    expect(window.rates(0)).toEqual([
      [{ kind: 'faces' }, 0],
      [{ kind: 'metrics' }, 0],
    ]);
  });

  it('divides what was counted since the oldest snapshot by the time since it', () => {
    const { counter, window, rate } = setup();
    window.sample(0);
    counter.inc({ kind: 'faces' }, 50);
    expect(rate(5000, 'faces')).toBe(10);
    expect(rate(5000, 'metrics')).toBe(0);
  });

  it('forgets what is older than the window: a steady rate holds, and falls to 0 when it stops', () => {
    const { counter, window, rate } = setup();
    for (let t = 0; t <= 30_000; t += 1000) {
      window.sample(t);
      counter.inc({ kind: 'faces' }, 20);
    }
    // 20 per second, whatever came before the last 10 s.
    expect(rate(30_000, 'faces')).toBeCloseTo(22, 0);
    expect(rate(30_500, 'faces')).toBeCloseTo(20 * (11 / 10.5), 0);
    for (let t = 31_000; t <= 45_000; t += 1000) window.sample(t);
    expect(rate(45_000, 'faces')).toBe(0);
    // A label set the counter learns later is reported too.
    counter.inc({ kind: 'status' }, 3);
    expect(rate(46_000, 'status')).toBeCloseTo(3 / 11, 2);
  });
});

describe('/metrics ingest rate', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  const scrape = async (kind: string): Promise<number> => {
    const text = await (await t.api('GET', '/metrics')).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`facefleet_ingest_rows_per_second{kind="${kind}"}`));
    if (!line) throw new Error(`no facefleet_ingest_rows_per_second for ${kind} in\n${text}`);
    return Number(line.split(' ')[1]);
  };

  it('rises from 0 under ingest, for the kind ingested', async () => {
    expect(await scrape('faces')).toBe(0);
    const token = await t.enroll('cam-rate');
    const c = await connectClient(t.mqttUrl, { username: 'cam-rate', password: token });
    try {
      for (let seq = 1; seq <= 40; seq++) {
        // Each PUBACK means the row is committed.
        await c.publishAsync(
          topics.faces('cam-rate'),
          JSON.stringify(facesMessage('cam-rate', seq)),
          {
            qos: 1,
          },
        );
      }
    } finally {
      await c.endAsync();
    }
    // 40 rows within the window (10 s, plus a sampling interval; generous for a loaded machine).
    expect(await scrape('faces')).toBeGreaterThanOrEqual(40 / 20);
    expect(await scrape('metrics')).toBe(0);
  });
});
