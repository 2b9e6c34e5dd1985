import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { examples, topics } from '@facefleet/protocol';
import {
  type Agent,
  type CertificateAuthority,
  type ControlPlane,
  canConnect,
  cliMain,
  connectWire,
  controlPlaneMain,
  createTestPki,
  fetchTrusting,
  freePort,
  type IssuedCertificate,
  repoRoot,
  startAgent,
  startControlPlane,
  startMosquitto,
  startProcess,
  type TestPki,
  type WireClient,
  waitFor,
} from '@facefleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue #17, transport security: the built control plane serving its API over HTTPS and its
 * embedded broker over MQTT-over-TLS and secure WebSocket, with certificates that openssl makes
 * for this run (a fleet CA, another CA, a server certificate, device certificates valid, expired
 * and not yet valid). Real agents connect over mqtts:// and wss://; raw MQTT clients try what an
 * attacker would; the certificate is rotated under 100 connected devices; the CLI talks HTTPS.
 */

let pki: TestPki;
let fleetCa: CertificateAuthority;
let otherCa: CertificateAuthority;
/** The files the control plane serves: rewritten to rotate its certificate. */
let served: { certFile: string; keyFile: string };
let cp: ControlPlane;
const agents: Agent[] = [];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The SHA-256 fingerprint (lowercase hex) of the certificate a new TLS connection is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: fleetCa.pem }, () => {
      const fp = socket.getPeerCertificate().fingerprint256.replaceAll(':', '').toLowerCase();
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

/** A raw MQTT-over-TLS login to the control plane's broker (test CA trusted unless `ca` says). */
function mqtts(
  clientId: string,
  login: { username?: string; password?: string; cert?: IssuedCertificate; ca?: string },
): Promise<WireClient> {
  return connectWire({
    port: cp.ports.tls ?? 0,
    clientId,
    ...(login.username !== undefined ? { username: login.username } : {}),
    ...(login.password !== undefined ? { password: login.password } : {}),
    tls: {
      ca: login.ca ?? fleetCa.pem,
      ...(login.cert
        ? { cert: readFileSync(login.cert.certFile), key: readFileSync(login.cert.keyFile) }
        : {}),
    },
  });
}

/**
 * Enrolls device `id` and a certificate the fleet CA issues for it; the certificate, after
 * checking that the API enrolled it under its fingerprint.
 */
async function enrollWithCertificate(id: string): Promise<IssuedCertificate> {
  await cp.enroll(id);
  const cert = fleetCa.issue(id);
  const { certificate } = await cp.json<{ certificate: { fingerprint: string } }>(
    'POST',
    `/api/v1/devices/${id}/certificates`,
    { pem: cert.pem },
    { expect: 201 },
  );
  expect(certificate.fingerprint).toBe(cert.fingerprint);
  return cert;
}

/** A face window of the last second. */
const facesPayload = (deviceId: string, seq: number) => {
  const now = Date.now();
  return JSON.stringify({ ...examples.faces, deviceId, seq, ts: now, start: now - 1000, end: now });
};

/** Face windows stored for `deviceId` over the last minute (through the API). */
async function windowsStored(server: ControlPlane, deviceId: string): Promise<number> {
  const to = Date.now();
  const r = await server.json<{ buckets: { windows: number }[] }>(
    'GET',
    `/api/v1/devices/${deviceId}/faces?from=${to - 60_000}&to=${to}&bucket=1s`,
  );
  return r.buckets.reduce((n, b) => n + b.windows, 0);
}

beforeAll(async () => {
  pki = createTestPki();
  fleetCa = pki.ca('fleet-ca');
  otherCa = pki.ca('other-ca');
  const first = fleetCa.issue('control-plane', { kind: 'server' });
  served = { certFile: `${pki.dir}/served.crt`, keyFile: `${pki.dir}/served.key` };
  copyFileSync(first.certFile, served.certFile);
  copyFileSync(first.keyFile, served.keyFile);
  cp = await startControlPlane({
    tls: { ...served, caFile: fleetCa.certFile, clientCaFile: fleetCa.certFile },
    // file changes are noticed within 200 ms (SIGHUP reloads at once)
    args: ['--tls-watch-ms', '200'],
  });
}, 60_000);

afterAll(async () => {
  const codes = await Promise.all(agents.map((a) => a.stop()));
  expect(codes.every((c) => c === 0)).toBe(true);
  if (cp) expect(await cp.stop()).toBe(0);
  pki?.cleanup();
}, 60_000);

describe('TLS on every listener', { timeout: 120_000 }, () => {
  it('agents over mqtts:// and over wss://, and one logging in by its device certificate, have their faces stored', async () => {
    expect(cp.url).toMatch(/^https:\/\//);
    const ca = ['--ca-file', fleetCa.certFile];
    agents.push(
      await startAgent({
        controlPlane: cp,
        deviceId: 'tls-mqtts',
        brokerUrl: cp.mqttsUrl ?? '',
        args: ca,
      }),
      await startAgent({
        controlPlane: cp,
        deviceId: 'tls-wss',
        brokerUrl: cp.wssUrl ?? '',
        args: ca,
      }),
    );
    // enrolled, then given a certificate; its agent holds a token that is not the device's, so
    // only the certificate can log it in
    const cert = await enrollWithCertificate('tls-cert');
    agents.push(
      await startAgent({
        controlPlane: cp,
        deviceId: 'tls-cert',
        token: 'not-the-device-token',
        brokerUrl: cp.mqttsUrl ?? '',
        args: [...ca, '--mqtt-cert-file', cert.certFile, '--mqtt-key-file', cert.keyFile],
      }),
    );
    for (const agent of agents) {
      await agent.waitForLog('mqtt connected');
      await waitFor(async () => (await windowsStored(cp, agent.deviceId)) > 0, {
        timeoutMs: 30_000,
        what: `${agent.deviceId}: face windows stored`,
      });
    }
  });

  it('refuses clients that cannot verify the server, and client certificates that are expired, not yet valid, or of another CA', async () => {
    // the client does not trust the server's certificate: no TLS session, over MQTT or HTTPS
    await expect(
      mqtts('wrong-ca', { username: 'x', password: 'y', ca: otherCa.pem }),
    ).rejects.toThrow(/closed before CONNACK.*(self[- ]signed|unable to verify|certificate)/i);
    await expect(fetchTrusting(otherCa.pem)(`${cp.url}/healthz`)).rejects.toThrow();
    // and TLS below 1.2 is not offered
    await expect(
      connectWire({
        port: cp.ports.tls ?? 0,
        clientId: 'tls-1.1',
        tls: { ca: fleetCa.pem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' },
      }),
    ).rejects.toThrow(/closed before CONNACK/);
    await waitFor(
      async () => {
        const m = await cp.metrics();
        const failed = (listener: string) =>
          m.get('facefleet_tls_handshake_failures_total', { listener }) ?? 0;
        return failed('mqtts') >= 2 && failed('https') >= 1;
      },
      { what: 'the failed handshakes counted per listener' },
    );

    const token = await cp.enroll('tls-bad-certs');
    const expired = fleetCa.issue('tls-bad-certs', {
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const early = fleetCa.issue('tls-bad-certs', {
      notBefore: new Date(Date.now() + DAY),
      notAfter: new Date(Date.now() + 10 * DAY),
    });
    const foreign = otherCa.issue('tls-bad-certs');
    // the API enrolls none of the expired or foreign ones, nor one naming another device
    for (const [pem, reason] of [
      [expired.pem, /expired/],
      [foreign.pem, /not signed by the fleet CA/],
      [fleetCa.issue('tls-other-name').pem, /not the device id/],
      ['-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----', /not a PEM certificate/],
    ] as const) {
      const res = await cp.api('POST', '/api/v1/devices/tls-bad-certs/certificates', { pem });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(reason);
    }
    // one not valid yet may be enrolled ahead of time, but it does not log in before its day
    await cp.json(
      'POST',
      '/api/v1/devices/tls-bad-certs/certificates',
      { pem: early.pem },
      { expect: 201 },
    );
    const refusals = (await cp.metrics()).sum('facefleet_mqtt_auth_failures_total');
    for (const [n, cert] of [expired, early, foreign].entries()) {
      // refused even with the device's valid token beside it: a certificate that does not verify
      // is never ignored
      const c = await mqtts(`bad-cert-${n}`, { username: 'tls-bad-certs', password: token, cert });
      expect(c.returnCode).toBe(5);
      c.destroy();
    }
    expect((await cp.metrics()).sum('facefleet_mqtt_auth_failures_total')).toBe(refusals + 3);
    expect(cp.process.lines.join('\n')).toMatch(/CERT_HAS_EXPIRED/);
    expect(cp.process.lines.join('\n')).toMatch(/CERT_NOT_YET_VALID/);
    // the token alone, over the same listener, still logs the device in
    const ok = await mqtts('tls-bad-certs-token', { username: 'tls-bad-certs', password: token });
    expect(ok.returnCode).toBe(0);
    await ok.end();
  });

  it("a device certificate for cam-a logs in as cam-a only, and publishes nothing of cam-b's", async () => {
    const certA = await enrollWithCertificate('cam-a');
    await cp.enroll('cam-b');
    // cam-a's certificate claiming to be cam-b, with and without a password
    for (const password of [undefined, 'guess']) {
      const c = await mqtts(`impersonate-${password ?? 'none'}`, {
        username: 'cam-b',
        ...(password ? { password } : {}),
        cert: certA,
      });
      expect(c.returnCode).toBe(4);
      c.destroy();
    }
    // logged in as cam-a by its certificate alone: its own topics yes, cam-b's no
    const a = await mqtts('cam-a-raw', { username: 'cam-a', cert: certA });
    expect(a.returnCode).toBe(0);
    await a.publish(topics.faces('cam-a'), facesPayload('cam-a', 1), { qos: 1 });
    await expect(
      a.publish(topics.faces('cam-b'), facesPayload('cam-b', 1), { qos: 1 }),
    ).rejects.toThrow();
    await a.whenClosed;
    // cam-a's own window was stored, none in cam-b's name
    expect(await windowsStored(cp, 'cam-a')).toBe(1);
    expect(await windowsStored(cp, 'cam-b')).toBe(0);
  });

  it('a revoked device certificate is dropped at once and logs in no more', async () => {
    const cert = await enrollWithCertificate('tls-revoked');
    const c = await mqtts('tls-revoked-1', { username: 'tls-revoked', cert });
    expect(c.returnCode).toBe(0);
    await cp.json('DELETE', `/api/v1/devices/tls-revoked/certificates/${cert.fingerprint}`);
    await c.whenClosed;
    const again = await mqtts('tls-revoked-2', { username: 'tls-revoked', cert });
    expect(again.returnCode).toBe(4);
    again.destroy();
    const list = await cp.json<{ certificates: { fingerprint: string; revokedAt: number }[] }>(
      'GET',
      '/api/v1/devices/tls-revoked/certificates',
    );
    expect(list.certificates).toEqual([
      expect.objectContaining({ fingerprint: cert.fingerprint, revokedAt: expect.any(Number) }),
    ]);
  });

  it('rotates its certificate on SIGHUP and on a file change while 100 devices stay connected', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `tls-held-${i}`);
    const tokens = await Promise.all(ids.map((id) => cp.enroll(id)));
    const clients: WireClient[] = [];
    for (const [i, id] of ids.entries()) {
      const c = await mqtts(id, { username: id, password: tokens[i] });
      expect(c.returnCode).toBe(0);
      clients.push(c);
    }
    let disconnects = 0;
    for (const c of clients) void c.whenClosed.then(() => disconnects++);
    const port = cp.ports.tls ?? 0;
    const wssPort = cp.ports.wss ?? 0;
    const httpPort = cp.ports.http;
    const before = await servedFingerprint(port);

    // SIGHUP: the next connections, on every TLS listener, get the new certificate
    const second = fleetCa.issue('control-plane', { kind: 'server' });
    copyFileSync(second.keyFile, served.keyFile);
    copyFileSync(second.certFile, served.certFile);
    const since = cp.process.lines.length;
    cp.process.child.kill('SIGHUP');
    await cp.process.waitForLine(/"reason":"SIGHUP".*"TLS certificate reloaded"/, {
      timeoutMs: 10_000,
      since,
    });
    expect(second.fingerprint).not.toBe(before);
    for (const p of [port, wssPort, httpPort])
      expect(await servedFingerprint(p)).toBe(second.fingerprint);

    // a file change alone (no signal): picked up by the watcher
    const third = fleetCa.issue('control-plane', { kind: 'server' });
    const sinceFile = cp.process.lines.length;
    copyFileSync(third.keyFile, served.keyFile);
    copyFileSync(third.certFile, served.certFile);
    await cp.process.waitForLine(/"reason":"[^"]+ changed".*"TLS certificate reloaded"/, {
      timeoutMs: 10_000,
      since: sinceFile,
    });
    expect(await servedFingerprint(port)).toBe(third.fingerprint);

    // a certificate whose key is not there: refused, the one in use stays
    const fourth = fleetCa.issue('control-plane', { kind: 'server' });
    copyFileSync(fourth.certFile, served.certFile);
    const sinceBad = cp.process.lines.length;
    cp.process.child.kill('SIGHUP');
    await cp.process.waitForLine(/TLS reload failed/, { timeoutMs: 10_000, since: sinceBad });
    expect(await servedFingerprint(port)).toBe(third.fingerprint);

    // every session opened before the rotations is still there, and still publishes
    await Promise.all(
      clients.map((c, i) => c.publish(topics.faces(ids[i]!), facesPayload(ids[i]!, 1), { qos: 1 })),
    );
    expect(disconnects).toBe(0);
    expect(clients.every((c) => !c.closed)).toBe(true);
    const metrics = await cp.metrics();
    expect(metrics.get('facefleet_tls_reloads_total', { result: 'ok' })).toBe(2);
    expect(metrics.get('facefleet_tls_reloads_total', { result: 'failed' })).toBeGreaterThanOrEqual(
      1,
    );
    await Promise.all(clients.map((c) => c.end()));
    // put back a matching pair for the tests after this one
    copyFileSync(third.certFile, served.certFile);
  });

  it('serves the API over HTTPS to the CLI given the fleet CA (--ca), and the CLI manages device certificates', async () => {
    const home = pki.dir;
    const cli = async (...args: string[]) => {
      const p = startProcess(process.execPath, [cliMain, ...args], {
        name: `facefleet ${args[0]}`,
        env: { HOME: home },
      });
      const { code } = await p.exited;
      return { code, out: p.stdout.join('\n'), err: p.stderr.join('\n') };
    };
    const refused = await cli('status', '--server', cp.url, '--token', cp.adminToken);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(
      /cannot reach the control plane.*(CERT|certificate|VERIFY|SELF_SIGNED)/i,
    );

    const login = await cli(
      'login',
      '--server',
      cp.url,
      '--token',
      cp.adminToken,
      '--ca',
      fleetCa.certFile,
    );
    expect(login.err).toBe('');
    expect(login.code).toBe(0);
    // the stored login keeps the CA: later commands need no flag
    const status = await cli('status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ health: { ok: true }, me: { role: 'admin' } });

    await cp.enroll('tls-cli');
    const cert = fleetCa.issue('tls-cli');
    const add = await cli('devices', 'cert', 'add', 'tls-cli', cert.certFile);
    expect(add.code).toBe(0);
    expect(add.out).toContain(cert.fingerprint);
    const list = await cli('devices', 'cert', 'list', 'tls-cli', '--json');
    expect(JSON.parse(list.out)).toEqual([
      expect.objectContaining({ fingerprint: cert.fingerprint, revokedAt: null }),
    ]);
    const revoke = await cli('devices', 'cert', 'revoke', 'tls-cli', cert.fingerprint);
    expect(revoke.code).toBe(0);
    const bad = await cli('devices', 'cert', 'add', 'tls-cli', otherCa.issue('tls-cli').certFile);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/not signed by the fleet CA/);
  });
});

describe('a certificate the control plane cannot use', { timeout: 60_000 }, () => {
  it('stops the start with exit code 2, naming the files: a missing one, a key not of the certificate', async () => {
    const a = fleetCa.issue('control-plane', { kind: 'server' });
    const b = fleetCa.issue('control-plane', { kind: 'server' });
    for (const [tls, reason] of [
      [['--tls-cert-file', a.certFile, '--tls-key-file', b.keyFile], /key values mismatch/],
      [
        ['--tls-cert-file', join(pki.dir, 'nope.crt'), '--tls-key-file', a.keyFile],
        /tls.certFile: cannot read .*nope\.crt/,
      ],
    ] as const) {
      const p = startProcess(
        process.execPath,
        [
          controlPlaneMain,
          '--data-dir',
          join(pki.dir, `cp-refused-${reason.source.length}`),
          '--http-port',
          '0',
          '--mqtt-port',
          '0',
          '--mqtt-ws-port',
          'off',
          '--mqtt-tls-port',
          '0',
          ...tls,
        ],
        { name: 'control-plane (bad TLS files)' },
      );
      const { code } = await p.exited;
      expect(code).toBe(2);
      expect(p.stderr.join('\n')).toMatch(reason);
    }
  });
});

describe("the control plane's own client to an external broker over TLS", {
  timeout: 120_000,
}, () => {
  it('logs in to mosquitto by a client certificate, the broker checked against a CA; refuses to start on a broker it cannot verify', async () => {
    // mosquitto's TLS listener takes only client certificates of the fleet CA, their CN the username
    const tlsPort = await freePort();
    const brokerCert = fleetCa.issue('mosquitto', { kind: 'server' });
    const cpCert = fleetCa.issue('control-plane');
    pki.makeReadable();
    const mosquitto = await startMosquitto({
      config: [
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${fleetCa.certFile}`,
        `certfile ${brokerCert.certFile}`,
        `keyfile ${brokerCert.keyFile}`,
        'require_certificate true',
        'use_identity_as_username true',
      ],
    });
    let external: ControlPlane | undefined;
    try {
      await waitFor(() => canConnect(tlsPort), { what: "mosquitto's TLS listener" });
      const broker = `mqtts://localhost:${tlsPort}`;
      const certArgs = ['--broker-cert-file', cpCert.certFile, '--broker-key-file', cpCert.keyFile];
      // the broker's certificate is not of the CA given: the control plane does not start
      await expect(
        startControlPlane({
          broker,
          args: ['--broker-ca-file', otherCa.certFile, ...certArgs],
          readyTimeoutMs: 20_000,
        }),
      ).rejects.toThrow(/certificate|exited/i);
      external = await startControlPlane({
        broker,
        args: ['--broker-ca-file', fleetCa.certFile, ...certArgs],
      });
      // a device's message through mosquitto reaches the control plane's store
      await external.enroll('tls-ext');
      const device = await connectWire({ port: mosquitto.port, clientId: 'tls-ext' });
      await device.publish(topics.faces('tls-ext'), facesPayload('tls-ext', 1), { qos: 1 });
      await waitFor(async () => (await windowsStored(external!, 'tls-ext')) === 1, {
        what: 'the message taken over the TLS session to be stored',
      });
      await device.end();
      expect(mosquitto.process?.lines.join('\n')).toMatch(/as control-plane|u'control-plane'/);
    } finally {
      if (external) expect(await external.stop()).toBe(0);
      await mosquitto.close();
    }
  });
});

describe('the documented fleet CA (infra/tls/fleet-ca.sh)', { timeout: 60_000 }, () => {
  it("makes a CA, the control plane's certificate and a device certificate that work as docs/tls.md says", async () => {
    const dir = join(pki.dir, 'documented');
    const script = (...args: string[]) =>
      execFileSync('bash', [join(repoRoot, 'infra/tls/fleet-ca.sh'), ...args], {
        encoding: 'utf8',
      });
    script('init', dir);
    script('server', dir, 'control-plane', 'IP:127.0.0.1', 'DNS:localhost');
    script('device', dir, 'doc-cam');
    // keys are the owner's alone
    for (const key of ['fleet-ca.key', 'control-plane.key', 'doc-cam.key']) {
      expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);
    }
    expect(() => script('init', dir)).toThrow(/not overwriting a CA/);
    const server = await startControlPlane({
      tls: {
        certFile: join(dir, 'control-plane.crt'),
        keyFile: join(dir, 'control-plane.key'),
        caFile: join(dir, 'fleet-ca.crt'),
        clientCaFile: join(dir, 'fleet-ca.crt'),
      },
    });
    try {
      await server.enroll('doc-cam');
      await server.json(
        'POST',
        '/api/v1/devices/doc-cam/certificates',
        { pem: readFileSync(join(dir, 'doc-cam.crt'), 'utf8') },
        { expect: 201 },
      );
      const c = await connectWire({
        port: server.ports.tls ?? 0,
        clientId: 'doc-cam',
        username: 'doc-cam',
        tls: {
          ca: readFileSync(join(dir, 'fleet-ca.crt')),
          cert: readFileSync(join(dir, 'doc-cam.crt')),
          key: readFileSync(join(dir, 'doc-cam.key')),
        },
      });
      expect(c.returnCode).toBe(0);
      await c.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
