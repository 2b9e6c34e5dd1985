import { useEffect, useState } from 'preact/hooks';
import { api, json } from '../api.js';
import { time } from '../format.js';
import { type Store, useStore } from '../store.js';
import type { AlertRule } from '../types.js';

/** What the threshold of each rule kind means (as the API's alert rules define it). */
const THRESHOLD_HINT: Record<string, string> = {
  faces_above: 'faces (at least)',
  no_faces: 'unused',
  device_offline: 'seconds of silence',
  fps_below: 'share of the model-card FPS (0.5 = half)',
  temp_above: '°C',
  engine_rolled_back: 'unused',
};

/** What the alert-rule route takes. */
type RuleInput = Parameters<(typeof api)['alert-rules']['$post']>[0]['json'];

function RuleForm({ store, onCreated }: { store: Store; onCreated: () => void }) {
  const meta = useStore(store).meta;
  const [kind, setKind] = useState('faces_above');
  const [error, setError] = useState<string | null>(null);
  if (!meta) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const v = (n: string) => ((form.elements.namedItem(n) as HTMLInputElement).value ?? '').trim();
    // The selects offer what /api/v1/meta lists; the server validates every field anyway.
    const selector: NonNullable<RuleInput['selector']> = {};
    if (v('tag')) selector.tag = v('tag');
    if (v('deviceClass')) selector.deviceClass = v('deviceClass') as typeof selector.deviceClass;
    const body: RuleInput = {
      id: v('id'),
      kind: kind as RuleInput['kind'],
      threshold: Number(v('threshold') || 0),
      forS: Number(v('forS') || 0),
      severity: v('severity') as RuleInput['severity'],
    };
    if (Object.keys(selector).length > 0) body.selector = selector;
    if (v('webhookUrl')) body.webhookUrl = v('webhookUrl');
    setError(null);
    try {
      await api['alert-rules'].$post({ json: body });
      // Not form.reset(): that would put every select back on its first option.
      for (const n of ['id', 'threshold', 'tag', 'webhookUrl']) {
        (form.elements.namedItem(n) as HTMLInputElement).value = '';
      }
      onCreated();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const noThreshold = kind === 'no_faces' || kind === 'engine_rolled_back';
  return (
    <form class="card form" onSubmit={submit} data-testid="rule-form">
      <h2>New alert rule</h2>
      <div class="row">
        <label>
          Id
          <input name="id" required placeholder="lobby-crowd" />
        </label>
        <label>
          Kind
          <select
            name="kind"
            value={kind}
            onChange={(e) => setKind((e.target as HTMLSelectElement).value)}
          >
            {meta.alertKinds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
      </div>
      <div class="row">
        <label>
          Threshold
          <input
            name="threshold"
            type="number"
            step="any"
            min="0"
            disabled={noThreshold}
            placeholder={THRESHOLD_HINT[kind] ?? ''}
            title={THRESHOLD_HINT[kind] ?? ''}
          />
        </label>
        <label>
          For (s)
          <input name="forS" type="number" min="0" defaultValue="0" />
        </label>
        <label>
          Severity
          <select name="severity">
            {meta.severities.map((s) => (
              <option key={s} selected={s === 'warning'}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="row">
        <label>
          Only tag
          <input name="tag" placeholder="any" />
        </label>
        <label>
          Only class
          <select name="deviceClass">
            <option value="">any</option>
            {meta.deviceClasses.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Webhook URL (optional)
        <input name="webhookUrl" type="url" placeholder="https://…" />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit">Create rule</button>
    </form>
  );
}

export function AlertsPage({ store, canWrite }: { store: Store; canWrite: boolean }) {
  const state = useStore(store);
  const [rules, setRules] = useState<AlertRule[]>([]);
  const [reload, setReload] = useState(0);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    json(api['alert-rules'].$get()).then(
      (r) => setRules(r.rules),
      (err: Error) => setError(err.message),
    );
  }, [reload, state.epoch]);
  const remove = async (id: string) => {
    try {
      await api['alert-rules'][':id'].$delete({ param: { id: encodeURIComponent(id) } });
      setReload((n) => n + 1);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const firing = state.alerts.filter((a) => a.state === 'firing').length;
  return (
    <section>
      <div class="page-head">
        <h1>Alerts</h1>
        <span class={firing > 0 ? 'badge alert-firing' : 'badge'}>{firing} firing</span>
      </div>
      {error && <p class="error">{error}</p>}
      <div class="grid2">
        <div>
          {canWrite && <RuleForm store={store} onCreated={() => setReload((n) => n + 1)} />}
          <div class="card">
            <h2>Rules</h2>
            {rules.length === 0 ? (
              <p class="muted">No rules.</p>
            ) : (
              <table class="compact" data-testid="rules">
                <thead>
                  <tr>
                    <th>Id</th>
                    <th>Kind</th>
                    <th>Threshold</th>
                    <th>For</th>
                    <th>Severity</th>
                    {canWrite && <th />}
                  </tr>
                </thead>
                <tbody>
                  {rules.map((r) => (
                    <tr key={r.id} data-rule={r.id}>
                      <td class="mono">{r.id}</td>
                      <td>{r.kind}</td>
                      <td>{r.threshold}</td>
                      <td>{r.forS} s</td>
                      <td>{r.severity}</td>
                      {canWrite && (
                        <td>
                          <button type="button" class="link danger" onClick={() => remove(r.id)}>
                            Delete
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </div>
        <div class="card">
          <h2>Live feed</h2>
          {state.alerts.length === 0 ? (
            <p class="muted">No alerts yet.</p>
          ) : (
            <ul class="feed" data-testid="alert-feed">
              {state.alerts.map((a) => (
                <li key={a.id} class={`item-${a.state}`} data-alert-rule={a.ruleId}>
                  <span class={`badge alert-${a.state}`}>{a.state}</span>{' '}
                  <span class={`badge sev-${a.severity}`}>{a.severity}</span> {a.message}
                  <div class="muted small">
                    {time(a.firedAt)}
                    {a.resolvedAt ? ` → resolved ${time(a.resolvedAt)}` : ''} ·{' '}
                    <a href={`#/devices/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</a>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}
