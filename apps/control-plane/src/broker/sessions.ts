import { mayUseClientId, type Principal } from '@facefleet/protocol';
import { createTokenBucket, type TokenBucket } from './rate-limit.js';

/** One MQTT login the broker let in. */
export interface Session {
  principal: Principal;
  username: string;
  bucket: TokenBucket;
  /** The username's revocation count when this login was checked (see `revoke`). */
  epoch: number;
  /** Its credentials were revoked: it may publish nothing more, not even its will. */
  revoked: boolean;
}

/**
 * Who is connected to the embedded broker, with which principal, by client and by username: the
 * one place the broker's hooks (hooks.ts) read and change, so that revoking a login, the client-id
 * takeover rule and the count of connected devices agree. Plain state, no I/O: `C` is aedes's
 * Client in the broker, any object with an id in a test.
 *
 * A login's life: `epoch` is read when its password check starts; `admit` once the check passed
 * (the session exists, not yet open); `ready` when aedes has it connected; `gone` when it
 * disconnects. `revoke` bumps the username's epoch, so that a login whose check started before is
 * refused when the check ends (`epoch` differs) or closed when it becomes ready (`ready` says so).
 */
export function createSessionRegistry<C extends { id: string }>(options: {
  ratePerSec: number;
  rateBurst: number;
}) {
  const sessions = new WeakMap<C, Session>();
  /** Open sessions by username, to drop them when their credentials change. */
  const byUsername = new Map<string, Set<C>>();
  /** The open session holding each client id. */
  const byClientId = new Map<string, C>();
  /** How often each username's credentials changed, and whether the last change discards wills. */
  const epochs = new Map<string, { n: number; discardWill: boolean }>();
  let devices = 0;
  const epochOf = (username: string) => epochs.get(username)?.n ?? 0;

  return {
    /** The username's revocation count now: read it when a password check starts. */
    epoch: epochOf,

    /**
     * Why this login may not have `clientId`, or undefined. MQTT gives a client id's session to
     * the newest connection, closing the old one and publishing its will: without this, any device
     * could knock another off the broker (and mark it offline) by connecting with its client id. A
     * session is taken over only by the login that holds it, and agents' ids are their devices' own.
     */
    clientIdRefusal(clientId: string, username: string): string | undefined {
      if (!mayUseClientId(username, clientId)) return "another device's agent client id";
      const holder = byClientId.get(clientId);
      const held = holder ? sessions.get(holder) : undefined;
      if (held && held.username !== username) return 'client id in use by another login';
      return undefined;
    },

    /** A login whose check passed at `epoch`: its session, not yet open. */
    admit(client: C, principal: Principal, username: string, epoch: number): Session {
      const session: Session = {
        principal,
        username,
        bucket: createTokenBucket(options.ratePerSec, options.rateBurst),
        epoch,
        revoked: false,
      };
      sessions.set(client, session);
      return session;
    },

    get: (client: C): Session | undefined => sessions.get(client),

    /**
     * The client is connected (aedes `clientReady`). False when its credentials changed while it
     * was being let in: the caller closes it (its will is discarded if the change says so).
     */
    ready(client: C): boolean {
      const session = sessions.get(client);
      if (!session) return true;
      byClientId.set(client.id, client);
      if (session.principal.kind === 'device') devices++;
      if (session.epoch !== epochOf(session.username)) {
        session.revoked = epochs.get(session.username)?.discardWill ?? false;
        return false;
      }
      const open = byUsername.get(session.username);
      if (open) open.add(client);
      else byUsername.set(session.username, new Set([client]));
      return true;
    },

    /** The client disconnected (aedes `clientDisconnect`). */
    gone(client: C): void {
      if (byClientId.get(client.id) === client) byClientId.delete(client.id);
      const session = sessions.get(client);
      if (!session) return;
      if (session.principal.kind === 'device') devices--;
      const open = byUsername.get(session.username);
      if (open?.delete(client) && open.size === 0) byUsername.delete(session.username);
    },

    /**
     * The credentials of `username` changed: logins checked before are stale from now on, and its
     * open sessions are returned for the caller to close (`discardWill`: marked revoked, so they
     * publish nothing more).
     */
    revoke(username: string, discardWill: boolean): C[] {
      epochs.set(username, { n: epochOf(username) + 1, discardWill });
      const open = [...(byUsername.get(username) ?? [])];
      byUsername.delete(username);
      for (const client of open) {
        const session = sessions.get(client);
        if (session && discardWill) session.revoked = true;
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
