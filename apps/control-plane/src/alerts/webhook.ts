import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook may not reach unless allowed: what is not the public Internet. The control
 * plane sits inside the fleet's network, next to its database, broker and cloud metadata service;
 * an operator's rule must not make it a proxy into them (SSRF).
 */
const INTERNAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // this network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv6');
}

/** Whether `address` (an IP literal) is outside the public Internet. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1]!, 'ipv4');
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface WebhookPolicy {
  /** Host names or IP addresses a webhook may reach even when they are internal. */
  allowHosts: readonly string[];
}

/** The host of a URL as written in it: lowercase, an IPv6 literal without its brackets. */
const hostOf = (url: URL) => url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');

/**
 * Why a webhook URL is refused when a rule is saved, or undefined: not http(s), credentials in
 * it, or an internal IP literal that is not allowed. (A host name is checked when it is posted
 * to, against what it resolves to then.)
 */
export function webhookUrlRefusal(text: string, policy: WebhookPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return 'must be an http:// or https:// URL';
  }
  const host = hostOf(url);
  if (policy.allowHosts.includes(host)) return undefined;
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return `${host} is this machine: not allowed (alerts.webhookAllowHosts lists internal hosts that are)`;
  }
  if (isIP(host) && isInternalAddress(host)) {
    return `${host} is not a public address: not allowed (alerts.webhookAllowHosts lists internal hosts that are)`;
  }
  return undefined;
}

/**
 * Posts `body` (JSON) to a webhook, connecting only to a public address (or an allowed host): the
 * host name is resolved once, every address checked, and the connection made to the checked one,
 * so a name that resolves elsewhere between check and use (DNS rebinding) gains nothing. Redirects
 * are not followed. Rejects with the reason.
 */
export function postWebhook(
  text: string,
  body: string,
  policy: WebhookPolicy,
  timeoutMs = 5000,
): Promise<void> {
  const refusal = webhookUrlRefusal(text, policy);
  if (refusal) return Promise.reject(new Error(`webhook ${text}: ${refusal}`));
  const url = new URL(text);
  const allowed = policy.allowHosts.includes(hostOf(url));
  const lookup = (
    hostname: string,
    options: { family?: number; all?: boolean },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '');
      const usable = addresses.filter((a) => allowed || !isInternalAddress(a.address));
      if (usable.length === 0) {
        return callback(
          new Error(
            `${hostname} resolves to ${addresses.map((a) => a.address).join(', ')}: not a public address`,
          ),
          '',
        );
      }
      if (options.all) return callback(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        lookup: lookup as never,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`webhook answered ${status}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`webhook: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
