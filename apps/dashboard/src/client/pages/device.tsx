import { useEffect, useState } from 'preact/hooks';
import { api, json } from '../api.js';
import { Chart } from '../chart.js';
import { ago, num, RANGES, time } from '../format.js';
import { Sparkline } from '../sparkline.js';
import { type Store, useStore } from '../store.js';
import type {
  CameraBucket,
  DeviceCamera,
  DeviceHistory,
  FaceBucket,
  MetricBucket,
  StoredAlert,
} from '../types.js';
import { useNow } from '../use-now.js';
import { FpsCell } from './fleet.js';

interface Series {
  faces: FaceBucket[];
  metrics: MetricBucket[];
  /** Each camera with its FPS buckets over the range. */
  cameras: { camera: DeviceCamera; buckets: CameraBucket[] }[];
  bucketMs: number;
}

/** The device's cameras: state and why, since when, FPS now and over the range, faces now. */
function CamerasCard({
  cameras,
  liveStates,
  from,
  to,
  bucketMs,
  now,
}: {
  cameras: Series['cameras'];
  /** States as the live device row has them (newer than the last reload). */
  liveStates: Map<string, { state: string; reason: string | null; since: number }>;
  from: number;
  to: number;
  bucketMs: number;
  now: number;
}) {
  return (
    <div class="card">
      <h2>
        Cameras{' '}
        <span class="muted" data-testid="camera-count">
          {cameras.length}
        </span>
      </h2>
      {cameras.length === 0 ? (
        <p class="muted">No camera has reported yet.</p>
      ) : (
        <table class="compact" data-testid="cameras">
          <thead>
            <tr>
              <th>Camera</th>
              <th>State</th>
              <th>FPS</th>
              <th>Over the range</th>
              <th>Faces</th>
            </tr>
          </thead>
          <tbody>
            {cameras.map(({ camera: c, buckets }) => {
              const live = liveStates.get(c.id);
              const state = live?.state ?? c.state ?? 'unknown';
              const reason = live ? live.reason : c.reason;
              const since = live?.since ?? c.since;
              return (
                <tr key={c.id} data-camera={c.id} data-state={state}>
                  <td class="mono">{c.id}</td>
                  <td>
                    <span class={`badge state-${state}`} data-testid="camera-state">
                      {state}
                    </span>
                    <div class="muted small">
                      {since === null ? '' : `since ${ago(since, now)}`}
                      {reason ? ` · ${reason}` : ''}
                    </div>
                  </td>
                  <td>
                    <strong>{num(c.lastMetrics?.fps)}</strong>
                    <span class="muted small"> / {num(c.lastMetrics?.cameraFps)} source</span>
                  </td>
                  <td>
                    <Sparkline
                      points={buckets.map((b) => ({ t: b.t, value: b.fps, down: b.offline > 0 }))}
                      from={from}
                      to={to}
                      bucketMs={bucketMs}
                      label={`camera ${c.id}: processed FPS per bucket`}
                    />
                  </td>
                  <td>{c.lastFaces?.last ?? '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function DevicePage({ store, id }: { store: Store; id: string }) {
  const state = useStore(store);
  const now = useNow();
  const device = state.devices.get(id);
  const [range, setRange] = useState(1);
  const [series, setSeries] = useState<(Series & { from: number; to: number }) | null>(null);
  const [history, setHistory] = useState<DeviceHistory | null>(null);
  const [alerts, setAlerts] = useState<StoredAlert[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const r = RANGES[range]!;

  // New data from this device reloads the charts, at most every 2 s.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = store.onEvent((e) => {
      const about =
        'deviceId' in e
          ? e.deviceId
          : e.type === 'device'
            ? e.device.id
            : e.type === 'alert'
              ? e.alert.deviceId
              : null;
      if (about !== id || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        setTick((n) => n + 1);
      }, 2000);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [store, id]);

  useEffect(() => {
    let cancelled = false;
    const to = Date.now();
    const query = { from: String(to - r.ms), to: String(to), bucket: r.bucket };
    const device = api.devices[':id'];
    const param = { id: encodeURIComponent(id) };
    const cameras = json(device.cameras.$get({ param })).then((c) =>
      Promise.all(
        c.cameras.map(async (camera) => ({
          camera,
          buckets: (
            await json(
              device.cameras[':camera'].metrics.$get({
                param: { ...param, camera: encodeURIComponent(camera.id) },
                query,
              }),
            )
          ).buckets,
        })),
      ),
    );
    Promise.all([
      json(device.faces.$get({ param, query })),
      json(device.metrics.$get({ param, query })),
      json(device.history.$get({ param, query: { limit: '20' } })),
      json(api.alerts.$get({ query: { deviceId: id, limit: '20' } })),
      cameras,
    ]).then(
      ([faces, metrics, h, a, cams]) => {
        if (cancelled) return;
        setSeries({
          faces: faces.buckets,
          metrics: metrics.buckets,
          cameras: cams,
          bucketMs: faces.bucketMs,
          from: to - r.ms,
          to,
        });
        setHistory(h);
        setAlerts(a.alerts);
        setError(null);
      },
      (err: Error) => !cancelled && setError(err.message),
    );
    return () => {
      cancelled = true;
    };
  }, [id, r.ms, r.bucket, tick, state.epoch]);

  if (!device) {
    return (
      <section>
        <p>
          <a href="#/">← Fleet</a>
        </p>
        <p class="muted">{state.devices.size === 0 ? 'Loading…' : `No device ${id}.`}</p>
      </section>
    );
  }
  const latest = history?.latestMetrics;
  return (
    <section>
      <p class="crumbs">
        <a href="#/">← Fleet</a>
      </p>
      <div class="page-head">
        <h1 data-testid="device-title">{device.id}</h1>
        <label>
          Range
          <select
            name="range"
            value={String(range)}
            onChange={(e) => setRange(Number((e.target as HTMLSelectElement).value))}
          >
            {RANGES.map((x, i) => (
              <option key={x.label} value={String(i)}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <dl class="facts">
        <div>
          <dt>State</dt>
          <dd>
            <span class={`badge state-${device.state ?? 'never-seen'}`}>
              {device.state ?? 'never seen'}
            </span>
          </dd>
        </div>
        <div>
          <dt>Class</dt>
          <dd>{device.deviceClass}</dd>
        </div>
        <div>
          <dt>Tags</dt>
          <dd>{device.tags.join(', ') || '—'}</dd>
        </div>
        <div>
          <dt>Engine</dt>
          <dd class="mono" data-testid="device-engine">
            {device.engineId ?? '—'}
          </dd>
        </div>
        <div>
          <dt>Faces now</dt>
          <dd data-testid="device-faces">{device.lastFaces?.last ?? '—'}</dd>
        </div>
        <div>
          <dt>Inference FPS / card</dt>
          <dd>
            <FpsCell d={device} />
          </dd>
        </div>
        <div>
          <dt>Cameras</dt>
          <dd data-testid="device-cameras">
            {device.cameraCounts.total}
            {device.cameraCounts.total - device.cameraCounts.online > 0 && (
              <span class="cameras-down">
                {' '}
                · {device.cameraCounts.total - device.cameraCounts.online} down
              </span>
            )}
          </dd>
        </div>
        <div>
          <dt>Power mode</dt>
          <dd>{device.powerMode ?? '—'}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd>{ago(device.lastSeen, now)}</dd>
        </div>
      </dl>
      {error && <p class="error">{error}</p>}
      <CamerasCard
        cameras={series?.cameras ?? []}
        liveStates={new Map(device.cameras.map((c) => [c.id, c]))}
        from={series?.from ?? Date.now() - r.ms}
        to={series?.to ?? Date.now()}
        bucketMs={series?.bucketMs ?? 60_000}
        now={now}
      />
      <div class="charts">
        <Chart
          testId="chart-faces"
          range={[series?.from ?? Date.now() - r.ms, series?.to ?? Date.now()]}
          title={`Faces per ${r.bucket} bucket`}
          times={series?.faces.map((b) => b.t) ?? []}
          series={[
            {
              label: 'max faces',
              color: '#0b6e4f',
              values: series?.faces.map((b) => b.maxFaces) ?? [],
            },
            {
              label: 'mean faces',
              color: '#e09f3e',
              values: series?.faces.map((b) => b.meanFaces) ?? [],
            },
          ]}
        />
        <Chart
          testId="chart-fps"
          range={[series?.from ?? Date.now() - r.ms, series?.to ?? Date.now()]}
          title="FPS and inference latency"
          times={series?.metrics.map((b) => b.t) ?? []}
          yLabel="FPS"
          y2Label="ms"
          series={[
            {
              label: 'inference FPS',
              color: '#3a86ff',
              values: series?.metrics.map((b) => b.inferFps) ?? [],
            },
            {
              label: 'end-to-end FPS',
              color: '#0b6e4f',
              values: series?.metrics.map((b) => b.fps) ?? [],
            },
            {
              label: 'latency p95 (ms)',
              color: '#d62828',
              scale: 'y2',
              values: series?.metrics.map((b) => b.latencyP95Max) ?? [],
            },
          ]}
        />
      </div>
      <div class="grid2">
        <div class="card">
          <h2>Temperatures</h2>
          {latest && Object.keys(latest.tempsC).length > 0 ? (
            <table class="compact" data-testid="temps">
              <tbody>
                {Object.entries(latest.tempsC).map(([k, v]) => (
                  <tr key={k}>
                    <th>{k}</th>
                    <td class={v >= 80 ? 'warn' : ''}>{num(v)} °C</td>
                  </tr>
                ))}
                <tr>
                  <th>GPU load</th>
                  <td>{num(latest.gpuPct, 0)} %</td>
                </tr>
                <tr>
                  <th>RAM used</th>
                  <td>{num(latest.ramUsedMb, 0)} MB</td>
                </tr>
              </tbody>
            </table>
          ) : (
            <p class="muted">No metrics yet.</p>
          )}
        </div>
        <div class="card">
          <h2>Engine updates</h2>
          {history && history.updates.length > 0 ? (
            <table class="compact" data-testid="updates">
              <thead>
                <tr>
                  <th>When</th>
                  <th>State</th>
                  <th>Engine</th>
                  <th>Rollout</th>
                </tr>
              </thead>
              <tbody>
                {history.updates.map((u) => (
                  <tr key={`${u.ts}-${u.rev}-${u.state}`}>
                    <td>{time(u.ts)}</td>
                    <td>
                      <span class={`badge upd-${u.state}`}>{u.state}</span>
                      {u.reason && <div class="muted small">{u.reason}</div>}
                    </td>
                    <td class="mono small">{u.engineId ?? '—'}</td>
                    <td class="mono small">{u.rolloutId ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">No update reports yet.</p>
          )}
        </div>
        <div class="card">
          <h2>Recent alerts</h2>
          {alerts.length > 0 ? (
            <ul class="feed">
              {alerts.map((a) => (
                <li key={a.id} class={`item-${a.state}`} data-alert-camera={a.camera ?? ''}>
                  <span class={`badge alert-${a.state}`}>{a.state}</span> {a.message}
                  <div class="muted small">{time(a.firedAt)}</div>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No alerts for this device.</p>
          )}
        </div>
      </div>
    </section>
  );
}
