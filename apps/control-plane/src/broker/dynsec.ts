import { randomBytes } from 'node:crypto';
import {
  type AclOptions,
  allowedFilters,
  CONTROL_PLANE_USERNAME,
  DEFAULT_ACL_OPTIONS,
  haStatusTopic,
  type Principal,
  parseMqttUsername,
  TOPIC_ROOT,
  topics,
} from '@facefleet/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { BrokerAdminError } from '../errors.js';
import { type BrokerCredentials, type BrokerLogin, loginUsername } from './credentials.js';

/**
 * Mosquitto's dynamic security plugin, driven by the control plane. The plugin keeps clients (a
 * username and password), roles (lists of ACL entries) and the links between them, and takes
 * commands as JSON on `$CONTROL/dynamic-security/v1`, answering on `…/response`. Deleting a client
 * or changing its password makes the broker drop that client's open connections.
 *
 * What the control plane keeps there, mirroring packages/protocol's ACL:
 * - role `facefleet-device@ID` per device: publish its own status/faces/metrics/reported, subscribe
 *   to and receive its own desired state. (Per device, because Mosquitto 2.0's plugin does not
 *   expand `%u` in role ACLs.) Client `ID` holds it.
 * - role `facefleet-subscriber`: subscribe to and receive alerts, face counts, status, metrics
 *   and Home Assistant discovery, publish Home Assistant's birth message; client `subscriber@NAME`
 *   per set of read-only credentials.
 * - role `facefleet-control-plane`: read every device topic, publish desired state and alerts;
 *   client `control-plane`, the login the control plane's own broker session uses.
 * A client counts as the control plane's only while it holds the role the control plane gives its
 * kind; any other client on the broker (the admin, an operator's own) is never changed or deleted.
 */

export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1';
export const DYNSEC_RESPONSE_TOPIC = `${DYNSEC_TOPIC}/response`;
export const SUBSCRIBER_ROLE = 'facefleet-subscriber';
export const CONTROL_PLANE_ROLE = 'facefleet-control-plane';
const DEVICE_ROLE_PREFIX = 'facefleet-device@';

/** The plugin's answers this module relies on (Mosquitto 2.0). */
const ERR = {
  roleExists: 'Role already exists',
  clientExists: 'Client already exists',
  clientNotFound: 'Client not found',
  roleNotFound: 'Role not found',
} as const;

export type AclType =
  | 'publishClientSend'
  | 'publishClientReceive'
  | 'subscribeLiteral'
  | 'subscribePattern'
  | 'unsubscribeLiteral'
  | 'unsubscribePattern';

export interface DynsecAcl {
  acltype: AclType;
  topic: string;
  allow: boolean;
}

export interface DynsecCommand {
  command: string;
  [field: string]: unknown;
}

export interface DynsecResponse {
  command: string;
  error?: string;
  data?: unknown;
}

export function deviceRole(deviceId: string): string {
  return `${DEVICE_ROLE_PREFIX}${deviceId}`;
}

/** The role the control plane gives a login of this kind. */
export function loginRole(login: BrokerLogin): string {
  return login.kind === 'device' ? deviceRole(login.deviceId) : SUBSCRIBER_ROLE;
}

/**
 * The ACL entries of a principal's role, built from the protocol's rules: what it may publish
 * (`mayPublish`'s topics, spelled as filters) and the filters it may subscribe to
 * (`allowedFilters`), which are also what it may receive. Unsubscribing is always allowed
 * (the plugin's default). Everything else falls to the plugin's default: deny.
 */
export function roleAcls(principal: Principal, acl: AclOptions = DEFAULT_ACL_OPTIONS): DynsecAcl[] {
  const ha = acl.haPrefix;
  let publish: string[];
  switch (principal.kind) {
    case 'device':
      publish = (['status', 'faces', 'metrics', 'reported'] as const).map((kind) =>
        topics[kind](principal.deviceId),
      );
      break;
    case 'control-plane':
      publish = [
        `${TOPIC_ROOT}/devices/+/desired`,
        `${TOPIC_ROOT}/alerts/#`,
        ...(ha !== null ? [`${ha}/#`] : []),
      ];
      break;
    case 'subscriber':
      // Home Assistant announces itself (its birth message) when it starts.
      publish = ha !== null ? [haStatusTopic(ha)] : [];
      break;
  }
  const read = allowedFilters(principal, acl);
  // The control plane takes device traffic through a shared subscription; the plugin checks the
  // filter as sent, `$share/<group>/` included (what is delivered is checked without it).
  const subscribe =
    principal.kind === 'control-plane' ? [...read, ...read.map((f) => `$share/+/${f}`)] : read;
  return [
    ...publish.map((topic): DynsecAcl => ({ acltype: 'publishClientSend', topic, allow: true })),
    ...subscribe.map((topic): DynsecAcl => ({ acltype: 'subscribePattern', topic, allow: true })),
    ...read.map((topic): DynsecAcl => ({ acltype: 'publishClientReceive', topic, allow: true })),
  ];
}

