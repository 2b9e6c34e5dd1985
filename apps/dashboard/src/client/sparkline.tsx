/**
 * A small inline chart of one series over a time range: an SVG polyline, broken where buckets are
 * missing (no sample: the camera or the device was silent), with the buckets in which the camera
 * was not online marked below the line. No axes: the number beside it says what it is.
 */
export interface SparkPoint {
  t: number;
  value: number;
  /** The bucket had samples in which the camera was not online. */
  down?: boolean;
}

export function Sparkline({
  points,
  from,
  to,
  bucketMs,
  width = 120,
  height = 28,
  label,
}: {
  points: SparkPoint[];
  from: number;
  to: number;
  bucketMs: number;
  width?: number;
  height?: number;
  label: string;
}) {
  const max = Math.max(1, ...points.map((p) => p.value));
  const x = (t: number) => ((t - from) / Math.max(1, to - from)) * width;
  const y = (v: number) => height - 3 - (v / max) * (height - 6);
  // one path segment per run of consecutive buckets
  const runs: SparkPoint[][] = [];
  for (const p of points) {
    const run = runs[runs.length - 1];
    const prev = run?.[run.length - 1];
    if (run && prev && p.t - prev.t <= bucketMs * 1.5) run.push(p);
    else runs.push([p]);
  }
  return (
    <svg
      class="spark"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      {runs.map((run) =>
        run.length === 1 ? (
          <circle
            key={run[0]!.t}
            cx={x(run[0]!.t)}
            cy={y(run[0]!.value)}
            r="1.5"
            class="spark-line"
          />
        ) : (
          <polyline
            key={run[0]!.t}
            class="spark-line"
            points={run.map((p) => `${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}
          />
        ),
      )}
      {points
        .filter((p) => p.down)
        .map((p) => (
          <rect
            key={`d${p.t}`}
            class="spark-down"
            x={x(p.t)}
            y={height - 2}
            width={Math.max(1.5, (bucketMs / Math.max(1, to - from)) * width)}
            height="2"
          />
        ))}
    </svg>
  );
}
