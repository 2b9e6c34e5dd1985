import { useState } from 'preact/hooks';
import { ago, fpsGrade, num } from '../format.js';
import { type Store, useStore } from '../store.js';
import type { FleetDevice } from '../types.js';
import { useNow } from '../use-now.js';

function StateBadge({ state }: { state: string | null }) {
  const s = state ?? 'never seen';
  return <span class={`badge state-${s.replace(' ', '-')}`}>{s}</span>;
}

/** Inference FPS beside the class's model-card figure, coloured when far below it. */
export function FpsCell({ d }: { d: FleetDevice }) {
  const infer = d.lastMetrics?.inferFps ?? null;
  const { ratio, grade } = fpsGrade(infer, d.referenceFps);
  return (
    <span
      class={`fps fps-${grade}`}
      title={ratio === null ? '' : `${Math.round(ratio * 100)} % of the model card`}
    >
      <strong>{num(infer)}</strong>
      <span class="muted"> / {d.referenceFps === null ? 'no card' : num(d.referenceFps, 0)}</span>
      {d.lastMetrics?.fps != null && (
        <span class="muted small"> · {num(d.lastMetrics.fps)} fps e2e</span>
      )}
    </span>
  );
}

export function FleetPage({ store }: { store: Store }) {
  const state = useStore(store);
  const now = useNow();
  const [tag, setTag] = useState('');
  const [cls, setCls] = useState('');
  const all = [...state.devices.values()].sort((a, b) => a.id.localeCompare(b.id));
  const tags = [...new Set(all.flatMap((d) => d.tags))].sort();
  const classes = [...new Set(all.map((d) => d.deviceClass))].sort();
  const shown = all.filter(
    (d) => (!tag || d.tags.includes(tag)) && (!cls || d.deviceClass === cls),
  );
  const online = shown.filter((d) => d.state === 'online').length;
  const faces = shown.reduce(
    (n, d) => n + (d.state === 'online' ? (d.lastFaces?.last ?? 0) : 0),
    0,
  );
  const cameras = shown.reduce((n, d) => n + d.cameraCounts.total, 0);
  const camerasDown = shown.reduce((n, d) => n + d.cameraCounts.total - d.cameraCounts.online, 0);
  const slow = shown.filter(
    (d) => fpsGrade(d.lastMetrics?.inferFps, d.referenceFps).grade === 'bad',
  ).length;

  return (
    <section>
      <div class="page-head">
        <h1>Fleet</h1>
        <div class="filters">
          <label>
            Tag
            <select
              value={tag}
              onChange={(e) => setTag((e.target as HTMLSelectElement).value)}
              name="tag"
            >
              <option value="">all</option>
              {tags.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            Class
            <select
              value={cls}
              onChange={(e) => setCls((e.target as HTMLSelectElement).value)}
              name="class"
            >
              <option value="">all</option>
              {classes.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      <div class="stats">
        <div>
          <strong data-testid="count-devices">{shown.length}</strong> devices
        </div>
        <div>
          <strong data-testid="count-online">{online}</strong> online
        </div>
        <div>
          <strong data-testid="count-cameras">{cameras}</strong> cameras
        </div>
        <div class={camerasDown > 0 ? 'warn' : ''}>
          <strong data-testid="count-cameras-down">{camerasDown}</strong> cameras offline or
          reconnecting
        </div>
        <div>
          <strong data-testid="count-faces">{faces}</strong> faces now
        </div>
        <div class={slow > 0 ? 'warn' : ''}>
          <strong>{slow}</strong> below half the model card
        </div>
      </div>
      {all.length === 0 ? (
        <p class="muted">
          No devices enrolled yet. Enroll one with the API or the CLI and it appears here.
        </p>
      ) : (
        <table class="fleet" data-testid="fleet-table">
          <thead>
            <tr>
              <th>Device</th>
              <th>State</th>
              <th>Faces</th>
              <th>Cameras</th>
              <th>Inference FPS / card</th>
              <th>Engine</th>
              <th>Last seen</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((d) => (
              <tr key={d.id} data-device={d.id}>
                <td data-label="Device">
                  <a href={`#/devices/${encodeURIComponent(d.id)}`}>{d.id}</a>
                  <div class="muted small">
                    {d.deviceClass}
                    {d.tags.map((t) => (
                      <span key={t} class="tag">
                        {t}
                      </span>
                    ))}
                  </div>
                </td>
                <td data-label="State">
                  <StateBadge state={d.state} />
                </td>
                <td data-label="Faces" class="faces" data-testid="faces">
                  {d.lastFaces ? (
                    <>
                      <strong>{d.lastFaces.last}</strong>
                      <span class="muted small"> max {d.lastFaces.max}</span>
                    </>
                  ) : (
                    '—'
                  )}
                </td>
                <td data-label="Cameras" data-testid="cameras">
                  {d.cameraCounts.total === 0 ? '—' : d.cameraCounts.total}
                  {d.cameraCounts.total - d.cameraCounts.online > 0 && (
                    <span class="cameras-down small">
                      {' '}
                      {d.cameraCounts.total - d.cameraCounts.online} down
                    </span>
                  )}
                </td>
                <td data-label="FPS / card">
                  <FpsCell d={d} />
                </td>
                <td data-label="Engine" class="mono small">
                  {d.engineId ?? '—'}
                </td>
                <td
                  data-label="Last seen"
                  title={d.lastSeen ? new Date(d.lastSeen).toISOString() : ''}
                >
                  {ago(d.lastSeen, now)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
