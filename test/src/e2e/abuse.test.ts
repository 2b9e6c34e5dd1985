import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { join, relative } from 'node:path';
import { examples, MAX_PAYLOAD_BYTES, topics } from '@facefleet/protocol';
import {
  type Agent,
  type ControlPlane,
  connectWire,
  encodeLength,
  hostDeviceClass,
  type Metrics,
  startAgent,
  startControlPlane,
  type WireClient,
  waitFor,
} from '@facefleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, prng, readDb } from './fleet.js';
import { type FuzzMessage, fuzzCorpus } from './fuzz-corpus.js';

/**
 * Issue #7, abuse: a running fleet (the built control plane and two real agents) under attack by
 * an enrolled device using its own credentials, by wrong credentials, by a viewer token and by
 * oversized and malformed input over MQTT and HTTP. Every attempt is refused or counted in
 * /metrics, no process crashes, nothing stored is lost, and the agents keep being ingested.
 *
 * The per-client MQTT rate limit is raised so the 10,000-message flood runs as fast as the ingest
 * takes it (the limiter has its own tests in apps/control-plane).
 */

const ATTACKER = 'abuse-a'; // enrolled; only raw MQTT clients use its credentials
const AGENTS = ['abuse-b', 'abuse-c'] as const;
const [B] = AGENTS;
const ENGINE_LIMIT = 2_000_000;
const FUZZ_MESSAGES = 10_000;
const SEED = Number(process.env.FACEFLEET_FAULT_SEED ?? Date.now() % 2 ** 31);
/** Seqs no real agent reaches: what the attacker sends in other devices' names uses them. */
const FOREIGN_SEQ = 9_000_000_000_000;

type ErrorBody = { error: { code: string; message: string; details: unknown } };

let cp: ControlPlane;
let attackerToken: string;
const agents: Agent[] = [];
const agentOf = (id: string) => agents.find((a) => a.deviceId === id)!;
let baseline: {
  rows: Record<string, RowCounts>;
  agentPids: number[];
  restarts: Record<string, number>;
};

const TABLES = ['face_windows', 'metrics', 'status_history', 'reported_history'] as const;
type RowCounts = Record<(typeof TABLES)[number], number>;
const rowCounts = (id: string): RowCounts =>
  readDb(
    cp,
    (db) =>
      Object.fromEntries(
        TABLES.map((t) => [
          t,
          (
            db.prepare(`SELECT count(*) AS n FROM ${t} WHERE device_id = ?`).get(id) as {
              n: number;
            }
          ).n,
        ]),
      ) as RowCounts,
  );
const foreignRows = (id: string) =>
  readDb(cp, (db) =>
    TABLES.reduce(
      (n, t) =>
        n +
        (
          db
            .prepare(`SELECT count(*) AS n FROM ${t} WHERE device_id = ? AND seq >= ?`)
            .get(id, FOREIGN_SEQ) as { n: number }
        ).n,
      0,
    ),
  );
const windowsBetween = (id: string, from: number, to = Date.now()) =>
  readDb(
    cp,
    (db) =>
      (
        db
          .prepare(
            'SELECT count(*) AS n FROM face_windows WHERE device_id = ? AND received_at BETWEEN ? AND ?',
          )
          .get(id, from, to) as { n: number }
      ).n,
  );

/** Every file under `dir` (relative path → size), leaving out what `skip` matches. */
function tree(dir: string, skip: RegExp): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      const rel = relative(dir, path);
      if (skip.test(rel)) continue;
      if (e.isDirectory()) walk(path);
      else out.set(rel, statSync(path).size);
    }
  };
  walk(dir);
  return out;
}

/**
 * An HTTP request sent as written (fetch would normalise `..` and percent-encoded dots away),
 * optionally with a body streamed in chunks (no content-length). Resolves with the answer, even
 * when the server answered before reading the whole body.
 */
