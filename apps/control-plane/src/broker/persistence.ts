import { Readable } from 'node:stream';
import { topicMatches } from '@facefleet/protocol';

/**
 * The embedded broker's session state, in memory, as aedes asks a persistence for it (its
 * `persistence` option; the interface is aedes-persistence's README): retained messages, the
 * subscriptions of clean-session-false clients, the QoS 1/2 messages queued for them, inbound QoS 2
 * packets awaiting PUBREL, and wills. Written for what facefleet's sessions do, which is mostly one
 * thing: 10,000 devices with clean sessions, no will kept by aedes past the connection, nothing
 * queued, logging in at once after a restart. aedes asks the persistence on every CONNECT to clean
 * the client's subscriptions and inbound packets, to delete and store its will and for a stream of
 * its queued messages; here each of those costs a map lookup and a shared, already-settled promise
 * when there is nothing to do, and an empty queue is answered without a stream per client.
 *
 * Semantics (as aedes's in-memory default, which it replaces; nothing survives a restart either):
 * - a retained message replaces the one of its topic; an empty payload deletes it; a subscription
 *   gets those its filter matches;
 * - subscriptions of clean-session-false clients are kept until the client unsubscribes or connects
 *   with a clean session; a QoS 1 or 2 publish is queued for each such subscription of QoS 1 or 2
 *   that matches it (online or not: for an online client the queue is its in-flight store), at the
 *   lower of the two QoS; the queue is emptied in order on reconnect, each entry leaving it on its
 *   PUBACK (or PUBCOMP);
 * - a will is stored at CONNECT under the broker's id and deleted when the client ends.
 *
 * Topic filters follow MQTT 3.1.1 (4.7): `+` one level, `#` the rest including the parent level,
 * and a filter starting with a wildcard does not match a topic starting with `$`.
 */

/** A message as aedes hands it over (aedes-packet's shape, what this store reads of it). */
export interface StoredPacket {
  cmd: string;
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  messageId?: number | undefined;
  brokerId?: string | undefined;
  brokerCounter?: number | undefined;
  clientId?: string | undefined;
  [key: string]: unknown;
}

/** A subscription as aedes stores it (a SUBSCRIBE packet's entry). */
export interface StoredSubscription {
  topic: string;
  qos: 0 | 1 | 2;
  [key: string]: unknown;
}

/** A subscription of one client, as `subscriptionsByTopic` answers. */
export interface ClientSubscription extends StoredSubscription {
  clientId: string;
}

/** The client as this store reads it: its id (aedes's Client, or `{ id }`). */
interface ClientRef {
  id: string;
}

const settled = Promise.resolve();
const settledUndefined: Promise<undefined> = Promise.resolve(undefined);
/** An empty queue: aedes pipes it (stream.pipeline takes any iterable), with no stream to build. */
const emptyQueue: readonly StoredPacket[] = Object.freeze([]);

const noSuchPacket = () => Promise.reject(new Error('no such packet'));

/** A node of the subscription trie: one filter level. */
interface FilterNode {
  children: Map<string, FilterNode>;
  /** The subscriptions whose filter ends here, by client id. */
  subscriptions: Map<string, ClientSubscription>;
}
const filterNode = (): FilterNode => ({ children: new Map(), subscriptions: new Map() });

/**
 * Subscriptions by filter level, so that finding those a topic matches walks the topic's levels
 * (each level: the literal, `+` and `#` children) rather than every client's filters.
 */
function createFilterTrie() {
  const root = filterNode();
  let count = 0;
  const collect = (
    node: FilterNode,
    levels: string[],
    i: number,
    out: ClientSubscription[],
  ): void => {
    const dollar = i === 0 && levels[0]?.startsWith('$');
    const rest = dollar ? undefined : node.children.get('#');
    if (rest) for (const sub of rest.subscriptions.values()) out.push(sub);
    if (i === levels.length) {
      for (const sub of node.subscriptions.values()) out.push(sub);
      return;
    }
    const exact = node.children.get(levels[i]!);
    if (exact) collect(exact, levels, i + 1, out);
    const one = dollar ? undefined : node.children.get('+');
    if (one) collect(one, levels, i + 1, out);
  };
  return {
    get count() {
      return count;
    },
    add(sub: ClientSubscription): void {
      let node = root;
      for (const level of sub.topic.split('/')) {
        let next = node.children.get(level);
        if (!next) {
          next = filterNode();
          node.children.set(level, next);
        }
        node = next;
      }
      if (!node.subscriptions.has(sub.clientId)) count++;
      node.subscriptions.set(sub.clientId, sub);
    },
    remove(filter: string, clientId: string): void {
      const path: [FilterNode, string][] = [];
      let node = root;
      for (const level of filter.split('/')) {
        const next = node.children.get(level);
        if (!next) return;
        path.push([node, level]);
        node = next;
      }
      if (node.subscriptions.delete(clientId)) count--;
      // prune the levels nothing hangs on any more
      for (let i = path.length - 1; i >= 0; i--) {
        const [parent, level] = path[i]!;
        const child = parent.children.get(level)!;
        if (child.subscriptions.size > 0 || child.children.size > 0) break;
        parent.children.delete(level);
      }
    },
    match(topic: string): ClientSubscription[] {
      const out: ClientSubscription[] = [];
      collect(root, topic.split('/'), 0, out);
      return out;
    },
  };
}

