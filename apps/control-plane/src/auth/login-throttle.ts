/**
 * Failed logins per client address (MQTT CONNECTs and API credentials alike): once an address has
 * failed `maxFailures` times within `windowMs`, every login from it is refused without being
 * checked until the oldest of those failures is `windowMs` old. A correct login does not clear the
 * count (an address guessing tokens gains nothing from one it has). Per instance: each control-plane
 * instance counts what it sees, so N instances behind a balancer allow up to N × maxFailures.
 *
 * Devices behind one NAT share an address: a misconfigured one that keeps failing can hold the
 * others back for up to `windowMs` at a time. The defaults (20 failures a minute) are far above
 * what one device's reconnect backoff makes; raise them for large sites behind one address.
 */
export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  /** Addresses tracked at most (the oldest are forgotten first). */
  maxAddresses?: number;
  now?: () => number;
}

export function createLoginThrottle(options: LoginThrottleOptions) {
  const { maxFailures, windowMs } = options;
  const maxAddresses = options.maxAddresses ?? 100_000;
  const now = options.now ?? Date.now;
  /** Times of the recent failures of each address, oldest first, at most maxFailures. */
  const failures = new Map<string, number[]>();
  const recent = (address: string, t: number): number[] => {
    const list = failures.get(address);
    if (!list) return [];
    while (list.length > 0 && t - list[0]! >= windowMs) list.shift();
    if (list.length === 0) failures.delete(address);
    return list;
  };
  return {
    /** No failure is counted against any address: no login need say where it comes from. */
    get idle(): boolean {
      return failures.size === 0;
    },
    /** 0 when a login from `address` may be checked now; else the ms until one may. */
    retryAfterMs(address: string): number {
      const t = now();
      const list = recent(address, t);
      return list.length >= maxFailures ? windowMs - (t - list[0]!) : 0;
    },
    /** A login from `address` failed. */
    failed(address: string): void {
      const t = now();
      const list = recent(address, t);
      if (list.length === 0) {
        if (failures.size >= maxAddresses) {
          const oldest = failures.keys().next().value;
          if (oldest !== undefined) failures.delete(oldest);
        }
        failures.set(address, list);
      }
      list.push(t);
      if (list.length > maxFailures) list.shift();
    },
  };
}
export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
