import { DEVICE_TOPIC_KINDS } from '@facefleet/protocol';

/**
 * The control plane's own metrics, rendered in the Prometheus text exposition format at /metrics.
 * Small on purpose: counters with labels, gauges read at scrape time, one histogram kind.
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys
    .map(
      (k) =>
        `${k}="${String(labels[k]).replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`,
    )
    .join(',');
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
  /** The sum over every label set. */
  sum(): number;
  /** Every label set counted so far with its value. */
  entries(): [Labels, number][];
}

export interface Histogram {
  observe(value: number): void;
  readonly count: number;
}

/** The kinds of device message the ingest stores (every device topic but desired). */
const INGESTED_KINDS = DEVICE_TOPIC_KINDS.filter((k) => k !== 'desired');

/** The window of the ingest-rate gauge. */
export const INGEST_RATE_WINDOW_MS = 10_000;

/**
 * Per-second rates of a counter over a trailing window, computed from snapshots of its values
 * (taken by `sample`, about once a second) so the counter's hot path pays nothing. The rate is
 * (value now − value at the oldest snapshot) / time between them; the oldest snapshot kept is the
 * newest one at least `windowMs` old, so once the process has run that long the span is
 * `windowMs` plus at most one sampling interval. Times are milliseconds on a monotonic clock.
 */
export function createRateWindow(
  counter: Counter,
  windowMs: number,
  /** Label sets reported even before the counter has them (at rate 0). */
  always: Labels[] = [],
) {
  const snapshots: { t: number; values: Map<string, number> }[] = [];
  const read = () => new Map(counter.entries().map(([l, v]) => [labelKey(l), v]));
  const labelSets = (): [Labels, number][] => {
    const seen = counter.entries();
    const keys = new Set(seen.map(([l]) => labelKey(l)));
    return [
      ...always.filter((l) => !keys.has(labelKey(l))).map((l): [Labels, number] => [l, 0]),
      ...seen,
    ];
  };
  return {
    sample(now: number): void {
      snapshots.push({ t: now, values: read() });
      while (snapshots.length > 1 && snapshots[1]!.t <= now - windowMs) snapshots.shift();
    },
    /** [labels, per-second rate] for every label set the counter has; 0 before two points exist. */
    rates(now: number): [Labels, number][] {
      const oldest = snapshots[0];
      const span = oldest ? (now - oldest.t) / 1000 : 0;
      return labelSets().map(([labels, value]) => {
        if (!oldest || span <= 0) return [labels, 0];
        const before = oldest.values.get(labelKey(labels)) ?? 0;
        return [labels, Math.round(((value - before) / span) * 1000) / 1000];
      });
    },
  };
}

