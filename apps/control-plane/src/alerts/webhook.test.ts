import { lookup } from 'node:dns/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInternalAddress, postWebhook, webhookUrlRefusal } from './webhook.js';

/**
 * Webhook delivery against SSRF (issue 17, finding 8): a real HTTP server on loopback stands for
 * something inside the network; what reaches it is counted.
 */
describe('webhooks', () => {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      res.end('ok');
    });
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('knows the internal address ranges of IPv4 and IPv6', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.31.0.1',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isInternalAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isInternalAddress(a), a).toBe(false);
    }
    expect(webhookUrlRefusal('http://127.0.0.1/', { allowHosts: [] })).toMatch(
      /not a public address/,
    );
    expect(webhookUrlRefusal('http://127.0.0.1/', { allowHosts: ['127.0.0.1'] })).toBeUndefined();
    expect(webhookUrlRefusal('https://hooks.example.com/x', { allowHosts: [] })).toBeUndefined();
  });

  it('does not post to a host name that resolves to an internal address, checked when it posts', async () => {
    // this machine's name resolves to one of its own addresses (loopback or a private one)
    const name = hostname();
    const [resolved] = await lookup(name, { all: true });
    expect(isInternalAddress(resolved!.address), `${name} → ${resolved!.address}`).toBe(true);
    // the name passes when the rule is saved (it could point anywhere then)...
    expect(webhookUrlRefusal(`http://${name}:${port}/hook`, { allowHosts: [] })).toBeUndefined();
    // ...and is refused when posted to, before anything is sent
    await expect(
      postWebhook(`http://${name}:${port}/hook`, '{"a":1}', { allowHosts: [] }),
    ).rejects.toThrow(/not a public address/);
    expect(received).toEqual([]);
    // allowed by name: delivered
    await postWebhook(`http://${name}:${port}/hook`, '{"a":2}', {
      allowHosts: [name.toLowerCase()],
    });
    expect(received).toEqual(['{"a":2}']);
  });

  it('follows no redirect (a public host cannot bounce the request inside)', async () => {
    const bounce = createServer((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/inside` }).end();
    });
    await new Promise<void>((r) => bounce.listen(0, '127.0.0.1', () => r()));
    try {
      const at = (bounce.address() as AddressInfo).port;
      const before = received.length;
      await expect(
        postWebhook(`http://127.0.0.1:${at}/`, '{}', { allowHosts: ['127.0.0.1'] }),
      ).rejects.toThrow(/answered 302/);
      expect(received.length).toBe(before);
    } finally {
      await new Promise<void>((r) => bounce.close(() => r()));
    }
  });
});
