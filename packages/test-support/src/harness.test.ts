import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startControlPlane } from './control-plane.js';
import { parseMetrics } from './metrics.js';
import { mosquittoSub, startMosquitto } from './mosquitto.js';
import { connectWire, encodeLength, encodePublish } from './mqtt-wire.js';
import { startProcess } from './process.js';
import { canConnect, freePort, waitFor } from './wait.js';

/** The harness itself: what every system test leans on must fail loudly and clean up. */

const node = (script: string) => startProcess(process.execPath, ['-e', script], { name: 'node' });

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? `n=${n}` : null))).toBe('n=3');
  });

  it('names what it waited for when the deadline passes', async () => {
    await expect(waitFor(() => false, 100, 'the impossible')).rejects.toThrow(
      'timed out after 100 ms waiting for the impossible',
    );
  });
});

describe('startProcess', () => {
  it('collects lines, waits for one (also one already printed), and reports the exit code', async () => {
    const p = node(
      "console.log('one'); console.error('two'); setTimeout(() => console.log('three'), 200);" +
        "process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); setInterval(() => {}, 1000);",
    );
    expect(await p.waitForLine(/^three$/)).toBe('three');
    expect(await p.waitForLine(/^one$/)).toBe('one');
    expect(p.stdout.slice(0, 2)).toEqual(['one', 'three']);
    expect(p.stderr).toEqual(['two']);
    // `since`: only lines from then on
    await expect(p.waitForLine(/^one$/, { since: p.lines.length, timeoutMs: 200 })).rejects.toThrow(
      /no 200 ms after, still no a line matching/,
    );
    expect(await p.stop()).toBe(0);
    expect(p.stdout.at(-1)).toBe('bye');
    expect(p.running).toBe(false);
  });

  it('rejects a wait when the process exits first, with its output', async () => {
    const p = node("console.log('about to fail'); process.exit(3)");
    await expect(p.waitForLine(/never/)).rejects.toThrow(
      /exited \(3\) without[\s\S]*about to fail/,
    );
    expect((await p.exited).code).toBe(3);
  });

  it('kills a process that ignores SIGTERM, and says so', async () => {
    const p = node(
      "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000);",
    );
    await p.waitForLine(/^up$/);
    await expect(p.stop(300)).rejects.toThrow(/did not exit within 300 ms of SIGTERM/);
    expect((await p.exited).signal).toBe('SIGKILL');
  });
});

describe('startMosquitto and mosquittoSub', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('checks logins from its password file, adds logins, and applies its ACL to mosquitto_sub', async () => {
    const broker = await startMosquitto({
      users: { reader: 'r-secret', writer: 'w-secret' },
      acl: ['user reader', 'topic read demo/#', 'user writer', 'topic write demo/#'].join('\n'),
    });
    cleanups.push(() => broker.close());
    expect(await broker.canLogin('reader', 'r-secret')).toBe(true);
    expect(await broker.canLogin('reader', 'wrong')).toBe(false);
    expect(await broker.canLogin('late', 'l-secret')).toBe(false);
    await broker.addUsers({ late: 'l-secret' });
    expect(await broker.canLogin('late', 'l-secret')).toBe(true);

    const sub = await mosquittoSub({
      url: broker.url,
      username: 'reader',
      password: 'r-secret',
      topics: ['demo/#'],
    });
    cleanups.push(() => sub.stop());
    expect(sub.granted).toEqual([1]);
    const pub = (user: string, password: string, topic: string, message: string) =>
      execFileSync('mosquitto_pub', [
        ...['-p', String(broker.port), '-u', user, '-P', password],
        ...['-q', '1', '-t', topic, '-m', message],
      ]);
    pub('reader', 'r-secret', 'demo/a', 'not allowed to write');
    pub('writer', 'w-secret', 'demo/b', '{"n": 1}');
    const m = await sub.waitForMessage('demo/b');
    expect(m).toEqual({ topic: 'demo/b', payload: '{"n": 1}' });
    expect(sub.messages).toEqual([m]);
    expect(await sub.stop()).toBe(0);

    const refused = await mosquittoSub({
      url: broker.url,
      username: 'reader',
      password: 'wrong',
      topics: ['demo/#'],
      waitSubscribed: false,
    });
    expect((await refused.exited).code).not.toBe(0);
    expect(refused.lines.join('\n')).toMatch(/not authori[sz]ed/i);
  });

  it('restarts on the same port, and stop() reports a clean exit', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.close());
    expect(await broker.stop()).toBe(0);
    expect(await canConnect(broker.port)).toBe(false);
    await broker.start();
    expect(await canConnect(broker.port)).toBe(true);
    await broker.kill9();
    await broker.start();
    expect(await broker.stop()).toBe(0);
    await broker.close();
    expect(existsSync(broker.dir)).toBe(false);
  });
});

