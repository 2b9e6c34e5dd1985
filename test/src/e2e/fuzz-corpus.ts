import {
  examples,
  facesSchema,
  MAX_PAYLOAD_BYTES,
  metricsSchema,
  PayloadError,
  parseJsonPayload,
  reportedSchema,
  statusSchema,
  topics,
} from '@facefleet/protocol';

/**
 * The abuse test's flood: random and malformed messages a device sends with its own credentials,
 * each with the reason the control plane must count it under, decided by the protocol package
 * (the contract the control plane decodes with) so the expected counts are exact.
 */

/** One fuzz message and the reason the control plane must count it under. */
export interface FuzzMessage {
  topic: string;
  payload: Buffer;
  expect: 'invalid_payload' | 'device_mismatch' | 'too_large' | 'acl';
}

const SCHEMAS = {
  faces: facesSchema,
  metrics: metricsSchema,
  status: statusSchema,
  reported: reportedSchema,
} as const;
type Kind = keyof typeof SCHEMAS;
const KINDS = Object.keys(SCHEMAS) as Kind[];

/**
 * The reason a device's own-topic message is refused, decided by the protocol package (the
 * contract the control plane decodes with), in the control plane's order: size, then schema,
 * then the deviceId against the topic's. 'valid' would be stored: the corpus never sends one.
 */
function reasonFor(attacker: string, kind: Kind, payload: Buffer): FuzzMessage['expect'] | 'valid' {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return 'too_large';
  let data: { deviceId: string };
  try {
    data = parseJsonPayload(SCHEMAS[kind], payload, kind);
  } catch (err) {
    if (err instanceof PayloadError) return 'invalid_payload';
    throw err;
  }
  return data.deviceId === attacker ? 'valid' : 'device_mismatch';
}

export interface FuzzOptions {
  /** The device whose credentials send it all. */
  attacker: string;
  /** Other devices, whose names it puts in its messages. */
  others: string[];
  count: number;
  /** The seqs of messages in other devices' names start here. */
  foreignSeq: number;
  random: () => number;
}

/** A valid message of `kind` for `deviceId`, from the protocol's examples. */
function validMessage(kind: Kind, deviceId: string, seq: number): Record<string, unknown> {
  const ts = Date.now();
  if (kind === 'faces') {
    const { boxes: _boxes, ...base } = examples.faces;
    return { ...base, deviceId, seq, ts, start: ts - 1000, end: ts };
  }
  return { ...(examples[kind] as object), deviceId, seq, ts };
}

/**
 * `count` messages, 1 % on topics the attacker may not publish to (the ACL refuses them and
 * closes its connection), the rest on its own device topics: bad JSON, random bytes, wrong types,
 * huge numbers, deep nesting, unknown and missing keys, another kind's payload, broken envelopes,
 * other devices' names (5 %), oversized ones (20). Shuffled. None of them is a message the control
 * plane would store.
 */