/** A copy of a packet for a queue or the retained set, detached from aedes's own object. */
function copyPacket(packet: StoredPacket): StoredPacket {
  return { ...packet };
}

/** The persistence to hand to aedes (`Aedes.createBroker({ persistence })`). */
export function createBrokerPersistence() {
  let brokerId = '';
  const retained = new Map<string, StoredPacket>();
  /** Clean-session-false clients' subscriptions: client id → filter → subscription. */
  const subscriptions = new Map<string, Map<string, StoredSubscription>>();
  /** Those of QoS 1 or 2, by filter level: what a QoS 1/2 publish is queued for. */
  const queued = createFilterTrie();
  const outgoing = new Map<string, StoredPacket[]>();
  const incoming = new Map<string, Map<number, StoredPacket>>();
  const wills = new Map<string, StoredPacket>();

  const matchingRetained = (patterns: readonly string[]): StoredPacket[] => {
    const out: StoredPacket[] = [];
    for (const pattern of patterns) {
      for (const [topic, packet] of retained) if (topicMatches(pattern, topic)) out.push(packet);
    }
    return out;
  };

  const enqueue = (subs: readonly ClientSubscription[], packet: StoredPacket): Promise<void> => {
    for (const sub of subs) {
      let queue = outgoing.get(sub.clientId);
      if (!queue) {
        queue = [];
        outgoing.set(sub.clientId, queue);
      }
      const entry = copyPacket(packet);
      entry.messageId = undefined;
      if (sub.qos < entry.qos) entry.qos = sub.qos;
      queue.push(entry);
    }
    return settled;
  };

  return {
    /** aedes checks that this is an async function. */
    async setup(broker: { id: string }): Promise<void> {
      brokerId = broker.id;
    },

    storeRetained(packet: StoredPacket): Promise<void> {
      if (packet.payload.length === 0) retained.delete(packet.topic);
      else retained.set(packet.topic, copyPacket(packet));
      return settled;
    },
    createRetainedStreamCombi(patterns: string[]): Readable {
      return Readable.from(matchingRetained(patterns));
    },
    createRetainedStream(pattern: string): Readable {
      return Readable.from(matchingRetained([pattern]));
    },

    addSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void> {
      let stored = subscriptions.get(client.id);
      if (!stored) {
        stored = new Map();
        subscriptions.set(client.id, stored);
      }
      for (const sub of subs) {
        const record = { ...sub };
        stored.set(sub.topic, record);
        if (sub.qos > 0) queued.add({ ...record, clientId: client.id });
        else queued.remove(sub.topic, client.id);
      }
      return settled;
    },
    removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
      const stored = subscriptions.get(client.id);
      if (!stored) return settled;
      for (const topic of topics) {
        if (stored.delete(topic)) queued.remove(topic, client.id);
      }
      if (stored.size === 0) subscriptions.delete(client.id);
      return settled;
    },
    subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]> {
      const stored = subscriptions.get(client.id);
      return Promise.resolve(stored ? [...stored.values()].map((sub) => ({ ...sub })) : []);
    },
    countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
      return Promise.resolve({ subsCount: queued.count, clientsCount: subscriptions.size });
    },
    subscriptionsByTopic(topic: string): Promise<ClientSubscription[]> {
      return Promise.resolve(queued.count === 0 ? [] : queued.match(topic));
    },
    /** On every clean-session CONNECT: nothing to do for a client that never kept any. */
    cleanSubscriptions(client: ClientRef): Promise<void> {
      const stored = subscriptions.get(client.id);
      if (!stored) return settled;
      for (const topic of stored.keys()) queued.remove(topic, client.id);
      subscriptions.delete(client.id);
      return settled;
    },
    /** The clients subscribed with exactly `topic` as their filter. */
    getClientList(topic: string): Readable {
      const ids: string[] = [];
      for (const [id, stored] of subscriptions) if (stored.has(topic)) ids.push(id);
      return Readable.from(ids);
    },

    outgoingEnqueue: (sub: ClientSubscription, packet: StoredPacket) => enqueue([sub], packet),
    outgoingEnqueueCombi: enqueue,
    /**
     * A queued message is being sent with `packet.messageId` (the same message: same broker id
     * and counter); or a PUBREL replaces the message it follows (the same message id).
     */
    outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
      const queue = outgoing.get(client.id);
      if (queue) {
        for (let i = 0; i < queue.length; i++) {
          const entry = queue[i]!;
          if (entry.brokerId === packet.brokerId) {
            if (entry.brokerCounter === packet.brokerCounter) {
              entry.messageId = packet.messageId;
              return settled;
            }
          } else if (entry.messageId === packet.messageId) {
            queue[i] = copyPacket(packet);
            return settled;
          }
        }
      }
      return noSuchPacket();
    },
    /** The message acknowledged with `packet.messageId` leaves the queue; resolves to it. */
    outgoingClearMessageId(
      client: ClientRef,
      packet: { messageId?: number },
    ): Promise<StoredPacket | undefined> {
      const queue = outgoing.get(client.id);
      if (!queue) return settledUndefined;
      const i = queue.findIndex((entry) => entry.messageId === packet.messageId);
      if (i < 0) return settledUndefined;
      const [entry] = queue.splice(i, 1);
      if (queue.length === 0) outgoing.delete(client.id);
      return Promise.resolve(entry);
    },
    /**
     * The client's queued messages, in order, as aedes pipes them on CONNECT (`stream.pipeline`,
     * which takes a stream or any iterable). The common case, an empty queue, is one shared empty
     * array; a queue is a stream over a copy of it (entries may leave the queue while it is read).
     */
    outgoingStream(client: ClientRef): Readable | readonly StoredPacket[] {
      const queue = outgoing.get(client.id);
      return queue && queue.length > 0 ? Readable.from([...queue]) : emptyQueue;
    },

    incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
      let stored = incoming.get(client.id);
      if (!stored) {
        stored = new Map();
        incoming.set(client.id, stored);
      }
      stored.set(packet.messageId ?? 0, copyPacket(packet));
      return settled;
    },
    /** Rejects when there is none: aedes reads that as a new QoS 2 message. */
    incomingGetPacket(client: ClientRef, packet: StoredPacket): Promise<StoredPacket> {
      const found = incoming.get(client.id)?.get(packet.messageId ?? 0);
      return found ? Promise.resolve(found) : noSuchPacket();
    },
    incomingDelPacket(client: ClientRef, packet: StoredPacket): Promise<void> {
      const stored = incoming.get(client.id);
      if (!stored?.delete(packet.messageId ?? 0)) return noSuchPacket();
      if (stored.size === 0) incoming.delete(client.id);
      return settled;
    },
    /** On every clean-session CONNECT and disconnect. */
    cleanIncoming(client: ClientRef): Promise<void> {
      incoming.delete(client.id);
      return settled;
    },

    putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
      packet.brokerId = brokerId;
      packet.clientId = client.id;
      wills.set(client.id, packet);
      return settled;
    },
    getWill(client: ClientRef): Promise<StoredPacket | undefined> {
      return Promise.resolve(wills.get(client.id));
    },
    /** On every CONNECT: nothing to do for a client that had no will. */
    delWill(client: ClientRef): Promise<StoredPacket | undefined> {
      const will = wills.get(client.id);
      if (will === undefined) return settledUndefined;
      wills.delete(client.id);
      return Promise.resolve(will);
    },
    /** The wills left by brokers not in `brokers` (aedes publishes those of brokers gone silent). */
    streamWill(brokers: Record<string, unknown> = {}): Readable {
      const out: StoredPacket[] = [];
      for (const will of wills.values()) if (!brokers[will.brokerId ?? '']) out.push(will);
      return Readable.from(out);
    },

    async destroy(): Promise<void> {
      retained.clear();
      subscriptions.clear();
      outgoing.clear();
      incoming.clear();
      wills.clear();
    },
  };
}
export type BrokerPersistence = ReturnType<typeof createBrokerPersistence>;