export function createTelemetry() {
  const lines: (() => string[])[] = [];

  function counter(name: string, help: string): Counter {
    const values = new Map<string, number>();
    const labelSets = new Map<string, Labels>();
    lines.push(() => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} counter`,
      ...(values.size === 0 ? [`${name} 0`] : []),
      ...[...values].map(([k, v]) => `${name}${k ? `{${k}}` : ''} ${v}`),
    ]);
    return {
      inc(labels = {}, by = 1) {
        const k = labelKey(labels);
        const v = values.get(k);
        if (v === undefined) labelSets.set(k, { ...labels });
        values.set(k, (v ?? 0) + by);
      },
      get(labels = {}) {
        return values.get(labelKey(labels)) ?? 0;
      },
      sum() {
        let total = 0;
        for (const v of values.values()) total += v;
        return total;
      },
      entries() {
        return [...values].map(([k, v]): [Labels, number] => [labelSets.get(k)!, v]);
      },
    };
  }

  /** A gauge whose values are read when scraped: `read` returns [labels, value] pairs. */
  function gauge(name: string, help: string, read: () => [Labels, number][]): void {
    lines.push(() => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      ...read().map(([l, v]) => {
        const k = labelKey(l);
        return `${name}${k ? `{${k}}` : ''} ${v}`;
      }),
    ]);
  }

  function histogram(name: string, help: string, buckets: number[]): Histogram {
    const counts = buckets.map(() => 0);
    let sum = 0;
    let count = 0;
    lines.push(() => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} histogram`,
      ...buckets.map((b, i) => `${name}_bucket{le="${b}"} ${counts[i]}`),
      `${name}_bucket{le="+Inf"} ${count}`,
      `${name}_sum ${sum}`,
      `${name}_count ${count}`,
    ]);
    return {
      observe(value: number) {
        sum += value;
        count++;
        buckets.forEach((b, i) => {
          if (value <= b) counts[i]! += 1;
        });
      },
      get count() {
        return count;
      },
    };
  }

  const ingested = counter('facefleet_ingest_messages_total', 'Device messages stored, by kind.');
  const rejected = counter(
    'facefleet_ingest_rejected_total',
    'Device messages refused, by reason (invalid payload, acl, too large, unknown device …).',
  );
  const duplicates = counter(
    'facefleet_ingest_duplicates_total',
    'Device messages already stored (replays), by kind.',
  );
  const rateLimited = counter(
    'facefleet_mqtt_rate_limited_total',
    'Publishes delayed because a login (all its sessions together) exceeded its rate.',
  );
  const authFailures = counter(
    'facefleet_mqtt_auth_failures_total',
    'Refused MQTT logins, by reason: bad_credentials, throttled, client_id, session_limit.',
  );
  const loginThrottled = counter(
    'facefleet_login_throttled_total',
    'Logins refused unchecked because their address failed too often, by transport (mqtt, http).',
  );
  const sessionsRefused = counter(
    'facefleet_sessions_refused_total',
    'Sessions refused because their login holds its limit already, by reason (per_login_limit: MQTT sessions; live_streams: event streams).',
  );
  const httpAuthFailures = counter(
    'facefleet_http_auth_failures_total',
    'Refused API requests, by reason: missing_token, invalid_token (401), forbidden (403: a role or device that may not).',
  );
  const batchCommit = histogram(
    'facefleet_ingest_batch_commit_seconds',
    'Time to commit one ingest batch.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  const ackDelay = histogram(
    'facefleet_ingest_ack_delay_seconds',
    'Time from receiving a device message to its batch committing (when the QoS 1 ack may go out).',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const batchRows = counter('facefleet_ingest_batches_total', 'Ingest batches committed.');
  const sessionsDropped = counter(
    'facefleet_mqtt_sessions_revoked_total',
    'Open MQTT sessions closed because their credentials were revoked or rotated.',
  );
  const ingestRate = createRateWindow(
    ingested,
    INGEST_RATE_WINDOW_MS,
    INGESTED_KINDS.map((kind) => ({ kind })),
  );
  gauge(
    'facefleet_ingest_rows_per_second',
    `Device messages stored per second over the last ${INGEST_RATE_WINDOW_MS / 1000} s, by kind.`,
    () => ingestRate.rates(performance.now()),
  );

  /** Reads that must finish before a scrape (values that live in the database). */
  const refreshers: (() => Promise<void>)[] = [];
  return {
    counter,
    gauge,
    histogram,
    /** Runs `refresh` before each scrape (`collect`): for gauges read from the database. */
    beforeScrape(refresh: () => Promise<void>): void {
      refreshers.push(refresh);
    },
    ingested,
    rejected,
    duplicates,
    rateLimited,
    authFailures,
    loginThrottled,
    sessionsRefused,
    httpAuthFailures,
    batchCommit,
    ackDelay,
    batchRows,
    sessionsDropped,
    /** Call about once a second (server.ts does): the ingest rate is computed from these samples. */
    sampleRates(now = performance.now()) {
      ingestRate.sample(now);
    },
    render(): string {
      return `${lines.flatMap((l) => l()).join('\n')}\n`;
    },
    /** Refreshes what `beforeScrape` asked for, then renders. */
    async collect(): Promise<string> {
      await Promise.all(refreshers.map((r) => r()));
      return this.render();
    },
  };
}
export type Telemetry = ReturnType<typeof createTelemetry>;
