import { mayUseClientId, type Principal } from '@facefleet/protocol';
import { createTokenBucket, type TokenBucket } from './rate-limit.js';

/** One MQTT login the broker let in. */
export interface Session {
  principal: Principal;
  username: string;
  /** The login's publish bucket, shared by all its sessions (see `admit`). */
  bucket: TokenBucket;
  /** The username's revocation count when this login was checked (see `revoke`). */
  epoch: number;
  /** Its credentials were revoked: it may publish nothing more, not even its will. */
  revoked: boolean;
  /** admitted (checked, not yet connected), open, or gone. */
  state: 'admitted' | 'open' | 'gone';
}

export interface SessionRegistryOptions {
  /** Messages per second one login may publish, over all its sessions (a token bucket). */
  ratePerSec: number;
  rateBurst: number;
  /** Sessions one device may hold at once (default 2); a takeover of its own client id is not counted. */
  maxSessionsPerDevice?: number;
  /** Sessions one read-only subscriber login may hold at once (default 16). */
  maxSessionsPerSubscriber?: number;
  /** Publish buckets kept for logins that are not connected (default 100,000; the oldest go first). */
  maxBuckets?: number;
}

/**
 * Who is connected to the embedded broker, with which principal, by client and by username: the
 * one place the broker's hooks (hooks.ts) read and change, so that revoking a login, the client-id
 * takeover rule, the per-login limits and the count of connected devices agree. Plain state, no
 * I/O: `C` is aedes's Client in the broker, any object with an id in a test.
 *
 * A login's life: `epoch` is read when its password check starts; `admit` once the check passed
 * (the session exists, not yet open); `ready` when aedes has it connected; `gone` when it
 * disconnects, or its connection closed before it was ready. `revoke` bumps the username's epoch,
 * so that a login whose check started before is refused when the check ends (`epoch` differs) or
 * closed when it becomes ready (`ready` says so).
 *
 * Limits are per login, not per connection: the publish rate is one bucket per username, shared by
 * all its sessions (so ten sessions of one device get the rate of one), and a device may hold at
 * most `maxSessionsPerDevice` sessions at once. They hold within this process, which is the whole
 * embedded broker; an external broker keeps its own limits (Mosquitto: `max_connections`,
 * `use_username_as_clientid`).
 */