/** Commands that turn a role's current ACL entries into the wanted ones. */
export function planRoleAcls(
  rolename: string,
  current: readonly DynsecAcl[],
  wanted: readonly DynsecAcl[],
): DynsecCommand[] {
  const key = (a: DynsecAcl) => `${a.acltype} ${a.topic}`;
  const want = new Map(wanted.map((a) => [key(a), a]));
  const have = new Map(current.map((a) => [key(a), a]));
  const commands: DynsecCommand[] = [];
  for (const [k, a] of have) {
    const w = want.get(k);
    if (!w || w.allow !== a.allow) {
      commands.push({ command: 'removeRoleACL', rolename, acltype: a.acltype, topic: a.topic });
    }
  }
  for (const [k, a] of want) {
    const h = have.get(k);
    if (!h || h.allow !== a.allow) commands.push({ command: 'addRoleACL', rolename, ...a });
  }
  return commands;
}

/** A client as `listClients` (verbose) describes it. */
export interface BrokerClient {
  username: string;
  roles: string[];
}

export interface ReconcilePlan {
  commands: DynsecCommand[];
  /** Enrolled devices with no broker login (enrolled before dynsec was turned on, say). */
  devicesWithoutLogin: string[];
  subscribersWithoutLogin: string[];
}

/**
 * What to delete so that the broker holds logins only for devices and subscribers that exist:
 * the control plane's clients (known by their role) whose device or subscriber is gone, and
 * per-device roles left without a device. Pure: the caller lists both sides.
 */
export function planReconcile(
  broker: { clients: readonly BrokerClient[]; roles: readonly string[] },
  known: { devices: ReadonlySet<string>; subscribers: ReadonlySet<string> },
): ReconcilePlan {
  const commands: DynsecCommand[] = [];
  const withLogin = { devices: new Set<string>(), subscribers: new Set<string>() };
  for (const client of broker.clients) {
    const user = parseMqttUsername(client.username);
    if (!user) continue;
    if (user.principal.kind === 'device') {
      const id = user.principal.deviceId;
      if (!client.roles.includes(deviceRole(id))) continue;
      if (known.devices.has(id)) withLogin.devices.add(id);
      else commands.push({ command: 'deleteClient', username: client.username });
    } else if (user.principal.kind === 'subscriber' && 'name' in user) {
      if (!client.roles.includes(SUBSCRIBER_ROLE)) continue;
      if (known.subscribers.has(user.name)) withLogin.subscribers.add(user.name);
      else commands.push({ command: 'deleteClient', username: client.username });
    }
  }
  for (const role of broker.roles) {
    if (!role.startsWith(DEVICE_ROLE_PREFIX)) continue;
    if (!known.devices.has(role.slice(DEVICE_ROLE_PREFIX.length))) {
      commands.push({ command: 'deleteRole', rolename: role });
    }
  }
  return {
    commands,
    devicesWithoutLogin: [...known.devices].filter((id) => !withLogin.devices.has(id)).sort(),
    subscribersWithoutLogin: [...known.subscribers]
      .filter((name) => !withLogin.subscribers.has(name))
      .sort(),
  };
}

export interface DynsecAdminOptions {
  url: string;
  username: string;
  password: string;
  /** An `mqtts://` broker's CA, and a client certificate and key to present (PEM). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  log: Logger;
  /** How long to wait for the plugin's answer before giving up (ms). */
  timeoutMs?: number;
}

/** At most this many commands per message: the broker's message_size_limit applies to them. */
const CHUNK = 100;

