/** A column of a human-readable table. */
export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
  align?: 'left' | 'right';
  /** Wraps a cell (after padding) in terminal colours, e.g. to highlight slow devices. */
  style?: (row: T, cell: string) => string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal colour codes is the point
const ansi = /\u001b\[[0-9;]*m/g;
const visibleLength = (s: string) => s.replace(ansi, '').length;

/** Renders rows as an aligned plain-text table with a header line. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => formatCell(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => visibleLength(r[i] ?? ''))),
  );
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(text)));
    return columns[i]?.align === 'right' ? fill + text : text + fill;
  };
  const lines = [columns.map((c, i) => pad(c.header, i)).join('  ')];
  rows.forEach((row, r) => {
    lines.push(
      columns
        .map((c, i) => {
          const padded = pad(cells[r]?.[i] ?? '', i);
          return c.style ? c.style(row, padded) : padded;
        })
        .join('  ')
        .trimEnd(),
    );
  });
  return `${lines.map((l) => l.trimEnd()).join('\n')}\n`;
}

function formatCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  return v;
}

/** Colours for terminals; plain text when output is not a TTY or NO_COLOR is set. */
export function colours(enabled: boolean) {
  const wrap = (code: string) => (s: string) => (enabled ? `\u001b[${code}m${s}\u001b[0m` : s);
  return {
    red: wrap('31'),
    yellow: wrap('33'),
    green: wrap('32'),
    bold: wrap('1'),
    dim: wrap('2'),
  };
}

/** "3s ago", "5m ago" — for last-seen columns. */
export function ago(ts: number | null | undefined, now: number): string {
  if (!ts) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
