import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateError, VerifyError } from '../errors.js';
import { signedManifest, startEngineServer } from '../test-support/engine-server.js';
import { downloadResumable } from './download.js';
import { sha256File, sha256FileSync, verifyFile, verifyManifestSignature } from './verify.js';

let server: Awaited<ReturnType<typeof startEngineServer>>;
beforeAll(async () => {
  server = await startEngineServer('tok');
});
afterAll(() => server.close());
const tmp = () => mkdtempSync(join(tmpdir(), 'ff-dl-'));
const data = randomBytes(200_000);

describe('downloadResumable', () => {
  it('a cut connection leaves a partial file; the next call resumes it with Range', async () => {
    server.put('/a', data, { cutAfter: 70_000 });
    const dest = join(tmp(), 'a.part');
    const err = await downloadResumable({
      url: `${server.url}/a`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: data.length,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UpdateError);
    expect((err as UpdateError).retryable).toBe(true);
    const partial = readFileSync(dest).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(data.length);
    const progress: number[] = [];
    await downloadResumable({
      url: `${server.url}/a`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: data.length,
      onProgress: (b) => progress.push(b),
    });
    expect(readFileSync(dest).equals(data)).toBe(true);
    expect(server.requests.at(-1)?.range).toBe(`bytes=${partial}-`);
    expect(progress[0]).toBeGreaterThan(partial); // counted from the offset
  });

  it('a whole file is not fetched again; a stale longer one starts over', async () => {
    server.put('/b', data);
    const dest = join(tmp(), 'b.part');
    writeFileSync(dest, data);
    const before = server.requests.length;
    await downloadResumable({
      url: `${server.url}/b`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: data.length,
    });
    expect(server.requests.length).toBe(before);
    writeFileSync(dest, Buffer.concat([data, data]));
    await downloadResumable({
      url: `${server.url}/b`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: data.length,
    });
    expect(readFileSync(dest).equals(data)).toBe(true);
  });

  it('a partial file beyond a changed (shorter) resource: 416, truncated, retryable', async () => {
    server.put('/c', data.subarray(0, 1000));
    const dest = join(tmp(), 'c.part');
    writeFileSync(dest, data.subarray(0, 1500));
    // the manifest still claims the larger size: 416 for bytes=1500-
    const err = await downloadResumable({
      url: `${server.url}/c`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: 2000,
    }).catch((e) => e);
    expect((err as UpdateError).retryable).toBe(true);
    expect(readFileSync(dest).length).toBe(0);
  });

  it('the device token is sent; a 401 or 404 is not retryable, a refused connection is', async () => {
    server.put('/d', data);
    const dest = join(tmp(), 'd.part');
    const e401 = await downloadResumable({
      url: `${server.url}/d`,
      deviceId: 'cam-1',
      token: 'wrong',
      dest,
      expectedSize: data.length,
    }).catch((e) => e);
    expect(e401).toMatchObject({ retryable: false, message: expect.stringMatching(/HTTP 401/) });
    const e404 = await downloadResumable({
      url: `${server.url}/nope`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: 1,
    }).catch((e) => e);
    expect(e404).toMatchObject({ retryable: false, message: expect.stringMatching(/HTTP 404/) });
    // the control plane's blob route takes devices as HTTP Basic deviceId:token
    expect(server.requests.at(-1)?.auth).toBe(
      `Basic ${Buffer.from('cam-1:tok').toString('base64')}`,
    );
    const refused = await downloadResumable({
      url: 'http://127.0.0.1:1/x',
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: 1,
    }).catch((e) => e);
    expect(refused).toMatchObject({ retryable: true });
  });

  it('follows redirects; the token goes only to the origin it was meant for', async () => {
    server.put('/e', data);
    server.redirect('/moved', '/e');
    const dest = join(tmp(), 'e.part');
    await downloadResumable({
      url: `${server.url}/moved`,
      deviceId: 'cam-1',
      token: 'tok',
      dest,
      expectedSize: data.length,
    });
    expect(readFileSync(dest).equals(data)).toBe(true);
    expect(server.requests.at(-1)).toMatchObject({
      path: '/e',
      auth: expect.stringMatching(/^Basic /),
    });
    // another origin (another port) redirecting here: the device's credentials are not passed on
    const other = await startEngineServer('tok');
    try {
      other.redirect('/x', `${server.url}/e`);
      const err = await downloadResumable({
        url: `${other.url}/x`,
        deviceId: 'cam-1',
        token: 'tok',
        dest: join(tmp(), 'x.part'),
        expectedSize: data.length,
      }).catch((e) => e);
      expect(err).toMatchObject({ retryable: false, message: expect.stringMatching(/HTTP 401/) });
      expect(server.requests.at(-1)).toMatchObject({ path: '/e', auth: undefined });
    } finally {
      await other.close();
    }
  });
});

describe('verification', () => {
  const fleet = generateKeyPairSync('ed25519');
  it('sha256 and size of a file against the manifest', async () => {
    const f = join(tmp(), 'f');
    writeFileSync(f, data);
    const m = signedManifest(data, fleet.privateKey, { id: 'e' });
    expect(await sha256File(f)).toBe(m.sha256);
    // 200,000 bytes: three full 64 KiB reads and a short one
    expect(sha256FileSync(f)).toBe(m.sha256);
    await verifyFile(f, m, 'engine e');
    await expect(verifyFile(f, { ...m, size: m.size + 1 }, 'engine e')).rejects.toThrow(
      /size 200000 bytes, the manifest says 200001/,
    );
    await expect(
      verifyFile(f, { ...m, sha256: '0'.repeat(64) }, 'engine e'),
    ).rejects.toBeInstanceOf(VerifyError);
  });
  it('the Ed25519 signature covers every field a device acts on', () => {
    const m = signedManifest(data, fleet.privateKey, { id: 'e' });
    verifyManifestSignature(m, fleet.publicKey);
    // changing a signed field breaks it (the id and version too: an old signed engine cannot be
    // passed off as another or a newer one); the url is not signed, it is always on the control plane
    expect(() =>
      verifyManifestSignature({ ...m, deviceClass: 'jetson-nano' }, fleet.publicKey),
    ).toThrow(VerifyError);
    expect(() => verifyManifestSignature({ ...m, id: 'e-newer' }, fleet.publicKey)).toThrow(
      VerifyError,
    );
    expect(() => verifyManifestSignature({ ...m, version: 99 }, fleet.publicKey)).toThrow(
      VerifyError,
    );
    expect(() => verifyManifestSignature({ ...m, model: 'detectnet_v2' }, fleet.publicKey)).toThrow(
      /signature does not verify/,
    );
    verifyManifestSignature({ ...m, url: '/elsewhere' }, fleet.publicKey);
    const other = generateKeyPairSync('ed25519');
    expect(() => verifyManifestSignature(m, other.publicKey)).toThrow(VerifyError);
    expect(() => verifyManifestSignature({ ...m, signature: 'AAAA' }, fleet.publicKey)).toThrow(
      VerifyError,
    );
  });
});
