import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  allowedFilters,
  mayPublish,
  type Principal,
  topicMatches,
  topics,
} from '@facefleet/protocol';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  facesMessage,
  grant,
  startDynsecMosquitto,
  startTestServer,
  type TestMosquitto,
  type TestServer,
  waitFor,
} from '../testing.js';
import {
  CONTROL_PLANE_ROLE,
  connectDynsecAdmin,
  type DynsecAcl,
  deviceRole,
  planReconcile,
  planRoleAcls,
  roleAcls,
  SUBSCRIBER_ROLE,
} from './dynsec.js';

describe('dynamic-security plans (no broker)', () => {
  const principals: Principal[] = [
    { kind: 'device', deviceId: 'cam-a' },
    { kind: 'subscriber' },
    { kind: 'control-plane' },
  ];
  const candidates = [
    ...['cam-a', 'cam-b'].flatMap((id) =>
      (['status', 'faces', 'metrics', 'reported', 'desired'] as const).map((k) => topics[k](id)),
    ),
    topics.alert('crowd', 'cam-a'),
    'homeassistant/status',
    'homeassistant/sensor/facefleet_cam-a/faces/config',
  ];

  it("gives each principal's role exactly the protocol ACL", () => {
    for (const principal of principals) {
      const acls = roleAcls(principal);
      const send = acls.filter((a) => a.acltype === 'publishClientSend' && a.allow);
      for (const topic of candidates) {
        expect(
          send.some((a) => topicMatches(a.topic, topic)),
          `${principal.kind} publishing ${topic}`,
        ).toBe(mayPublish(principal, topic));
      }
      const subscribe = acls.filter((a) => a.acltype === 'subscribePattern').map((a) => a.topic);
      const filters = allowedFilters(principal);
      // The control plane subscribes through a shared subscription as well.
      expect(subscribe).toEqual(
        principal.kind === 'control-plane'
          ? [...filters, ...filters.map((f) => `$share/+/${f}`)]
          : filters,
      );
      expect(acls.every((a) => a.allow)).toBe(true);
    }
  });

  it('plans the ACL changes that turn a role into the wanted one', () => {
    const acl = (acltype: DynsecAcl['acltype'], topic: string, allow = true): DynsecAcl => ({
      acltype,
      topic,
      allow,
    });
    const current = [
      acl('publishClientSend', 'a'),
      acl('subscribePattern', 'b', false),
      acl('publishClientSend', 'old'),
    ];
    const wanted = [
      acl('publishClientSend', 'a'),
      acl('subscribePattern', 'b'),
      acl('subscribePattern', 'c'),
    ];
    expect(planRoleAcls('r', current, wanted)).toEqual([
      { command: 'removeRoleACL', rolename: 'r', acltype: 'subscribePattern', topic: 'b' },
      { command: 'removeRoleACL', rolename: 'r', acltype: 'publishClientSend', topic: 'old' },
      {
        command: 'addRoleACL',
        rolename: 'r',
        acltype: 'subscribePattern',
        topic: 'b',
        allow: true,
      },
      {
        command: 'addRoleACL',
        rolename: 'r',
        acltype: 'subscribePattern',
        topic: 'c',
        allow: true,
      },
    ]);
    expect(planRoleAcls('r', wanted, wanted)).toEqual([]);
  });

  it('plans to delete only the logins it made whose device or subscriber is gone', () => {
    const plan = planReconcile(
      {
        clients: [
          { username: 'admin', roles: ['admin'] },
          { username: 'control-plane', roles: [CONTROL_PLANE_ROLE] },
          { username: 'cam-1', roles: [deviceRole('cam-1')] },
          { username: 'cam-2', roles: [deviceRole('cam-2')] },
          // An operator's own login that looks like a device id: not ours, never touched.
          { username: 'ops-cam', roles: ['ops'] },
          // Holding another device's role does not make it that device's login.
          { username: 'cam-x', roles: [deviceRole('cam-1')] },
          { username: 'subscriber@ha', roles: [SUBSCRIBER_ROLE] },
          { username: 'subscriber@old', roles: [SUBSCRIBER_ROLE] },
        ],
        roles: ['admin', deviceRole('cam-1'), deviceRole('cam-2'), deviceRole('cam-9')],
      },
      { devices: new Set(['cam-1', 'cam-3']), subscribers: new Set(['ha', 'new']) },
    );
    expect(plan.commands).toEqual([
      { command: 'deleteClient', username: 'cam-2' },
      { command: 'deleteClient', username: 'subscriber@old' },
      { command: 'deleteRole', rolename: deviceRole('cam-2') },
      { command: 'deleteRole', rolename: deviceRole('cam-9') },
    ]);
    expect(plan.devicesWithoutLogin).toEqual(['cam-3']);
    expect(plan.subscribersWithoutLogin).toEqual(['new']);
  });
});

