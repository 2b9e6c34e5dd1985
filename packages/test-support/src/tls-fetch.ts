/**
 * A fetch that trusts the certificates of `ca` (PEM) and nothing else: what the tests call a
 * control plane with, whose certificate a test CA signed. Node's own fetch reads its extra CAs only
 * at start (NODE_EXTRA_CA_CERTS); undici, which it is built on, takes them per request. undici is
 * loaded on the first call (it needs Node 18; the agent's tests load this package on Node 16 too).
 */
export function fetchTrusting(ca: string | Buffer): typeof fetch {
  let dispatcher: unknown;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const undici = await import('undici');
    dispatcher ??= new undici.Agent({ connect: { ca } });
    return undici.fetch(input as never, { ...(init as object), dispatcher } as never);
  }) as typeof fetch;
}