describe('connectWire', () => {
  it('logs in or is refused, publishes QoS 1 until the PUBACK, subscribes, and receives', async () => {
    const broker = await startMosquitto({
      users: { dev: 'd-secret' },
      acl: ['user dev', 'topic readwrite demo/#'].join('\n'),
    });
    try {
      const refused = await connectWire({
        port: broker.port,
        clientId: 'w0',
        username: 'dev',
        password: 'x',
      });
      expect([4, 5]).toContain(refused.returnCode);
      await refused.whenClosed;
      expect(refused.closed).toBe(true);

      const c = await connectWire({
        port: broker.port,
        clientId: 'w1',
        username: 'dev',
        password: 'd-secret',
      });
      expect(c.returnCode).toBe(0);
      expect(await c.subscribe('demo/#')).toBe(1);
      await c.publish('demo/a', Buffer.from([0, 1, 2, 255]));
      expect(c.inflight).toBe(0);
      await waitFor(() => c.messages.length === 1, 5000, 'the message back');
      expect(c.messages[0]).toMatchObject({
        topic: 'demo/a',
        payload: Buffer.from([0, 1, 2, 255]),
      });
      const acked = await new Promise<Error | undefined>((done) =>
        c.publishQos1('demo/b', 'x', done),
      );
      expect(acked).toBeUndefined();
      await c.end();
      expect(c.closed).toBe(true);
      await expect(c.publish('demo/c', 'late')).rejects.toThrow(/closed/);
    } finally {
      await broker.close();
    }
  });
});

describe('encodePublish', () => {
  it('writes the MQTT 3.1.1 PUBLISH layout: header, length, topic, packet id, payload', () => {
    const ascii = (t: string) => [...Buffer.from(t)];
    expect([...encodePublish('a/b', 'hi', 1, 258, true)]).toEqual([
      0x33,
      9,
      0,
      3,
      ...ascii('a/b'),
      1,
      2,
      ...ascii('hi'),
    ]);
    // QoS 0 has no packet id; a payload past 127 bytes takes a two-byte length
    const body = new Uint8Array(200).fill(7);
    const p = encodePublish('t', body, 0, 99);
    expect([...p.subarray(0, 6)]).toEqual([0x30, ...encodeLength(203), 0, 1, ...ascii('t')]);
    expect(p.subarray(6)).toEqual(Buffer.from(body));
    expect(p.length).toBe(1 + 2 + 203);
  });
});

describe('parseMetrics', () => {
  it('reads samples with and without labels, sums them, and refuses garbage', () => {
    const m = parseMetrics(
      [
        '# HELP x_total things',
        '# TYPE x_total counter',
        'x_total{reason="a"} 2',
        'x_total{reason="b",kind="q\\\\"} 3',
        'y 1.5',
        '',
      ].join('\n'),
    );
    expect(m.get('x_total', { reason: 'a' })).toBe(2);
    expect(m.get('x_total', { reason: 'b', kind: 'q\\' })).toBe(3);
    expect(m.get('x_total', { reason: 'c' })).toBe(0);
    expect(m.sum('x_total')).toBe(5);
    expect(m.get('y')).toBe(1.5);
    expect(() => parseMetrics('what is this')).toThrow(/not a Prometheus sample line/);
  });
});

describe('startControlPlane', () => {
  it('starts on fixed ports, calls the API as admin, stops with 0 and removes its temp data', async () => {
    const httpPort = await freePort();
    const cp = await startControlPlane({ httpPort });
    expect(cp.url).toBe(`http://127.0.0.1:${httpPort}`);
    expect(cp.announcedToken).toMatch(/^ff_/);
    expect(existsSync(cp.dbFile)).toBe(true);
    const token = await cp.enroll('harness-1', { tags: ['t'] });
    expect(token.length).toBeGreaterThan(20);
    const { devices } = await cp.json<{ devices: { id: string }[] }>('GET', '/api/v1/devices');
    expect(devices.map((d) => d.id)).toEqual(['harness-1']);
    expect((await cp.api('GET', '/api/v1/devices', undefined, { token: null })).status).toBe(401);
    await expect(cp.json('GET', '/api/v1/devices/nope')).rejects.toThrow(/404/);
    expect(await cp.publicKey()).toMatch(/BEGIN PUBLIC KEY/);
    expect(await cp.stop()).toBe(0);
    expect(existsSync(cp.dataDir)).toBe(false);
  });

  it('restarts after kill -9 on the same ports and data, with the admin token of the first start', async () => {
    const mqttPort = await freePort();
    const cp = await startControlPlane({ mqttPort });
    await cp.enroll('harness-2');
    await cp.kill9();
    expect(await canConnect(mqttPort)).toBe(false);
    const again = await cp.restart();
    expect(again.announcedToken).toBeNull();
    expect([again.url, again.mqttUrl]).toEqual([cp.url, cp.mqttUrl]);
    const { devices } = await again.json<{ devices: { id: string }[] }>('GET', '/api/v1/devices');
    expect(devices.map((d) => d.id)).toEqual(['harness-2']);
    expect((await again.metrics()).sum('facefleet_mqtt_auth_failures_total')).toBe(0);
    expect(await again.stop()).toBe(0);
    expect(existsSync(cp.dataDir)).toBe(false);
  });
});