export function createSessionRegistry<C extends { id: string }>(options: SessionRegistryOptions) {
  const maxDevice = options.maxSessionsPerDevice ?? 2;
  const maxSubscriber = options.maxSessionsPerSubscriber ?? 16;
  const maxBuckets = options.maxBuckets ?? 100_000;
  const sessions = new WeakMap<C, Session>();
  /** Sessions admitted and not gone, by username: the per-login session limit counts these. */
  const byUsername = new Map<string, Set<C>>();
  /** The open session holding each client id. */
  const byClientId = new Map<string, C>();
  /**
   * Who each stored (clean session false) MQTT session belongs to: a client id whose session a
   * login left stored can be resumed by that login only, so no other login receives what was
   * queued for it while it was away.
   */
  const storedSessions = new Map<string, string>();
  /** How often each username's credentials changed, and whether the last change discards wills. */
  const epochs = new Map<string, { n: number; discardWill: boolean }>();
  /** Publish buckets by username: kept while the login is away, so reconnecting refills nothing. */
  const buckets = new Map<string, TokenBucket>();
  let devices = 0;
  const epochOf = (username: string) => epochs.get(username)?.n ?? 0;

  const bucketOf = (username: string): TokenBucket => {
    let bucket = buckets.get(username);
    if (!bucket) {
      if (buckets.size >= maxBuckets) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      bucket = createTokenBucket(options.ratePerSec, options.rateBurst);
      buckets.set(username, bucket);
    }
    return bucket;
  };

  return {
    /** The username's revocation count now: read it when a password check starts. */
    epoch: epochOf,

    /**
     * Why this login may not have `clientId`, or undefined. MQTT gives a client id's session to
     * the newest connection, closing the old one and publishing its will: without this, any device
     * could knock another off the broker (and mark it offline) by connecting with its client id. A
     * session is taken over only by the login that holds it, and agents' ids are their devices' own.
     * A stored session (clean session false) is resumed only by the login that left it.
     */
    clientIdRefusal(clientId: string, username: string): string | undefined {
      if (!mayUseClientId(username, clientId)) return "another device's agent client id";
      const holder = byClientId.get(clientId);
      const held = holder ? sessions.get(holder) : undefined;
      if (held && held.username !== username) return 'client id in use by another login';
      const stored = storedSessions.get(clientId);
      if (stored !== undefined && stored !== username) {
        return "client id of another login's stored session";
      }
      return undefined;
    },

    /**
     * Why this login may not open another session, or undefined: it holds its limit already
     * (sessions admitted or open; one with `clientId` is replaced by this one, so it does not count).
     */
    sessionLimitRefusal(
      principal: Principal,
      username: string,
      clientId: string,
    ): string | undefined {
      const limit = principal.kind === 'device' ? maxDevice : maxSubscriber;
      let held = 0;
      for (const c of byUsername.get(username) ?? []) if (c.id !== clientId) held++;
      return held >= limit
        ? `${held} sessions open already (at most ${limit} per login)`
        : undefined;
    },

    /** A login whose check passed at `epoch`: its session, not yet open. */
    admit(client: C, principal: Principal, username: string, epoch: number): Session {
      const session: Session = {
        principal,
        username,
        bucket: bucketOf(username),
        epoch,
        revoked: false,
        state: 'admitted',
      };
      sessions.set(client, session);
      const held = byUsername.get(username);
      if (held) held.add(client);
      else byUsername.set(username, new Set([client]));
      return session;
    },

    get: (client: C): Session | undefined => sessions.get(client),

    /**
     * The client is connected (aedes `clientReady`); `clean` is its CONNECT's clean-session flag.
     * False when its credentials changed while it was being let in: the caller closes it (its will
     * is discarded if the change says so).
     */
    ready(client: C, clean = true): boolean {
      const session = sessions.get(client);
      if (session?.state !== 'admitted') return true;
      session.state = 'open';
      byClientId.set(client.id, client);
      if (session.principal.kind === 'device') devices++;
      if (clean) storedSessions.delete(client.id);
      else storedSessions.set(client.id, session.username);
      if (session.epoch !== epochOf(session.username)) {
        session.revoked = epochs.get(session.username)?.discardWill ?? false;
        return false;
      }
      return true;
    },

    /**
     * The client disconnected (aedes `clientDisconnect`), or its connection closed before it was
     * ready. Called twice for one client, it counts once.
     */
    gone(client: C): void {
      if (byClientId.get(client.id) === client) byClientId.delete(client.id);
      const session = sessions.get(client);
      if (!session || session.state === 'gone') return;
      if (session.state === 'open' && session.principal.kind === 'device') devices--;
      session.state = 'gone';
      const held = byUsername.get(session.username);
      if (held?.delete(client) && held.size === 0) byUsername.delete(session.username);
    },

    /**
     * The credentials of `username` changed: logins checked before are stale from now on, and its
     * open sessions are returned for the caller to close (`discardWill`: marked revoked, so they
     * publish nothing more; the login is gone, and so is its publish bucket).
     */
    revoke(username: string, discardWill: boolean): C[] {
      epochs.set(username, { n: epochOf(username) + 1, discardWill });
      if (discardWill) buckets.delete(username);
      const open: C[] = [];
      for (const client of byUsername.get(username) ?? []) {
        const session = sessions.get(client);
        if (session?.state !== 'open') continue;
        open.push(client);
        if (discardWill) session.revoked = true;
      }
      return open;
    },

    /** Devices with an open session. */
    get connectedDevices(): number {
      return devices;
    },
  };
}
export type SessionRegistry<C extends { id: string }> = ReturnType<typeof createSessionRegistry<C>>;