function rawRequest(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; chunks?: Iterable<Buffer> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(cp.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { authorization: `Bearer ${cp.adminToken}`, ...options.headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    // the server may stop reading once it has answered: later writes may then fail
    req.on('error', (err) => reject(err));
    const chunks = options.chunks ? [...options.chunks] : [];
    const write = (i: number) => {
      if (i === chunks.length || req.destroyed) {
        req.end();
        return;
      }
      if (req.write(chunks[i]!)) setImmediate(() => write(i + 1));
      else req.once('drain', () => write(i + 1));
    };
    write(0);
  });
}

const mqttPort = () => Number(new URL(cp.mqttUrl).port);
const wire = (clientId: string, username?: string, password?: string) =>
  connectWire({
    port: mqttPort(),
    clientId,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function attacker(clientId = 'abuse-a-1'): Promise<WireClient> {
  const c = await wire(clientId, ATTACKER, attackerToken);
  expect(c.returnCode).toBe(0);
  return c;
}

/** A valid faces message (the protocol's example) for `deviceId`. */
function facesFor(deviceId: string, seq: number, over: Record<string, unknown> = {}) {
  const ts = Date.now();
  const { boxes: _boxes, ...base } = examples.faces;
  return { ...base, deviceId, seq, ts, start: ts - 1000, end: ts, ...over };
}

/** What changed between two /metrics readings, for one counter with these labels. */
const delta = (
  before: Metrics,
  after: Metrics,
  name: string,
  labels: Record<string, string> = {},
) => after.get(name, labels) - before.get(name, labels);
const REJECTED = 'facefleet_ingest_rejected_total';

let messages: FuzzMessage[] = [];

beforeAll(async () => {
  // Made first: it takes a few seconds of CPU, better spent before anything is running.
  messages = fuzzCorpus({
    attacker: ATTACKER,
    others: [...AGENTS, 'abuse-nobody'],
    count: FUZZ_MESSAGES,
    foreignSeq: FOREIGN_SEQ,
    random: prng(SEED),
  });
  cp = await startControlPlane({
    args: [
      '--engine-max-bytes',
      String(ENGINE_LIMIT),
      '--rate-per-sec',
      '100000',
      '--rate-burst',
      '100000',
    ],
  });
  attackerToken = await cp.enroll(ATTACKER, { deviceClass: hostDeviceClass });
  for (const deviceId of AGENTS) agents.push(await startAgent({ controlPlane: cp, deviceId }));
  await waitFor(() => AGENTS.every((id) => rowCounts(id).face_windows >= 2), {
    timeoutMs: 60_000,
    what: 'both agents to be ingested',
  });
  baseline = {
    rows: Object.fromEntries(AGENTS.map((id) => [id, rowCounts(id)])),
    agentPids: agents.map((a) => a.process.pid),
    restarts: {},
  };
  for (const id of AGENTS)
    baseline.restarts[id] = (await device(cp, id)).status?.runner.restarts ?? 0;
}, 120_000);

afterAll(async () => {
  const codes: Record<string, number | null> = {};
  for (const a of agents) codes[a.deviceId] = await a.stop();
  if (cp) codes['control-plane'] = await cp.stop();
  expect(codes).toEqual({ 'abuse-b': 0, 'abuse-c': 0, 'control-plane': 0 });
}, 60_000);

describe('abuse of a running fleet', { timeout: 120_000 }, () => {
  it('refuses wrong MQTT logins and counts each; a refused login naming a device does not disturb it', async () => {
    const before = await cp.metrics();
    const b = agentOf(B);
    const logsBefore = b.logs.length;
    const attempts: [string, { clientId: string; username?: string; password?: string }][] = [
      [
        "B's name, a wrong token, B's own client id",
        { clientId: `facefleet-agent-${B}`, username: B, password: 'ff-wrong' },
      ],
      ['an unknown device', { clientId: 'x1', username: 'abuse-nobody', password: attackerToken }],
      [
        "the attacker's name with B's token",
        { clientId: 'x2', username: ATTACKER, password: b.token },
      ],
      ['an empty password', { clientId: 'x3', username: B, password: '' }],
      ['no password', { clientId: 'x4', username: B }],
      ['no username at all', { clientId: 'x5' }],
      ['an unknown subscriber', { clientId: 'x6', username: 'subscriber@nobody', password: 'x' }],
      [
        "the control plane's own name",
        { clientId: 'x7', username: 'control-plane', password: 'x' },
      ],
    ];
    for (const [what, o] of attempts) {
      const c = await wire(o.clientId, o.username, o.password);
      expect(c.returnCode, what).toBe(4); // bad username or password
      await c.whenClosed;
    }
    const after = await cp.metrics();
    expect(
      after.sum('facefleet_mqtt_auth_failures_total') -
        before.sum('facefleet_mqtt_auth_failures_total'),
    ).toBe(attempts.length);
    // B's own session was never touched
    expect(b.logs.slice(logsBefore).filter((l) => /mqtt connection closed/.test(l.msg))).toEqual(
      [],
    );
    expect(after.get('facefleet_connected_devices')).toBe(AGENTS.length);
  });

  it('refuses wrong or missing API tokens with 401 and the error JSON, and counts them', async () => {
    const before = await cp.metrics();
    const basic = (user: string, secret: string) =>
      `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    const cases: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['a wrong bearer token', { authorization: 'Bearer ff_0123456789abcdef_nottherightsecret' }],
      ['a bearer with no token', { authorization: 'Bearer' }],
      ['an unknown scheme', { authorization: `Token ${cp.adminToken}` }],
      ["a device's name with a wrong token", { authorization: basic(B, 'wrong') }],
      ["a device's name with another's token", { authorization: basic(B, attackerToken) }],
    ];
    for (const [what, headers] of cases) {
      const res = await fetch(`${cp.url}/api/v1/devices`, { headers });
      expect(res.status, what).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await res.json()) as ErrorBody).error.code, what).toBe('unauthorized');
    }
    const after = await cp.metrics();
    const failures = 'facefleet_http_auth_failures_total';
    expect(delta(before, after, failures, { reason: 'missing_token' })).toBe(1);
    expect(delta(before, after, failures, { reason: 'invalid_token' })).toBe(cases.length - 1);
  });

  it("a device can neither publish as another device nor read another's desired state", async () => {
    const before = await cp.metrics();
    // On B's topic: the ACL refuses it and the connection is closed (MQTT 3.1.1 has no negative PUBACK).
    for (const topic of [topics.faces(B), topics.status(B)]) {
      const c = await attacker();
      await expect(
        c.publish(topic, JSON.stringify(facesFor(B, FOREIGN_SEQ)), { retain: true }),
      ).rejects.toThrow(/closed/);
      await c.whenClosed;
    }
    // On its own topic in B's name: read, counted, acknowledged and dropped.
    const c = await attacker();
    await c.publish(topics.faces(ATTACKER), JSON.stringify(facesFor(B, FOREIGN_SEQ + 1)));
    // Subscriptions to anything but its own desired state are refused (SUBACK 128).
    const refused = [
      topics.desired(B),
      'facefleet/v1/devices/+/desired',
      'facefleet/v1/devices/abuse-b/#',
      'facefleet/v1/#',
      '#',
      '$SYS/#',
    ];
    for (const filter of refused) expect(await c.subscribe(filter), filter).toBe(0x80);
    expect(await c.subscribe(topics.desired(ATTACKER))).toBe(1);
    expect(c.messages).toEqual([]);
    await c.end();
    // Taking over B's session with its client id: refused, B stays connected.
    const b = agentOf(B);
    const logsBefore = b.logs.length;
    const takeover = await wire(`facefleet-agent-${B}`, ATTACKER, attackerToken);
    expect(takeover.returnCode).not.toBe(0);
    await takeover.whenClosed;

    const after = await cp.metrics();
    expect(delta(before, after, REJECTED, { reason: 'acl' })).toBe(2);
    expect(delta(before, after, REJECTED, { reason: 'device_mismatch' })).toBe(1);
    expect(delta(before, after, REJECTED, { reason: 'acl_subscribe' })).toBe(refused.length);
    expect(foreignRows(B)).toBe(0);
    expect(rowCounts(ATTACKER)).toEqual(Object.fromEntries(TABLES.map((t) => [t, 0])));
    // B's retained status is still its own, online
    expect((await device(cp, B)).status?.state).toBe('online');
    expect(b.logs.slice(logsBefore).filter((l) => /mqtt connection closed/.test(l.msg))).toEqual(
      [],
    );
  });

  it('a viewer token writes nothing: 403 with the error JSON on every write route', async () => {
    const viewer = (
      await cp.json<{ token: string }>(
        'POST',
        '/api/v1/tokens',
        { role: 'viewer', name: 'abuse viewer' },
        { expect: 201 },
      )
    ).token;
    // things for the viewer to try to change, made by the admin
    const admin = await cp.json<{ id: string }>(
      'POST',
      '/api/v1/tokens',
      { role: 'admin', name: 'abuse admin 2' },
      { expect: 201 },
    );
    await cp.json(
      'POST',
      '/api/v1/alert-rules',
      { id: 'abuse-rule', kind: 'no_faces', forS: 86_400 },
      { expect: 201 },
    );
    const snapshot = async () => ({
      // what an operator controls (last-seen times and reports change as the agents run)
      devices: (
        await cp.json<{ devices: { id: string; tags: string[]; deviceClass: string }[] }>(
          'GET',
          '/api/v1/devices',
        )
      ).devices.map(({ id, tags, deviceClass }) => ({ id, tags, deviceClass })),
      engines: (await cp.json<{ engines: unknown[] }>('GET', '/api/v1/engines')).engines,
      rollouts: (await cp.json<{ rollouts: unknown[] }>('GET', '/api/v1/rollouts')).rollouts,
      rules: (await cp.json<{ rules: unknown[] }>('GET', '/api/v1/alert-rules')).rules,
      tokens: (await cp.json<{ tokens: unknown[] }>('GET', '/api/v1/tokens')).tokens,
    });
    const before = await snapshot();
    const metricsBefore = await cp.metrics();
    const engineQuery = new URLSearchParams({
      id: 'abuse-viewer-engine',
      name: 'viewer.onnx',
      model: 'blazeface',
      backend: 'opencv',
      format: 'onnx',
      deviceClass: hostDeviceClass,
      precision: 'fp32',
      inputDims: '3,256,256',
    });
    const writes: [string, string, unknown?][] = [
      ['POST', '/api/v1/devices', { id: 'abuse-viewer-dev', deviceClass: hostDeviceClass }],
      ['DELETE', `/api/v1/devices/${B}`],
      ['POST', `/api/v1/devices/${B}/token`],
      ['PUT', `/api/v1/devices/${B}/tags`, { tags: ['owned'] }],
      ['POST', `/api/v1/engines?${engineQuery}`, Buffer.from('not an engine')],
      [
        'POST',
        '/api/v1/rollouts',
        { engineId: 'abuse-viewer-engine', selector: { deviceIds: [B] }, canaryShare: 0 },
      ],
      ['POST', '/api/v1/rollouts/abuse-any/pause'],
      ['POST', '/api/v1/rollouts/abuse-any/resume'],
      ['POST', '/api/v1/rollouts/abuse-any/abort'],
      ['POST', '/api/v1/alert-rules', { id: 'abuse-viewer-rule', kind: 'no_faces' }],
      ['DELETE', '/api/v1/alert-rules/abuse-rule'],
      ['POST', '/api/v1/tokens', { role: 'admin', name: 'escalation' }],
      ['DELETE', `/api/v1/tokens/${admin.id}`],
      ['POST', '/api/v1/subscribers', { name: 'abuse-viewer-sub' }],
      ['DELETE', '/api/v1/subscribers/abuse-any'],
    ];
    for (const [method, path, body] of writes) {
      const res = await cp.api(method, path, body, { token: viewer });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await res.json()) as ErrorBody).error, `${method} ${path}`).toMatchObject({
        code: 'forbidden',
        message: expect.stringMatching(/needs the (operator|admin) role/),
      });
    }
    // …and a device's own credentials are no operator's either
    const asDevice = await fetch(`${cp.url}/api/v1/devices/${B}`, {
      method: 'DELETE',
      headers: {
        authorization: `Basic ${Buffer.from(`${ATTACKER}:${attackerToken}`).toString('base64')}`,
      },
    });
    expect(asDevice.status).toBe(403);
    const after = await cp.metrics();
    expect(
      delta(metricsBefore, after, 'facefleet_http_auth_failures_total', { reason: 'forbidden' }),
    ).toBe(writes.length + 1);
    expect(await snapshot()).toEqual(before);
    // the viewer still reads
    expect((await cp.api('GET', '/api/v1/devices', undefined, { token: viewer })).status).toBe(200);
  });

  it('engine uploads and blob paths with traversal are refused, naming the field; nothing is written outside the engine store', async () => {
    const store = join(cp.dataDir, 'engines');
    const files = () => tree(cp.dataDir, /^facefleet\.db/);
    const before = files();
    const passwd = statSync('/etc/passwd');
    const upload = (over: Record<string, string>) =>
      cp.api(
        'POST',
        `/api/v1/engines?${new URLSearchParams({
          name: 'ok.onnx',
          model: 'blazeface',
          backend: 'opencv',
          format: 'onnx',
          deviceClass: hostDeviceClass,
          precision: 'fp32',
          inputDims: '3,256,256',
          ...over,
        })}`,
        Buffer.from('root:x:0:0:pwned:/root:/bin/sh\n'),
      );
    const refused: [string, Record<string, string>][] = [
      ['name', { name: '../../etc/passwd' }],
      ['name', { name: '../../../../../../../../etc/passwd' }],
      ['name', { name: '/etc/passwd' }],
      ['name', { name: '..\\..\\etc\\passwd' }],
      ['name', { name: 'model\u0000.onnx' }],
      ['name', { name: 'model.onnx\u0000/../../etc/passwd' }],
      ['id', { id: '../../etc/passwd' }],
      ['id', { id: '..' }],
      ['id', { id: '/etc/passwd' }],
      ['id', { id: 'a/b' }],
      ['id', { id: 'eng\u0000x' }],
    ];
    for (const [field, over] of refused) {
      const res = await upload(over);
      const what = `${field} ${JSON.stringify(over[field])}`;
      expect(res.status, what).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code, what).toBe('invalid_request');
      expect(body.error.message, what).toMatch(new RegExp(`^invalid query: ${field}: `));
      expect(
        (body.error.details as { path: string }[]).map((d) => d.path),
        what,
      ).toContain(field);
    }
    // The blob route, with the path sent exactly as written.
    const paths = [
      '/api/v1/engines/..%2F..%2F..%2Fetc%2Fpasswd/blob',
      '/api/v1/engines/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd/blob',
      '/api/v1/engines/%252e%252e%252fetc%252fpasswd/blob',
      '/api/v1/engines/%2E%2E/%2E%2E/%2E%2E/etc/passwd/blob',
      '/api/v1/engines/../../../etc/passwd/blob',
      '/api/v1/engines/..%5C..%5C..%5Cetc%5Cpasswd/blob',
      `/api/v1/engines/${'..%2F'.repeat(30)}etc%2Fshadow/blob`,
      '/api/v1/engines/x%00..%2F..%2Fetc%2Fpasswd/blob',
      '/api/v1/engines/%2Fetc%2Fpasswd/blob',
    ];
    for (const path of paths) {
      const res = await rawRequest('GET', path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(res.headers['content-type'], path).toMatch(/application\/json/);
      expect(JSON.parse(res.body).error.code, path).toMatch(/^(not_found|invalid_request)$/);
      expect(res.body, path).not.toMatch(/root:|daemon:/);
    }
    expect(files()).toEqual(before);
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
    expect(statSync('/etc/passwd').mtimeMs).toBe(passwd.mtimeMs);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toContain('pwned');
  });

  it('oversize input is refused: MQTT payloads past 64 KiB and packets past the cap, HTTP bodies and uploads past their limits', async () => {
    const before = await cp.metrics();
    const enginesBefore = tree(join(cp.dataDir, 'engines'), /^$/);
    // MQTT: a payload over the protocol's limit is read, counted and dropped; the link stays.
    const c = await attacker();
    const big = JSON.stringify({ ...facesFor(ATTACKER, 1), pad: 'x'.repeat(MAX_PAYLOAD_BYTES) });
    await c.publish(topics.faces(ATTACKER), big);
    expect(c.closed).toBe(false);
    // A packet announcing more than the 1 MiB cap: the connection ends before it is read.
    c.write(Buffer.from([0x30, ...encodeLength(3 * 1024 * 1024)]));
    c.write(Buffer.alloc(256 * 1024, 0x7b));
    await c.whenClosed;
    // …also before any login: a CONNECT announcing 50 MB.
    const anon = connectTcp(mqttPort(), '127.0.0.1');
    anon.on('error', () => {});
    const anonClosed = new Promise((r) => anon.once('close', r));
    anon.write(Buffer.from([0x10, ...encodeLength(50_000_000), 0, 4]));
    await anonClosed;

    // HTTP: a JSON body over 8 MiB, with a content-length and streamed without one.
    const huge = Buffer.from(
      JSON.stringify({ id: 'abuse-huge', kind: 'no_faces', pad: 'x'.repeat(9 * 1024 * 1024) }),
    );
    const declared = await cp.api('POST', '/api/v1/alert-rules', huge, {
      headers: { 'content-type': 'application/json' },
    });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as ErrorBody).error.code).toBe('too_large');
    const chunks = function* (total: number) {
      for (let sent = 0; sent < total; sent += 64 * 1024) yield Buffer.alloc(64 * 1024, 0x61);
    };
    const streamed = await rawRequest('POST', '/api/v1/alert-rules', {
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: chunks(9 * 1024 * 1024),
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error.code).toBe('too_large');
    // An engine over --engine-max-bytes, declared and streamed.
    const q = new URLSearchParams({
      name: 'big.onnx',
      model: 'blazeface',
      backend: 'opencv',
      format: 'onnx',
      deviceClass: hostDeviceClass,
      precision: 'fp32',
      inputDims: '3,256,256',
    });
    const engineDeclared = await cp.api(
      'POST',
      `/api/v1/engines?${q}`,
      Buffer.alloc(ENGINE_LIMIT + 1),
    );
    expect(engineDeclared.status).toBe(413);
    const engineStreamed = await rawRequest('POST', `/api/v1/engines?${q}`, {
      headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      chunks: chunks(ENGINE_LIMIT + 64 * 1024),
    });
    expect(engineStreamed.status).toBe(413);
    expect(JSON.parse(engineStreamed.body).error.code).toBe('too_large');

    const after = await cp.metrics();
    expect(delta(before, after, REJECTED, { reason: 'too_large' })).toBe(1);
    expect(delta(before, after, REJECTED, { reason: 'packet_too_large' })).toBe(2);
    expect(tree(join(cp.dataDir, 'engines'), /^$/)).toEqual(enginesBefore);
    expect(
      (await cp.json<{ rules: { id: string }[] }>('GET', '/api/v1/alert-rules')).rules.map(
        (r) => r.id,
      ),
    ).not.toContain('abuse-huge');
    expect(rowCounts(ATTACKER)).toEqual(Object.fromEntries(TABLES.map((t) => [t, 0])));
  });

  it(`${FUZZ_MESSAGES.toLocaleString('en')} random or malformed payloads from a device are counted by reason and stored nowhere, while the fleet keeps being ingested (seed ${SEED})`, async () => {
    const expected = new Map<string, number>();
    for (const m of messages) expected.set(m.expect, (expected.get(m.expect) ?? 0) + 1);
    const before = await cp.metrics();
    const logLinesBefore = cp.process.lines.length;

    // /healthz, polled all along: the control plane stays responsive.
    let flooding = true;
    let maxHealthMs = 0;
    let healthPolls = 0;
    const poller = (async () => {
      while (flooding) {
        const t0 = performance.now();
        const res = await fetch(`${cp.url}/healthz`);
        expect(res.status).toBe(200);
        await res.json();
        maxHealthMs = Math.max(maxHealthMs, performance.now() - t0);
        healthPolls++;
        await sleep(200); // pacing the poller, not waiting for anything
      }
    })();

    const started = Date.now();
    let client = await attacker('abuse-a-fuzz');
    let inflight = 0;
    let wake: (() => void) | undefined;
    const errors: string[] = [];
    const settled = () =>
      new Promise<void>((r) => {
        wake = () => {
          wake = undefined;
          r();
        };
      });
    for (const m of messages) {
      if (m.expect === 'acl') {
        // refused by the ACL, which closes the connection: sent alone, then log in again
        while (inflight > 0) await settled();
        await expect(client.publish(m.topic, m.payload)).rejects.toThrow(/closed/);
        client = await attacker('abuse-a-fuzz');
        continue;
      }
      while (inflight >= 200) await settled();
      inflight++;
      client.publishQos1(m.topic, m.payload, (err) => {
        inflight--;
        if (err) errors.push(`${m.topic}: ${err.message}`);
        wake?.();
      });
    }
    while (inflight > 0) await settled();
    const ended = Date.now();
    flooding = false;
    await poller;
    await client.end();
    expect(errors).toEqual([]);

    const after = await cp.metrics();
    const counted = Object.fromEntries(
      [...expected.keys()].map((reason) => [reason, delta(before, after, REJECTED, { reason })]),
    );
    expect(counted).toEqual(Object.fromEntries(expected));
    expect(after.sum(REJECTED) - before.sum(REJECTED)).toBe(FUZZ_MESSAGES);
    // Counted, not each logged: a flooding client cannot fill the disk with warnings.
    const refusalLines = cp.process.lines
      .slice(logLinesBefore)
      .filter((l) => /device message refused|refused by the ACL/.test(l));
    expect(refusalLines.length).toBeGreaterThan(0);
    expect(refusalLines.length).toBeLessThanOrEqual(10 * (expected.size + 1));
    expect(rowCounts(ATTACKER)).toEqual(Object.fromEntries(TABLES.map((t) => [t, 0])));
    for (const id of AGENTS) {
      expect(foreignRows(id), id).toBe(0);
      // the real agents were ingested all along
      expect(windowsBetween(id, started, ended), id).toBeGreaterThanOrEqual(1);
    }
    expect(healthPolls).toBeGreaterThanOrEqual(1);
    expect(maxHealthMs).toBeLessThan(3000);
    console.log(
      `fuzz: ${FUZZ_MESSAGES} messages in ${ended - started} ms ` +
        `(${Math.round((FUZZ_MESSAGES / (ended - started)) * 1000)}/s): ` +
        `${JSON.stringify(Object.fromEntries(expected))}; /healthz at most ${Math.round(maxHealthMs)} ms`,
    );

    // Topics that break the protocol itself (wildcards, empty): the connection is dropped, and
    // the refusal counted.
    const badTopics = ['facefleet/v1/devices/+/faces', 'facefleet/v1/#', ''];
    for (const topic of badTopics) {
      const c = await attacker('abuse-a-fuzz');
      await expect(c.publish(topic, '{}')).rejects.toThrow(/closed/);
    }
    const afterTopics = await cp.metrics();
    expect(delta(after, afterTopics, REJECTED, { reason: 'bad_topic' })).toBe(badTopics.length);
    expect(rowCounts(ATTACKER)).toEqual(Object.fromEntries(TABLES.map((t) => [t, 0])));
  });

  it('nothing crashed and nothing stored was lost: the same processes run and keep ingesting', async () => {
    expect(cp.process.running).toBe(true);
    expect(agents.map((a) => a.process.pid)).toEqual(baseline.agentPids);
    expect(agents.every((a) => a.process.running)).toBe(true);
    for (const id of AGENTS) {
      const now = rowCounts(id);
      for (const t of TABLES)
        expect(now[t], `${id} ${t}`).toBeGreaterThanOrEqual(baseline.rows[id]![t]);
      const d = await device(cp, id);
      expect(d.status?.state).toBe('online');
      // their runners never restarted
      expect(d.status?.runner.restarts).toBe(baseline.restarts[id]);
    }
    const since = Date.now();
    await waitFor(() => AGENTS.every((id) => windowsBetween(id, since) >= 1), {
      timeoutMs: 30_000,
      what: 'new windows from both agents',
    });
    expect(
      (await cp.json<{ devices: { id: string }[] }>('GET', '/api/v1/devices')).devices
        .map((d) => d.id)
        .sort(),
    ).toEqual([ATTACKER, ...AGENTS].sort());
  });
});
