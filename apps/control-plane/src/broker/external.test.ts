import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@facefleet/protocol';
import { STORE_KINDS } from '@facefleet/store/testing';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  facesMessage,
  startTestServer,
  type TestServer,
  waitFor,
} from '../testing.js';

/**
 * External broker mode against Debian's mosquitto, started here on an ephemeral port with a
 * generated config. Device authentication is mosquitto's job in this mode (the test allows
 * anonymous logins); the control plane's ingest, validation and dedupe are the same.
 */
describe.each(STORE_KINDS)('external broker (mosquitto) (%s)', (kind) => {
  const MOSQUITTO = '/usr/sbin/mosquitto';
  const dir = mkdtempSync(join(tmpdir(), 'facefleet-mosq-'));
  const cpData = join(dir, 'cp');
  let mosquitto: ChildProcess;
  let url: string;
  let cp: TestServer;
  let device: MqttClient;

  function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
  }

  beforeAll(async () => {
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'max_queued_messages 100000',
        '',
      ].join('\n'),
    );
    mosquitto = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    url = `mqtt://127.0.0.1:${port}`;
    await waitFor(
      () =>
        connectClient(url, { clientId: 'probe' }).then(
          (c) => {
            c.end(true);
            return true;
          },
          () => false,
        ),
      10_000,
      'mosquitto to accept connections',
    );
    cp = await startTestServer(['--broker', url], { dataDir: cpData, store: kind });
    await cp.enroll('ext-1');
    device = await connectClient(url, { clientId: 'ext-1', username: 'ext-1', password: 'x' });
  });

  afterAll(async () => {
    await device?.endAsync(true);
    await cp?.close();
    mosquitto?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async (deviceId: string): Promise<number> =>
    (
      await cp.sql<{ n: number }>('SELECT count(*) AS n FROM face_windows WHERE device_id = ?', [
        deviceId,
      ])
    )[0]!.n;

  describe('external broker (mosquitto)', () => {
    it('ingests device messages and de-duplicates replays', async () => {
      for (let round = 0; round < 3; round++) {
        for (let seq = 0; seq < 20; seq++) {
          await device.publishAsync(
            topics.faces('ext-1'),
            JSON.stringify(facesMessage('ext-1', seq)),
            { qos: 1 },
          );
        }
      }
      await waitFor(
        () => cp.server.telemetry.duplicates.get({ kind: 'faces' }) >= 40,
        10_000,
        'replays to arrive',
      );
      expect(await count('ext-1')).toBe(20);
    });

    it('counts malformed payloads and messages of devices it did not enroll, and stores neither', async () => {
      await device.publishAsync(topics.faces('ext-1'), '{"v":1,', { qos: 1 });
      await device.publishAsync(
        topics.faces('stranger'),
        JSON.stringify(facesMessage('stranger', 1)),
        { qos: 1 },
      );
      await waitFor(
        () =>
          cp.server.telemetry.rejected.get({ reason: 'invalid_payload' }) >= 1 &&
          cp.server.telemetry.rejected.get({ reason: 'unknown_device' }) >= 1,
        10_000,
        'rejections to be counted',
      );
      expect(await count('stranger')).toBe(0);
      await device.publishAsync(topics.faces('ext-1'), JSON.stringify(facesMessage('ext-1', 100)), {
        qos: 1,
      });
      await waitFor(
        async () => (await count('ext-1')) === 21,
        10_000,
        'a valid message after the bad ones',
      );
    });

    it('publishes alerts through the external broker', async () => {
      const sub = await connectClient(url, { clientId: 'ha' });
      const got = new Promise<{ state: string; ruleId: string }>((resolve) =>
        sub.on('message', (_t, payload) =>
          resolve(JSON.parse(payload.toString()) as { state: string; ruleId: string }),
        ),
      );
      await sub.subscribeAsync('facefleet/v1/alerts/#', { qos: 1 });
      const res = await cp.api('POST', '/api/v1/alert-rules', {
        body: { id: 'ext-crowd', kind: 'faces_above', threshold: 3 },
      });
      expect(res.status).toBe(201);
      await device.publishAsync(
        topics.faces('ext-1'),
        JSON.stringify(facesMessage('ext-1', 200, { max: 4, last: 4, mean: 3 })),
        { qos: 1 },
      );
      expect(await got).toMatchObject({ state: 'firing', ruleId: 'ext-crowd' });
      await sub.endAsync(true);
    });

    it('stores what devices sent while the control plane was down (persistent session)', async () => {
      await cp.close();
      for (let seq = 300; seq < 310; seq++) {
        await device.publishAsync(
          topics.faces('ext-1'),
          JSON.stringify(facesMessage('ext-1', seq)),
          {
            qos: 1,
          },
        );
      }
      cp = await startTestServer(['--broker', url], { dataDir: cpData, store: cp.store });
      await waitFor(
        async () => (await count('ext-1')) === 32,
        10_000,
        'queued messages to be stored',
      );
      expect(await count('ext-1')).toBe(32);
    });
  });
});