export function fuzzCorpus(o: FuzzOptions): FuzzMessage[] {
  const { attacker, random } = o;
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const own = (kind: Kind) => topics[kind](attacker);
  const wrongTopics = [
    ...o.others.flatMap((id) => [topics.faces(id), topics.status(id)]),
    topics.desired(attacker),
    topics.alert('rule-1', attacker),
    `${own('faces')}/extra`,
    `facefleet/v1/devices/${attacker}/unknown`,
    `facefleet/v2/devices/${attacker}/faces`,
    'facefleet/v1',
    'other/topic',
    '$SYS/broker/clients',
    `/${own('faces')}`,
  ];
  const out: FuzzMessage[] = [];
  let seq = 0;
  const valid = (kind: Kind) => validMessage(kind, attacker, seq++);
  const mutations: ((kind: Kind) => Buffer)[] = [
    // bad JSON: a valid message cut short
    (kind) => {
      const text = JSON.stringify(valid(kind));
      return Buffer.from(text.slice(0, int(text.length)));
    },
    // random bytes
    () => Buffer.from(Array.from({ length: 1 + int(300) }, () => int(256))),
    // a field of the wrong type
    (kind) => {
      const m = valid(kind);
      m[pick(Object.keys(m))] = pick(['x', null, [], {}, true, -1, 0.5, '', [1, 2]]);
      return Buffer.from(JSON.stringify(m));
    },
    // huge numbers, some beyond a double (1e999 parses to Infinity)
    (kind) => {
      const m = valid(kind);
      m[pick(Object.keys(m))] = '__HUGE__';
      const huge = pick(['1e999', '-1e999', '1e300', '18446744073709551616', '9007199254740993']);
      return Buffer.from(JSON.stringify(m).replace('"__HUGE__"', huge));
    },
    // deep nesting (up to ~50 KB of it), at the top or inside a field
    (kind) => {
      const depth = 100 + int(8000);
      const nested =
        random() < 0.5
          ? '['.repeat(depth) + ']'.repeat(depth)
          : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      if (random() < 0.5) return Buffer.from(nested);
      const m = valid(kind);
      m[pick(Object.keys(m))] = '__NEST__';
      return Buffer.from(JSON.stringify(m).replace('"__NEST__"', nested));
    },
    // unknown keys
    (kind) => {
      const m = valid(kind);
      for (let i = 0, n = 1 + int(300); i < n; i++) m[`k${int(1e6)}`] = int(10);
      return Buffer.from(JSON.stringify(m));
    },
    // missing keys
    (kind) => {
      const m = valid(kind);
      for (let i = 0, n = 1 + int(3); i < n; i++) delete m[pick(Object.keys(m))];
      return Buffer.from(JSON.stringify(m));
    },
    // another kind's payload
    (kind) => Buffer.from(JSON.stringify(valid(pick(KINDS.filter((k) => k !== kind))))),
    // a broken envelope
    (kind) => {
      const broken = pick([
        { v: 2 },
        { v: '1' },
        { deviceId: '../../x' },
        { deviceId: 'a/b' },
        { deviceId: '#' },
        { deviceId: '' },
        { seq: -1 },
        { seq: 1.5 },
        { ts: 0 },
      ]);
      return Buffer.from(JSON.stringify({ ...valid(kind), ...broken }));
    },
    // JSON that is no object at all
    () => Buffer.from(pick(['null', 'true', '0', '"faces"', '[]', '{}', '""', ' '])),
  ];
  const add = (topic: string, payload: Buffer, expect: FuzzMessage['expect']) =>
    out.push({ topic, payload, expect });
  /** A message on its own topic, with the reason the protocol gives (it must be `want`). */
  const addOwn = (kind: Kind, payload: Buffer, want?: FuzzMessage['expect']) => {
    const reason = reasonFor(attacker, kind, payload);
    if (reason === 'valid') return; // a mutation that happened to keep the message valid
    if (want && reason !== want) {
      throw new Error(`fuzz corpus: expected ${want}, the protocol says ${reason}`);
    }
    add(own(kind), payload, reason);
  };

  for (let i = 0; i < o.count / 100; i++) add(pick(wrongTopics), Buffer.from('{}'), 'acl');
  for (let i = 0; i < 20; i++) {
    const kind = pick(KINDS);
    const padded = { ...valid(kind), pad: 'x'.repeat(MAX_PAYLOAD_BYTES + int(4096)) };
    addOwn(kind, Buffer.from(JSON.stringify(padded)), 'too_large');
  }
  for (let i = 0; i < o.count / 20; i++) {
    const kind = pick(KINDS);
    const m = validMessage(kind, pick(o.others), o.foreignSeq + i);
    addOwn(kind, Buffer.from(JSON.stringify(m)), 'device_mismatch');
  }
  while (out.length < o.count) {
    const kind = pick(KINDS);
    addOwn(kind, pick(mutations)(kind));
  }
  // shuffled, so the reasons interleave
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
