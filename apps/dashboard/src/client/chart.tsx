import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  /** Which y scale: the left (default) or a second one on the right. */
  scale?: 'y' | 'y2';
}

interface ChartProps {
  title: string;
  /** Unix milliseconds. */
  times: number[];
  series: Series[];
  height?: number;
  yLabel?: string;
  y2Label?: string;
  testId?: string;
  /** The x range shown (unix ms), whatever the data covers. */
  range: [number, number];
}

/** A time-series chart drawn by uPlot, sized to its container and redrawn when the data changes. */
export function Chart({
  title,
  times,
  series,
  height = 220,
  yLabel,
  y2Label,
  testId,
  range,
}: ChartProps) {
  const rangeRef = useRef(range);
  rangeRef.current = range;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}:${s.scale ?? 'y'}`).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const hasY2 = series.some((s) => s.scale === 'y2');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          scale: s.scale ?? 'y',
          spanGaps: false,
        })),
      ],
      scales: {
        x: { time: true, range: () => [rangeRef.current[0] / 1000, rangeRef.current[1] / 1000] },
      },
      axes: [
        {},
        { scale: 'y', label: yLabel, size: 50 },
        ...(hasY2
          ? [{ scale: 'y2', side: 1, label: y2Label, size: 50, grid: { show: false } }]
          : []),
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])] as uPlot.AlignedData, el);
    plot.current = u;
    const observer = new ResizeObserver(() => {
      u.setSize({ width: Math.max(200, el.clientWidth), height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes (`shape`); data updates go through setData below.
  }, [shape, height, yLabel, y2Label]);

  useEffect(() => {
    plot.current?.setData([
      times.map((t) => t / 1000),
      ...series.map((s) => s.values),
    ] as uPlot.AlignedData);
  });

  return (
    <figure class="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" />
      {times.length === 0 && <p class="muted chart-empty">No data in this range yet.</p>}
    </figure>
  );
}
