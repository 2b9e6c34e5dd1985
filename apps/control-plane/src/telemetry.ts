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
}

export interface Histogram {
  observe(value: number): void;
  readonly count: number;
}

export function createTelemetry() {
  const lines: (() => string[])[] = [];

  function counter(name: string, help: string): Counter {
    const values = new Map<string, number>();
    lines.push(() => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} counter`,
      ...(values.size === 0 ? [`${name} 0`] : []),
      ...[...values].map(([k, v]) => `${name}${k ? `{${k}}` : ''} ${v}`),
    ]);
    return {
      inc(labels = {}, by = 1) {
        const k = labelKey(labels);
        values.set(k, (values.get(k) ?? 0) + by);
      },
      get(labels = {}) {
        return values.get(labelKey(labels)) ?? 0;
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
    'Publishes delayed because a client exceeded its rate.',
  );
  const authFailures = counter('facefleet_mqtt_auth_failures_total', 'Refused MQTT logins.');
  const batchCommit = histogram(
    'facefleet_ingest_batch_commit_seconds',
    'Time to commit one ingest batch.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  const batchRows = counter('facefleet_ingest_batches_total', 'Ingest batches committed.');

  return {
    counter,
    gauge,
    histogram,
    ingested,
    rejected,
    duplicates,
    rateLimited,
    authFailures,
    batchCommit,
    batchRows,
    render(): string {
      return `${lines.flatMap((l) => l()).join('\n')}\n`;
    },
  };
}
export type Telemetry = ReturnType<typeof createTelemetry>;
