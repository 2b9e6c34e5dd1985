import { subscriberUsername } from '@facefleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startTestServer, type TestServer } from '../testing.js';
import { createSecrets, legacyScryptHash, newSecret } from './secrets.js';

const key = Buffer.alloc(32, 7);

describe('token hashes', () => {
  it('stores a keyed hash that only the same key and token verify', async () => {
    const secrets = createSecrets(key);
    const token = newSecret();
    const hash = secrets.hash(token);
    expect(hash).toMatch(/^hmac-sha256\$[0-9a-f]{8}\$[\w-]{43}$/);
    expect(hash).not.toContain(token);
    expect(await secrets.verify(token, hash)).toEqual({
      ok: true,
      rehash: null,
      foreignKey: false,
    });
    expect((await secrets.verify(`${token}x`, hash)).ok).toBe(false);
    expect((await secrets.verify(token, undefined)).ok).toBe(false);
    expect((await secrets.verify(token, 'garbage')).ok).toBe(false);
  });

  it('verifies an scrypt hash of earlier versions once, with the keyed hash to store instead', async () => {
    const secrets = createSecrets(key);
    const token = newSecret();
    const old = await legacyScryptHash(token);
    const verdict = await secrets.verify(token, old);
    expect(verdict.ok).toBe(true);
    expect(verdict.rehash).toBe(secrets.hash(token));
    expect((await secrets.verify('wrong', old)).ok).toBe(false);
    // a stored hash asking for more work than earlier versions ever made is refused unchecked
    expect((await secrets.verify(token, old.replace('scrypt$1024$', 'scrypt$1048576$'))).ok).toBe(
      false,
    );
  });

  it('refuses a hash made under another key, and says so', async () => {
    let foreign = 0;
    const secrets = createSecrets(key, () => foreign++);
    const other = createSecrets(Buffer.alloc(32, 8));
    const token = newSecret();
    expect(await secrets.verify(token, other.hash(token))).toEqual({
      ok: false,
      rehash: null,
      foreignKey: true,
    });
    expect(foreign).toBe(1);
  });
});

/**
 * Logins of a database made by an earlier version (scrypt hashes): each verifies once more with
 * scrypt and its row then holds the keyed hash, over MQTT and HTTP alike.
 */
describe('logins with hashes of earlier versions', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  const hashOf = async (sql: string, id: string) =>
    ((await t.sql<{ h: string }>(sql, [id]))[0] ?? { h: '' }).h;

  it('a device logs in over MQTT and downloads over HTTP with its old token; its hash is upgraded', async () => {
    const token = await t.enroll('old-cam');
    await t.sql('UPDATE devices SET token_hash = ? WHERE id = ?', [
      await legacyScryptHash(token),
      'old-cam',
    ]);
    const deviceHash = () => hashOf('SELECT token_hash AS h FROM devices WHERE id = ?', 'old-cam');
    expect(await deviceHash()).toMatch(/^scrypt\$/);
    const c = await connectClient(t.mqttUrl, {
      username: 'old-cam',
      password: token,
      clientId: 'old-cam',
    });
    await c.endAsync();
    expect(await deviceHash()).toMatch(/^hmac-sha256\$/);
    // and keeps working under the new hash, over MQTT and HTTP (Basic)
    const again = await connectClient(t.mqttUrl, {
      username: 'old-cam',
      password: token,
      clientId: 'old-cam',
    });
    await again.endAsync();
    await t.sql('UPDATE devices SET token_hash = ? WHERE id = ?', [
      await legacyScryptHash(token),
      'old-cam',
    ]);
    const basic = `Basic ${Buffer.from(`old-cam:${token}`).toString('base64')}`;
    const res = await t.api('GET', '/api/v1/engines/none/blob', {
      token: null,
      headers: { authorization: basic },
    });
    expect(res.status).toBe(404); // authenticated: there is no such engine
    expect(await deviceHash()).toMatch(/^hmac-sha256\$/);
  });

  it('an API token and a subscriber password of before keep working and are upgraded', async () => {
    const created = (await (
      await t.api('POST', '/api/v1/tokens', { body: { role: 'viewer', name: 'old' } })
    ).json()) as { id: string; token: string };
    const secret = created.token.slice(`ff_${created.id}_`.length);
    await t.sql('UPDATE api_tokens SET hash = ? WHERE id = ?', [
      await legacyScryptHash(secret),
      created.id,
    ]);
    expect((await t.api('GET', '/api/v1/devices', { token: created.token })).status).toBe(200);
    expect(await hashOf('SELECT hash AS h FROM api_tokens WHERE id = ?', created.id)).toMatch(
      /^hmac-sha256\$/,
    );

    const sub = (await (
      await t.api('POST', '/api/v1/subscribers', { body: { name: 'old-ha' } })
    ).json()) as { username: string; password: string };
    await t.sql('UPDATE subscriber_tokens SET hash = ? WHERE name = ?', [
      await legacyScryptHash(sub.password),
      'old-ha',
    ]);
    const c = await connectClient(t.mqttUrl, {
      username: subscriberUsername('old-ha'),
      password: sub.password,
    });
    await c.endAsync();
    expect(
      await hashOf('SELECT hash AS h FROM subscriber_tokens WHERE name = ?', 'old-ha'),
    ).toMatch(/^hmac-sha256\$/);
  });
});