/**
 * An MQTT session as the plugin's admin user that sends commands and matches each answer to its
 * command by correlation data. `run` resolves with one response per command, in order; a
 * response may carry the plugin's `error`. Rejects with BrokerAdminError('unavailable') when no
 * answer comes in time.
 */
export async function connectDynsecAdmin(options: DynsecAdminOptions) {
  const { log } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const prefix = `facefleet-${randomBytes(6).toString('hex')}`;
  let next = 0;
  const waiting = new Map<string, (r: DynsecResponse) => void>();
  const reconnectHandlers: (() => void)[] = [];

  const client: MqttClient = mqtt.connect(options.url, {
    ...options.tls,
    username: options.username,
    password: options.password,
    clientId: `${prefix}-admin`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    resubscribe: false,
  });
  client.on('message', (topic, payload) => {
    if (topic !== DYNSEC_RESPONSE_TOPIC) return;
    let responses: unknown;
    try {
      responses = (JSON.parse(payload.toString('utf8')) as { responses?: unknown }).responses;
    } catch {
      log.warn('unreadable dynamic-security response');
      return;
    }
    if (!Array.isArray(responses)) return;
    for (const r of responses as (DynsecResponse & { correlationData?: unknown })[]) {
      const done =
        typeof r.correlationData === 'string' ? waiting.get(r.correlationData) : undefined;
      if (done) {
        waiting.delete(r.correlationData as string);
        done(r);
      }
    }
  });
  client.on('error', (err) =>
    log.warn({ err: err.message }, 'dynamic-security admin: broker error'),
  );

  let connects = 0;
  const subscribed = new Promise<void>((resolve, reject) => {
    client.on('connect', () => {
      // A clean session: the response subscription is made again on every connect.
      client.subscribeAsync(DYNSEC_RESPONSE_TOPIC, { qos: 1 }).then(
        () => {
          connects++;
          if (connects === 1) resolve();
          else {
            log.info('dynamic-security admin: reconnected');
            for (const h of reconnectHandlers) h();
          }
        },
        (err: Error) => {
          if (connects === 0) reject(err);
          else log.warn({ err: err.message }, 'dynamic-security admin: resubscribe failed');
        },
      );
    });
    client.once('error', (err) => {
      if (connects === 0) reject(err);
    });
  });
  try {
    await subscribed;
  } catch (err) {
    client.end(true);
    throw new BrokerAdminError(
      'unavailable',
      `cannot log in to ${options.url} as the dynamic-security admin ${options.username}: ${(err as Error).message}`,
    );
  }

  async function runChunk(commands: readonly DynsecCommand[]): Promise<DynsecResponse[]> {
    const answers = commands.map((c) => {
      const id = `${prefix}-${++next}`;
      return {
        command: { ...c, correlationData: id },
        answer: new Promise<DynsecResponse>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiting.delete(id);
            reject(
              new BrokerAdminError(
                'unavailable',
                `the broker's dynamic-security plugin did not answer ${c.command} within ${timeoutMs} ms (is the plugin loaded? see infra/brokers/mosquitto)`,
              ),
            );
          }, timeoutMs);
          waiting.set(id, (r) => {
            clearTimeout(timer);
            resolve(r);
          });
        }),
      };
    });
    // Nobody waits on an answer that cannot come: they all reject together below.
    for (const a of answers) a.answer.catch(() => {});
    client.publish(
      DYNSEC_TOPIC,
      JSON.stringify({ commands: answers.map((a) => a.command) }),
      { qos: 1 },
      (err) => {
        if (err) log.warn({ err: err.message }, 'dynamic-security command not sent');
      },
    );
    return Promise.all(answers.map((a) => a.answer));
  }

  return {
    async run(commands: readonly DynsecCommand[]): Promise<DynsecResponse[]> {
      const out: DynsecResponse[] = [];
      for (let i = 0; i < commands.length; i += CHUNK) {
        out.push(...(await runChunk(commands.slice(i, i + CHUNK))));
      }
      return out;
    },
    /** Called after each reconnect (not the first connect). */
    onReconnect(handler: () => void): void {
      reconnectHandlers.push(handler);
    },
    async close(): Promise<void> {
      await client.endAsync(true);
    },
  };
}
export type DynsecAdmin = Awaited<ReturnType<typeof connectDynsecAdmin>>;

