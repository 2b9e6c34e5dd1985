import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';

export interface LeadershipOptions {
  store: Store;
  /** The lease competed for (default `leader`). */
  lease?: string;
  /** This instance's id: the lease's holder. */
  holder: string;
  log: Logger;
  /** How long a lease lasts unrenewed (default 5 s). */
  ttlMs?: number;
  /** How often it is renewed (default ttl / 5). */
  renewMs?: number;
  /** Called when this instance becomes the leader, and when it stops being it. */
  onChange(leader: boolean): void | Promise<void>;
}

/** The lease every instance competes for: its holder does the singleton work. */
export const LEADER_LEASE = 'leader';

/**
 * Singleton work (the rollout executor, alert evaluation, retention, the broker's reconcile) runs
 * on one instance at a time: the holder of the `leader` lease in the store. Every instance tries to
 * take or renew it every `renewMs`; the holder that stops renewing (killed, cut off from the
 * database) loses it after `ttlMs`, and another takes it then. An instance that cannot renew
 * stops acting as leader at once, before its lease can have run out.
 */
export function createLeadership(options: LeadershipOptions) {
  const { store, holder, log } = options;
  const lease = options.lease ?? LEADER_LEASE;
  const ttlMs = options.ttlMs ?? 5000;
  const renewMs = options.renewMs ?? Math.max(100, Math.floor(ttlMs / 5));
  let leader = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let round: Promise<void> = Promise.resolve();

  async function set(next: boolean): Promise<void> {
    if (next === leader) return;
    leader = next;
    log.info(
      { instance: holder, lease, held: leader },
      next ? `this instance holds the ${lease} lease` : `this instance lost the ${lease} lease`,
    );
    await options.onChange(next);
  }

  async function attempt(): Promise<void> {
    let held = false;
    try {
      held = await store.leases.acquire(lease, holder, ttlMs);
    } catch (err) {
      log.warn({ err, lease }, 'lease not renewed');
    }
    await set(held && !stopped);
  }

  return {
    /** Takes part: the first attempt is made before this resolves. */
    async start(): Promise<void> {
      round = attempt();
      await round;
      timer = setInterval(() => {
        round = round.then(attempt);
      }, renewMs);
      timer.unref();
    },
    get leader(): boolean {
      return leader;
    },
    /** Stops competing; a leader lets go of the lease at once so another takes over quickly. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      await round;
      if (leader) {
        await set(false);
        await store.leases.release(lease, holder).catch(() => {});
      }
    },
  };
}
export type Leadership = ReturnType<typeof createLeadership>;
