import { fpsRatio } from '@facefleet/protocol/projections';

/** Small formatting helpers: pure functions of their arguments. */

export function ago(ts: number | null, now: number): string {
  if (ts === null) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

export function num(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function time(ts: number | null): string {
  if (ts === null) return '—';
  return new Date(ts).toLocaleString('en-GB', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** How a device's inference FPS compares with its class's model-card figure. */
export function fpsGrade(
  inferFps: number | null | undefined,
  referenceFps: number | null,
): { ratio: number | null; grade: 'ok' | 'low' | 'bad' | 'none' } {
  const ratio = fpsRatio(inferFps, referenceFps);
  if (ratio === null) return { ratio: null, grade: 'none' };
  return { ratio, grade: ratio < 0.5 ? 'bad' : ratio < 0.8 ? 'low' : 'ok' };
}

/** Bucket size per chart range: about 60–360 points whatever the range. */
export const RANGES = [
  { label: '15 min', ms: 15 * 60_000, bucket: '10s' },
  { label: '1 h', ms: 3_600_000, bucket: '60s' },
  { label: '6 h', ms: 6 * 3_600_000, bucket: '5m' },
  { label: '24 h', ms: 86_400_000, bucket: '15m' },
  { label: '7 d', ms: 7 * 86_400_000, bucket: '1h' },
] as const;