/**
 * The control plane keeping a real mosquitto's logins (Debian's, with the dynamic-security plugin,
 * set up by `mosquitto_ctrl dynsec init`) in step with the API: every check is a real MQTT login,
 * subscribe or publish against that broker.
 */
describe('external mosquitto with logins managed through dynamic security', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facefleet-dynsec-'));
  const dataDir = join(dir, 'cp');
  let mosquitto: TestMosquitto;
  let cp: TestServer;
  /** Logged in as the plugin's admin, which may read every topic: sees what the broker routes. */
  let observer: MqttClient;
  const seen: string[] = [];
  const clients: MqttClient[] = [];
  const tokens: Record<string, string> = {};

  // The control plane's sessions (admin, publisher, ingest) over the shipped config's TLS listener,
  // the broker checked against the fleet CA; devices and observers on the loopback listener.
  const start = () =>
    startTestServer(
      [
        '--broker',
        mosquitto.controlPlaneUrl,
        '--broker-admin',
        'dynsec',
        '--broker-admin-password',
        mosquitto.admin.password,
      ],
      { dataDir },
    );

  async function login(username: string, password: string): Promise<MqttClient> {
    const c = await connectClient(mosquitto.url, {
      username,
      password,
      clientId: `${username.replace('@', '-')}-${clients.length}`,
    });
    clients.push(c);
    return c;
  }

  const closed = (c: MqttClient) => new Promise<void>((r) => c.once('close', () => r()));

  /**
   * Publishes each [topic, payload] as `c` and returns those the broker routed. mosquitto routes
   * on one thread in order: once a sentinel sent after their PUBACKs reaches the observer, every
   * one of them that was routed has too.
   */
  async function routed(c: MqttClient, publishes: [string, string][], sentinel: MqttClient) {
    seen.length = 0;
    for (const [topic, payload] of publishes) await c.publishAsync(topic, payload, { qos: 1 });
    const mark = `sentinel-${Date.now()}`;
    await sentinel.publishAsync(topics.metrics(sentinel.options.username!), mark, { qos: 1 });
    await waitFor(() => seen.includes(mark), 10_000, 'the sentinel');
    return publishes.filter(([, payload]) => seen.includes(payload)).map(([topic]) => topic);
  }

  const stored = async (deviceId: string): Promise<number> =>
    (
      await cp.sql<{ n: number }>('SELECT count(*) AS n FROM face_windows WHERE device_id = ?', [
        deviceId,
      ])
    )[0]!.n;

  beforeAll(async () => {
    mosquitto = await startDynsecMosquitto(dir);
    cp = await start();
    observer = await login(mosquitto.admin.username, mosquitto.admin.password);
    observer.on('message', (_t, payload) => seen.push(payload.toString()));
    await observer.subscribeAsync('facefleet/#', { qos: 1 });
    for (const id of ['cam-a', 'cam-b', 'cam-rot', 'cam-gone']) tokens[id] = await cp.enroll(id);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await cp?.close();
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not start with a wrong admin password, and says which login failed', async () => {
    await expect(
      startTestServer(
        [
          '--broker',
          mosquitto.controlPlaneUrl,
          '--broker-admin',
          'dynsec',
          '--broker-admin-password',
          'wrong',
        ],
        // Inside this suite's directory: a start that fails leaves its files behind.
        { dataDir: join(dir, 'cp-refused') },
      ),
    ).rejects.toThrow(/dynamic-security admin admin: .*(Not authorized|Bad username or password)/i);
  });

  it("makes a login's username its client id (use_username_as_clientid): one device cannot knock another off by naming its client id (issue 17, finding 15)", async () => {
    const a = await connectClient(mosquitto.url, {
      username: 'cam-a',
      password: tokens['cam-a'],
      clientId: 'facefleet-agent-cam-a',
    });
    clients.push(a);
    let aClosed = false;
    a.once('close', () => {
      aClosed = true;
    });
    const b = await connectClient(mosquitto.url, {
      username: 'cam-b',
      password: tokens['cam-b'],
      clientId: 'facefleet-agent-cam-a',
    });
    clients.push(b);
    // both stay: mosquitto gave cam-b the client id cam-b. A round trip through the broker
    // shows a takeover would have happened by now (it is done before the CONNACK)
    await a.subscribeAsync(topics.desired('cam-a'), { qos: 1 });
    expect(aClosed).toBe(false);
    expect(a.connected && b.connected).toBe(true);
  });

  it('gives an enrolled device a login for its own topics only', async () => {
    await expect(
      connectClient(mosquitto.url, { username: 'cam-a', password: 'wrong' }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
    await expect(
      connectClient(mosquitto.url, { username: 'cam-zz', password: tokens['cam-a'] }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
    const a = await login('cam-a', tokens['cam-a']!);
    const b = await login('cam-b', tokens['cam-b']!);
    expect(await grant(a, topics.desired('cam-a'))).toBe(1);
    expect(await grant(a, topics.desired('cam-b'))).toBe(128);
    expect(await grant(a, 'facefleet/v1/devices/+/faces')).toBe(128);
    expect(await grant(a, 'facefleet/v1/#')).toBe(128);

    const tries: [string, string][] = [
      [topics.faces('cam-a'), JSON.stringify(facesMessage('cam-a', 1))],
      [topics.status('cam-a'), 'own status'],
      [topics.faces('cam-b'), 'forged faces'],
      [topics.desired('cam-a'), 'own desired'],
      [topics.desired('cam-b'), 'other desired'],
      [topics.alert('crowd', 'cam-a'), 'forged alert'],
    ];
    expect(await routed(a, tries, b)).toEqual([topics.faces('cam-a'), topics.status('cam-a')]);
    // The control plane's own login (role facefleet-control-plane) reads device traffic.
    await waitFor(
      async () => (await stored('cam-a')) === 1,
      10_000,
      'the faces window to be stored',
    );
  });

  it('devices log in over the shipped TLS listener, the broker checked against the fleet CA', async () => {
    const over = (ca?: Buffer) =>
      connectClient(mosquitto.tlsUrl, {
        username: 'cam-b',
        password: tokens['cam-b'],
        clientId: 'cam-b',
        ...(ca ? { ca } : {}),
      });
    const before = await stored('cam-b');
    const c = await over(readFileSync(mosquitto.caFile));
    clients.push(c);
    await c.publishAsync(topics.faces('cam-b'), JSON.stringify(facesMessage('cam-b', 900)), {
      qos: 1,
    });
    await waitFor(async () => (await stored('cam-b')) > before, 10_000, "cam-b's window over TLS");
    await c.endAsync();
    // a client that does not trust the broker's certificate (the system's CAs only) gets no session
    await expect(over()).rejects.toThrow(/certificate|verify/i);
  });

  it('gives read-only subscriber credentials alerts, face counts, status and metrics, and no device topic to publish', async () => {
    const res = await cp.api('POST', '/api/v1/subscribers', { body: { name: 'ha' } });
    expect(res.status).toBe(201);
    const { username, password } = (await res.json()) as { username: string; password: string };
    const sub = await login(username, password);
    expect(await grant(sub, 'facefleet/v1/alerts/#')).toBe(1);
    expect(await grant(sub, 'facefleet/v1/devices/+/faces')).toBe(1);
    expect(await grant(sub, 'facefleet/v1/devices/+/metrics')).toBe(1);
    expect(await grant(sub, 'facefleet/v1/devices/+/reported')).toBe(128);
    expect(await grant(sub, topics.desired('cam-a'))).toBe(128);

    // An alert the control plane publishes (its role may) reaches the subscriber.
    const alert = new Promise<{ state: string; ruleId: string }>((resolve) =>
      sub.on('message', (topic, payload) => {
        // (an empty payload clears the retained alert of a device deleted by another test)
        if (topic.startsWith('facefleet/v1/alerts/') && payload.length > 0) {
          resolve(JSON.parse(payload.toString()) as { state: string; ruleId: string });
        }
      }),
    );
    const rule = await cp.api('POST', '/api/v1/alert-rules', {
      body: { id: 'dyn-crowd', kind: 'faces_above', threshold: 3 },
    });
    expect(rule.status).toBe(201);
    const a = await login('cam-a', tokens['cam-a']!);
    await a.publishAsync(
      topics.faces('cam-a'),
      JSON.stringify(facesMessage('cam-a', 2, { max: 4, last: 4, mean: 3 })),
      { qos: 1 },
    );
    expect(await alert).toMatchObject({ state: 'firing', ruleId: 'dyn-crowd' });

    const tries: [string, string][] = [
      [topics.alert('dyn-crowd', 'cam-a'), 'forged by subscriber'],
      [topics.faces('cam-a'), 'faces by subscriber'],
    ];
    expect(await routed(sub, tries, a)).toEqual([]);
  });

  it('publishes Home Assistant discovery through the broker; the birth message brings it again', async () => {
    const res = await cp.api('POST', '/api/v1/subscribers', { body: { name: 'home-assistant' } });
    const { username, password } = (await res.json()) as { username: string; password: string };
    const ha = await login(username, password);
    const configs: string[] = [];
    ha.on('message', (topic, payload) => {
      if (topic === 'homeassistant/sensor/facefleet_cam-a/faces/config') {
        configs.push(payload.toString());
      }
    });
    // Retained on the broker since cam-a was enrolled.
    expect(await grant(ha, 'homeassistant/#')).toBe(1);
    await waitFor(() => configs.length === 1, 10_000, 'the retained faces config of cam-a');
    expect(JSON.parse(configs[0]!)).toMatchObject({ state_topic: topics.faces('cam-a') });
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitFor(() => configs.length >= 2, 10_000, 'the config again after the birth message');
  });

  it("rotating a device's token drops its session; only the new token logs in", async () => {
    const old = await login('cam-rot', tokens['cam-rot']!);
    const dropped = closed(old);
    const res = await cp.api('POST', '/api/v1/devices/cam-rot/token');
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect(token).not.toBe(tokens['cam-rot']);
    await dropped;
    await expect(
      connectClient(mosquitto.url, { username: 'cam-rot', password: tokens['cam-rot'] }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
    const fresh = await login('cam-rot', token);
    tokens['cam-rot'] = token;
    await fresh.publishAsync(topics.faces('cam-rot'), JSON.stringify(facesMessage('cam-rot', 1)), {
      qos: 1,
    });
    await waitFor(
      async () => (await stored('cam-rot')) === 1,
      10_000,
      'a message under the new token',
    );
  });

  it('deleting a device refuses its login and drops its open connection', async () => {
    const b = await login('cam-b', tokens['cam-b']!);
    const dropped = closed(b);
    const res = await cp.api('DELETE', '/api/v1/devices/cam-b');
    expect(await res.json()).toEqual({ deleted: 'cam-b' });
    await dropped;
    await expect(
      connectClient(mosquitto.url, { username: 'cam-b', password: tokens['cam-b'] }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
  });

  it('revoking subscriber credentials refuses them and drops their session', async () => {
    const res = await cp.api('POST', '/api/v1/subscribers', { body: { name: 'tail' } });
    const { username, password } = (await res.json()) as { username: string; password: string };
    const sub = await login(username, password);
    const dropped = closed(sub);
    expect((await cp.api('DELETE', '/api/v1/subscribers/tail')).status).toBe(200);
    await dropped;
    await expect(connectClient(mosquitto.url, { username, password })).rejects.toThrow(
      /Not authorized|Bad username or password/i,
    );
  });

  it('will not take over a broker login it did not create', async () => {
    const admin = await connectDynsecAdmin({
      url: mosquitto.controlPlaneUrl,
      ...mosquitto.admin,
      log: pino({ level: 'silent' }),
    });
    try {
      const [r] = await admin.run([
        { command: 'createClient', username: 'ops-cam', password: 'ops-secret' },
      ]);
      expect(r?.error).toBeUndefined();
    } finally {
      await admin.close();
    }
    const res = await cp.api('POST', '/api/v1/devices', {
      body: { id: 'ops-cam', deviceClass: 'jetson-nano' },
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('broker_conflict');
    expect((await cp.api('GET', '/api/v1/devices/ops-cam')).status).toBe(404);
    // Still the operator's.
    await login('ops-cam', 'ops-secret');
  });

  it('at start, deletes the logins of devices removed while it was stopped, and keeps the rest', async () => {
    await login('cam-gone', tokens['cam-gone']!);
    await cp.close();
    const db = new Database(join(dataDir, 'facefleet.db'));
    db.prepare('DELETE FROM devices WHERE id = ?').run('cam-gone');
    db.close();
    const gone = clients.at(-1)!;
    const dropped = closed(gone);
    cp = await start();
    await dropped;
    await expect(
      connectClient(mosquitto.url, { username: 'cam-gone', password: tokens['cam-gone'] }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
    await login('ops-cam', 'ops-secret');
    // The other devices keep their logins, and the restarted control plane (a fresh password for
    // its own login) still ingests.
    const rot = await login('cam-rot', tokens['cam-rot']!);
    await rot.publishAsync(topics.faces('cam-rot'), JSON.stringify(facesMessage('cam-rot', 2)), {
      qos: 1,
    });
    await waitFor(async () => (await stored('cam-rot')) === 2, 10_000, 'ingest after the restart');
  });
});
