import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ argv: [], env: {}, cwd: '/srv' });
    expect(c.dataDir).toBe('/srv/.data');
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8080, sessionTtlS: 43_200 });
    // The dashboard is found beside this app in the repository unless --dashboard-dir says where.
    expect(c.http.dashboardDir).toMatch(/apps\/dashboard\/dist$/);
    expect(
      loadConfig({ argv: ['--dashboard-dir', 'web'], env: {}, cwd: '/srv' }).http.dashboardDir,
    ).toBe('/srv/web');
    expect(c.mqtt).toMatchObject({ port: 1883, wsPort: 8083, broker: null });
    expect(c.keyFile).toBe('/srv/.data/fleet-key.pem');
    expect(c.retention).toEqual({ rawDays: 7, rollupDays: 90 });
  });

  it('takes TLS listeners with their certificate files, and names what a TLS setting lacks', () => {
    const c = loadConfig({
      argv: [
        '--tls-cert-file',
        'tls/cp.crt',
        '--tls-key-file',
        'tls/cp.key',
        '--tls-client-ca-file',
        'tls/fleet-ca.crt',
        '--http-tls',
        'true',
        '--mqtt-tls-port',
        '8883',
        '--mqtt-wss-port',
        '8084',
        '--mqtt-port',
        'off',
      ],
      env: {},
      cwd: '/etc/facefleet',
    });
    expect(c.tls).toEqual({
      certFile: '/etc/facefleet/tls/cp.crt',
      keyFile: '/etc/facefleet/tls/cp.key',
      clientCaFile: '/etc/facefleet/tls/fleet-ca.crt',
      watchMs: 5000,
    });
    expect(c.http.tls).toBe(true);
    expect(c.mqtt).toMatchObject({ port: null, tlsPort: 8883, wssPort: 8084 });
    // defaults: no TLS anywhere
    const plain = loadConfig({ argv: [], env: {} });
    expect(plain.http.tls).toBe(false);
    expect(plain.mqtt).toMatchObject({ port: 1883, tlsPort: null, wssPort: null });

    const issues = (argv: string[]) => {
      try {
        loadConfig({ argv, env: {} });
      } catch (err) {
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(issues(['--mqtt-tls-port', '8883'])).toEqual([
      { path: 'tls.certFile', message: 'required by mqtt.tlsPort (--tls-cert-file)' },
      { path: 'tls.keyFile', message: 'required by mqtt.tlsPort (--tls-key-file)' },
    ]);
    expect(issues(['--tls-cert-file', 'a', '--tls-key-file', 'b']).map((i) => i.path)).toEqual([
      'tls',
    ]);
    expect(
      issues([
        '--http-tls',
        'on',
        '--tls-cert-file',
        'a',
        '--tls-key-file',
        'b',
        '--tls-client-ca-file',
        'c',
      ]),
    ).toEqual([
      expect.objectContaining({
        path: 'tls.clientCaFile',
        message: expect.stringMatching(/mqtt.tlsPort/),
      }),
    ]);
    expect(issues(['--http-tls', 'maybe']).map((i) => i.path)).toEqual(['http.tls']);
    // the client of an external broker: a certificate needs its key, and an mqtts:// URL
    expect(issues(['--broker', 'mqtt://b:1883', '--broker-cert-file', 'c.crt'])).toEqual([
      expect.objectContaining({ path: 'mqtt.brokerKeyFile' }),
      expect.objectContaining({ path: 'mqtt.broker', message: expect.stringMatching(/mqtts/) }),
    ]);
    const ext = loadConfig({
      argv: ['--broker', 'mqtts://b:8883', '--broker-ca-file', 'ca.pem'],
      env: {},
      cwd: '/srv',
    });
    expect(ext.mqtt.brokerCaFile).toBe('/srv/ca.pem');
  });

  it('layers file < environment < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facefleet-config-'));
    const file = join(dir, 'cp.json');
    writeFileSync(
      file,
      JSON.stringify({ http: { port: 9000 }, mqtt: { port: 2000 }, logLevel: 'warn' }),
    );
    const c = loadConfig({
      argv: ['--config', file, '--mqtt-port=3000'],
      env: {
        FACEFLEET_MQTT_PORT: '2500',
        FACEFLEET_DATA_DIR: '/var/lib/ff',
        FACEFLEET_BROKER: 'mqtt://broker:1883',
      },
    });
    expect(c.http.port).toBe(9000);
    expect(c.mqtt.port).toBe(3000);
    expect(c.logLevel).toBe('warn');
    expect(c.dataDir).toBe('/var/lib/ff');
    expect(c.mqtt.broker).toBe('mqtt://broker:1883');
  });

  it('names every wrong field at once', () => {
    let error: unknown;
    try {
      loadConfig({
        argv: ['--http-port', 'eighty', '--frobnicate', '1', '--broker', 'http://x'],
        env: { FACEFLEET_RETENTION_RAW_DAYS: '-1' },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['--frobnicate', 'http.port', 'mqtt.broker', 'retention.rawDays']);
    expect((error as ConfigError).message).toContain('http.port');
  });

  it('refuses a config file that is not JSON, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facefleet-config-'));
    writeFileSync(join(dir, 'bad.json'), '{port: 1');
    expect(() => loadConfig({ argv: ['--config', join(dir, 'bad.json')], env: {} })).toThrow(
      /config file/,
    );
  });

  it('takes the dynamic-security admin login for an external broker, from flags or environment', () => {
    const c = loadConfig({
      argv: ['--broker', 'mqtt://broker:1883', '--broker-admin', 'dynsec'],
      env: { FACEFLEET_BROKER_ADMIN_PASSWORD: 'pw' },
    });
    expect(c.mqtt).toMatchObject({
      brokerAdmin: 'dynsec',
      brokerAdminUsername: 'admin',
      brokerAdminPassword: 'pw',
    });
    expect(loadConfig({ argv: [], env: {} }).mqtt.brokerAdmin).toBe('none');
  });

  it('refuses broker-admin dynsec without an external broker or an admin password, naming both', () => {
    const issues = (argv: string[]) => {
      try {
        loadConfig({ argv, env: {} });
      } catch (err) {
        if (err instanceof ConfigError) return err.issues;
        throw err;
      }
      return [];
    };
    expect(issues(['--broker-admin', 'dynsec']).map((i) => i.path)).toEqual([
      'mqtt.brokerAdmin',
      'mqtt.brokerAdminPassword',
    ]);
    expect(issues(['--broker-admin', 'dynsec'])[1]?.message).toMatch(/--broker-admin-password/);
    const wrong = issues(['--broker', 'mqtt://b:1883', '--broker-admin', 'ldap']);
    expect(wrong.map((i) => i.path)).toEqual(['mqtt.brokerAdmin']);
    expect(wrong[0]?.message).toMatch(/dynsec/);
  });

  it('turns MQTT over WebSocket off', () => {
    expect(loadConfig({ argv: ['--mqtt-ws-port', 'off'], env: {} }).mqtt.wsPort).toBeNull();
  });
});