/** Throws BrokerAdminError('refused') unless the response has no error or one of `allowed`. */
function check(r: DynsecResponse | undefined, allowed: readonly string[] = []): DynsecResponse {
  if (!r) throw new BrokerAdminError('refused', 'the dynamic-security plugin sent no answer');
  if (r.error && !allowed.includes(r.error)) {
    throw new BrokerAdminError('refused', `dynamic-security ${r.command}: ${r.error}`);
  }
  return r;
}

export interface DynsecCredentialsOptions {
  admin: DynsecAdmin;
  /** Ids of enrolled devices and names of subscriber credentials, read from the database. */
  known: () => Promise<{ devices: ReadonlySet<string>; subscribers: ReadonlySet<string> }>;
  log: Logger;
  /** The ACL's settings (Home Assistant's discovery prefix); default: the protocol's. */
  acl?: AclOptions;
  /** After a failed change, reconcile again this long later (ms); doubles to a minute. */
  retryMs?: number;
}

/**
 * BrokerCredentials through the dynamic-security plugin, plus `setup` (roles and the control
 * plane's own login) and `reconcile` (delete logins of devices and subscribers that no longer
 * exist). Changes run one at a time, in the order asked.
 */
export function createDynsecCredentials(options: DynsecCredentialsOptions) {
  const { admin, log } = options;
  const acl = options.acl ?? DEFAULT_ACL_OPTIONS;
  const firstRetryMs = options.retryMs ?? 5000;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = firstRetryMs;

  /** Runs `task` after every earlier one. */
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const result = queue.then(task);
    queue = result.catch(() => {});
    return result;
  }

  async function getRoleAcls(rolename: string): Promise<DynsecAcl[]> {
    const [r] = await admin.run([{ command: 'getRole', rolename }]);
    const role = (check(r).data as { role?: { acls?: DynsecAcl[] } } | undefined)?.role;
    return role?.acls ?? [];
  }

  async function ensureRole(rolename: string, acls: DynsecAcl[]): Promise<void> {
    const [created] = await admin.run([{ command: 'createRole', rolename, acls }]);
    if (!check(created, [ERR.roleExists]).error) return;
    const fix = planRoleAcls(rolename, await getRoleAcls(rolename), acls);
    for (const r of await admin.run(fix)) check(r);
  }

  async function getClientRoles(username: string): Promise<string[] | undefined> {
    const [r] = await admin.run([{ command: 'getClient', username }]);
    if (check(r, [ERR.clientNotFound]).error) return undefined;
    const client = (r!.data as { client?: { roles?: { rolename: string }[] } } | undefined)?.client;
    return (client?.roles ?? []).map((x) => x.rolename);
  }

  /**
   * Creates the client with `password` and `role`, or — when it exists and is ours (holds
   * `role`), or `adopt` says to take it over — sets its password, which drops its open sessions.
   */
  async function ensureClient(
    username: string,
    password: string,
    role: string,
    adopt = false,
  ): Promise<void> {
    const [created] = await admin.run([
      { command: 'createClient', username, password, roles: [{ rolename: role }] },
    ]);
    if (!check(created, [ERR.clientExists]).error) return;
    const roles = await getClientRoles(username);
    if (roles === undefined) {
      // Deleted between the two commands: try once more from the start.
      for (const r of await admin.run([
        { command: 'createClient', username, password, roles: [{ rolename: role }] },
      ])) {
        check(r);
      }
      return;
    }
    if (!roles.includes(role) && !adopt) {
      throw new BrokerAdminError(
        'conflict',
        `the broker already has a login named ${username} that facefleet did not create; remove it there or choose another name`,
      );
    }
    const commands: DynsecCommand[] = [{ command: 'setClientPassword', username, password }];
    if (!roles.includes(role))
      commands.push({ command: 'addClientRole', username, rolename: role });
    for (const r of await admin.run(commands)) check(r);
  }

  async function reconcileNow(): Promise<ReconcilePlan> {
    const clients: BrokerClient[] = [];
    for (let offset = 0; ; ) {
      const [r] = await admin.run([{ command: 'listClients', verbose: true, count: 500, offset }]);
      const data = check(r).data as {
        totalCount: number;
        clients: { username: string; roles?: { rolename: string }[] }[];
      };
      for (const c of data.clients) {
        clients.push({ username: c.username, roles: (c.roles ?? []).map((x) => x.rolename) });
      }
      offset += data.clients.length;
      if (data.clients.length === 0 || offset >= data.totalCount) break;
    }
    const [roles] = await admin.run([{ command: 'listRoles', verbose: false, count: -1 }]);
    const roleNames = (check(roles).data as { roles: string[] }).roles;
    // Read the database only now: every login listed above was made after its row was written.
    const plan = planReconcile({ clients, roles: roleNames }, await options.known());
    for (const r of await admin.run(plan.commands)) {
      check(r, [ERR.clientNotFound, ERR.roleNotFound]);
    }
    const removed = plan.commands.filter((c) => c.command === 'deleteClient').length;
    if (removed > 0) log.info({ removed }, 'dynamic-security: deleted logins of removed devices');
    if (plan.devicesWithoutLogin.length + plan.subscribersWithoutLogin.length > 0) {
      log.warn(
        {
          devices: plan.devicesWithoutLogin.slice(0, 50),
          devicesCount: plan.devicesWithoutLogin.length,
          subscribers: plan.subscribersWithoutLogin.slice(0, 50),
        },
        'dynamic-security: these have no broker login (their secrets are only stored hashed); rotate their tokens or re-create the subscriber credentials to issue one',
      );
    }
    return plan;
  }

  /** After a failure the broker may hold a login it should not: reconcile until it works. */
  function retryLater(): void {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      serial(reconcileNow).then(
        () => {
          retryMs = firstRetryMs;
        },
        (err: Error) => {
          log.warn({ err: err.message }, 'dynamic-security: reconcile failed; retrying');
          retryMs = Math.min(retryMs * 2, 60_000);
          retryLater();
        },
      );
    }, retryMs);
    retryTimer.unref();
  }

  admin.onReconnect(() => {
    serial(reconcileNow).catch((err: Error) => {
      log.warn({ err: err.message }, 'dynamic-security: reconcile after reconnect failed');
      retryLater();
    });
  });

  const withRetry =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    (...args: A): Promise<void> =>
      serial(() => fn(...args)).catch((err: unknown) => {
        retryLater();
        throw err;
      });

  const credentials: BrokerCredentials & {
    setup(
      controlPlanePassword: string,
      options?: { setPassword?: boolean; reconcile?: boolean },
    ): Promise<ReconcilePlan | undefined>;
    reconcile(): Promise<ReconcilePlan>;
  } = {
    /**
     * Roles, the control plane's own login (its password set to `controlPlanePassword`, which
     * drops the sessions that login has open: instances that share a store and already log in with
     * it pass `setPassword: false`), then a reconcile unless told not to (the leader does that).
     */
    setup(controlPlanePassword, { setPassword = true, reconcile = true } = {}) {
      return serial(async () => {
        await ensureRole(SUBSCRIBER_ROLE, roleAcls({ kind: 'subscriber' }, acl));
        await ensureRole(CONTROL_PLANE_ROLE, roleAcls({ kind: 'control-plane' }, acl));
        // The name is reserved for the control plane (no device or subscriber can take it).
        if (setPassword) {
          await ensureClient(
            CONTROL_PLANE_USERNAME,
            controlPlanePassword,
            CONTROL_PLANE_ROLE,
            true,
          );
        }
        return reconcile ? reconcileNow() : undefined;
      });
    },
    reconcile: () => serial(reconcileNow),
    issue: withRetry(async (login: BrokerLogin, secret: string) => {
      if (login.kind === 'device') {
        await ensureRole(
          loginRole(login),
          roleAcls({ kind: 'device', deviceId: login.deviceId }, acl),
        );
      }
      await ensureClient(loginUsername(login), secret, loginRole(login));
    }),
    revoke: withRetry(async (login: BrokerLogin) => {
      const username = loginUsername(login);
      const roles = await getClientRoles(username);
      const commands: DynsecCommand[] = [];
      if (roles?.includes(loginRole(login))) commands.push({ command: 'deleteClient', username });
      else if (roles)
        log.warn({ username }, 'dynamic-security: not deleting a login facefleet did not create');
      if (login.kind === 'device')
        commands.push({ command: 'deleteRole', rolename: loginRole(login) });
      for (const r of await admin.run(commands)) check(r, [ERR.clientNotFound, ERR.roleNotFound]);
    }),
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await queue;
      await admin.close();
    },
  };
  return credentials;
}
