/** One sample of a Prometheus text exposition: `name{labels} value`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Metrics {
  samples: MetricSample[];
  /**
   * The value of `name` with exactly these labels (0 when absent: a counter not incremented yet
   * is not always printed with its labels).
   */
  get(name: string, labels?: Record<string, string>): number;
  /** The sum of `name` over every label set, or over those matching `where`'s labels. */
  sum(name: string, where?: Record<string, string>): number;
  /** Every label set of `name` with its value. */
  all(name: string): MetricSample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text format (what `/metrics` answers); throws on a line it cannot read. */
export function parseMetrics(text: string): Metrics {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const matches = (s: MetricSample, want: Record<string, string>) =>
    Object.entries(want).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    get(name, labels = {}) {
      const n = Object.keys(labels).length;
      return (
        samples.find(
          (s) => s.name === name && Object.keys(s.labels).length === n && matches(s, labels),
        )?.value ?? 0
      );
    },
    sum(name, where = {}) {
      return samples
        .filter((s) => s.name === name && matches(s, where))
        .reduce((a, s) => a + s.value, 0);
    },
    all: (name) => samples.filter((s) => s.name === name),
  };
}
