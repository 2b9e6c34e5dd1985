import { useEffect, useRef, useState } from 'preact/hooks';
import { api, json } from '../api.js';
import { bytes, time } from '../format.js';
import { type Store, useStore } from '../store.js';
import type { Engine, LiveRollout } from '../types.js';

/** What the engine upload and the rollout routes take. */
type UploadQuery = Parameters<typeof api.engines.$post>[0]['query'];
type RolloutInput = Parameters<typeof api.rollouts.$post>[0]['json'];

const FINAL = new Set(['completed', 'halted', 'aborted']);

function field(form: HTMLFormElement, name: string): string {
  return ((form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '').trim();
}

function UploadForm({ store, onUploaded }: { store: Store; onUploaded: () => void }) {
  const meta = useStore(store).meta;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!meta) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const file = (form.elements.namedItem('file') as HTMLInputElement).files?.[0];
    if (!file) return setError('file: choose the engine file');
    const q: Record<string, string> = {};
    for (const name of [
      'id',
      'name',
      'model',
      'backend',
      'format',
      'deviceClass',
      'trtVersion',
      'precision',
      'inputDims',
    ]) {
      const v = field(form, name);
      if (v) q[name] = v;
    }
    setBusy(true);
    setError(null);
    try {
      await api.engines.$post({ query: q as UploadQuery }, { init: { body: file } });
      // Not form.reset(): that would put every select back on its first option.
      for (const n of ['file', 'id', 'name'])
        (form.elements.namedItem(n) as HTMLInputElement).value = '';
      onUploaded();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  // Preact has no defaultValue on <select>: the initial choice is the option marked selected.
  const options = (list: readonly string[], initial?: string) =>
    list.map((o) => (
      <option key={o} selected={o === (initial ?? list[0])}>
        {o}
      </option>
    ));
  return (
    <form class="card form" onSubmit={submit} data-testid="upload-form">
      <h2>Upload an engine</h2>
      <label>
        File
        <input type="file" name="file" required />
      </label>
      <div class="row">
        <label>
          Id (optional)
          <input name="id" placeholder="eng-…" />
        </label>
        <label>
          Name
          <input name="name" required placeholder="facenet pruned int8" />
        </label>
      </div>
      <div class="row">
        <label>
          Device class
          <select name="deviceClass">{options(meta.deviceClasses, 'jetson-xavier-nx')}</select>
        </label>
        <label>
          TensorRT version
          <input name="trtVersion" placeholder="8.5.2 (plans only)" />
        </label>
      </div>
      <div class="row">
        <label>
          Model
          <select name="model">{options(meta.engine.models)}</select>
        </label>
        <label>
          Backend
          <select name="backend">{options(meta.engine.backends, 'tensorrt')}</select>
        </label>
        <label>
          Format
          <select name="format">{options(meta.engine.formats)}</select>
        </label>
      </div>
      <div class="row">
        <label>
          Precision
          <select name="precision">{options(meta.engine.precisions)}</select>
        </label>
        <label>
          Input C,H,W
          <input name="inputDims" defaultValue="3,416,736" required />
        </label>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Uploading…' : 'Upload'}
      </button>
    </form>
  );
}

function RolloutForm({ store, engines }: { store: Store; engines: Engine[] }) {
  const state = useStore(store);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tags = [...new Set([...state.devices.values()].flatMap((d) => d.tags))].sort();
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const selector: RolloutInput['selector'] = {};
    const tag = field(form, 'tag');
    const cls = field(form, 'selClass');
    const ids = field(form, 'deviceIds');
    if (tag) selector.tag = tag;
    if (cls) selector.deviceClass = cls as RolloutInput['selector']['deviceClass'];
    if (ids) selector.deviceIds = ids.split(/[\s,]+/).filter(Boolean);
    const body: RolloutInput = {
      engineId: field(form, 'engineId'),
      selector,
      canaryShare: Number(field(form, 'canaryPct')) / 100,
      holdS: Number(field(form, 'holdS')),
      gateHoldS: Number(field(form, 'gateHoldS')),
      apTolerance: Number(field(form, 'apTolerance')),
      failureLimit: Number(field(form, 'failureLimit')),
    };
    setBusy(true);
    setError(null);
    try {
      await api.rollouts.$post({ json: body });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} data-testid="rollout-form">
      <h2>Start a rollout</h2>
      <label>
        Engine
        <select name="engineId" required>
          {engines.map((e) => (
            <option key={e.id} value={e.id}>
              {e.id} · {e.deviceClass}
            </option>
          ))}
        </select>
      </label>
      <div class="row">
        <label>
          Tag
          <select name="tag">
            <option value="">any</option>
            {tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Class
          <select name="selClass">
            <option value="">the engine's</option>
            {state.meta?.deviceClasses.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Device ids (optional, comma-separated)
        <input name="deviceIds" placeholder="cam-1, cam-2" />
      </label>
      <div class="row">
        <label>
          Canary %
          <input name="canaryPct" type="number" min="0" max="100" defaultValue="10" required />
        </label>
        <label>
          Hold (s)
          <input name="holdS" type="number" min="0" defaultValue="300" required />
        </label>
        <label>
          Health gate (s)
          <input name="gateHoldS" type="number" min="0" max="3600" defaultValue="30" required />
        </label>
        <label>
          AP tolerance (points)
          <input
            name="apTolerance"
            type="number"
            min="0"
            max="100"
            step="0.1"
            defaultValue="1"
            required
          />
        </label>
        <label>
          Failure limit
          <input name="failureLimit" type="number" min="0" defaultValue="0" required />
        </label>
      </div>
      <p class="muted small">
        An engine goes only to devices of its class; with no tag or ids, to every device of that
        class.
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy || engines.length === 0}>
        {busy ? 'Starting…' : 'Start rollout'}
      </button>
    </form>
  );
}

function Progress({
  label,
  targets,
}: {
  label: string;
  targets: NonNullable<LiveRollout['targets']>;
}) {
  if (targets.length === 0) return null;
  const count = (s: string) => targets.filter((t) => t.state === s).length;
  const applied = count('applied');
  const failed = count('failed') + count('reverted');
  const pct = (n: number) => `${(n / targets.length) * 100}%`;
  return (
    <div class="progress-row">
      <span class="progress-label">
        {label}{' '}
        <span class="muted small">
          {applied}/{targets.length} applied{failed > 0 ? `, ${failed} failed` : ''}
        </span>
      </span>
      <div
        class="bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={targets.length}
        aria-valuenow={applied}
      >
        <span class="ok" style={{ width: pct(applied) }} />
        <span class="bad" style={{ width: pct(failed) }} />
      </div>
    </div>
  );
}

function RolloutCard({ r, canWrite }: { r: LiveRollout; canWrite: boolean }) {
  const [error, setError] = useState<string | null>(null);
  const act = (action: 'pause' | 'resume' | 'abort') => async () => {
    setError(null);
    try {
      await api.rollouts[':id'][action].$post({ param: { id: encodeURIComponent(r.id) } });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const targets = r.targets ?? [];
  const final = FINAL.has(r.state);
  return (
    <article class="card rollout" data-rollout={r.id} data-state={r.state}>
      <header>
        <h3 class="mono">{r.id}</h3>
        <span class={`badge ro-${r.state}`} data-testid="rollout-state">
          {r.state}
        </span>
      </header>
      <p class="small">
        engine <span class="mono">{r.engineId}</span> · canary {Math.round(r.canaryShare * 100)} % ·
        hold {r.holdS} s · health gate {r.gateHoldS} s · AP tolerance {r.apTolerance} · started{' '}
        {time(r.createdAt)}
      </p>
      {r.reason && <p class="small warn">{r.reason}</p>}
      <Progress label="canary" targets={targets.filter((t) => t.stage === 'canary')} />
      <Progress label="rest" targets={targets.filter((t) => t.stage === 'rest')} />
      {targets.length > 0 && (
        <details>
          <summary>{targets.length} devices</summary>
          <ul class="targets">
            {targets.map((t) => (
              <li key={t.deviceId}>
                <a href={`#/devices/${encodeURIComponent(t.deviceId)}`}>{t.deviceId}</a>{' '}
                <span class="muted small">{t.stage}</span>{' '}
                <span class={`badge tg-${t.state}`}>{t.state}</span>
                {t.gate?.accuracy && (
                  <span class="small" data-testid="target-ap">
                    {' '}
                    AP {t.gate.accuracy.engine.ap.toFixed(1)}
                    {t.gate.accuracy.previous
                      ? ` (was ${t.gate.accuracy.previous.ap.toFixed(1)} with ${t.gate.accuracy.previous.engineId})`
                      : ''}
                  </span>
                )}
                {t.gate?.fps && (
                  <span class="small muted" data-testid="target-fps">
                    {' '}
                    inference {t.gate.fps.engine.inferFps.toFixed(1)} FPS
                    {t.gate.fps.previous ? ` (was ${t.gate.fps.previous.inferFps.toFixed(1)})` : ''}
                  </span>
                )}
                {t.reason && <span class="muted small"> {t.reason}</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
      {canWrite && !final && (
        <div class="actions">
          {r.state === 'paused' ? (
            <button type="button" onClick={act('resume')}>
              Resume
            </button>
          ) : (
            <button type="button" onClick={act('pause')}>
              Pause
            </button>
          )}
          <button type="button" class="danger" onClick={act('abort')}>
            Abort
          </button>
        </div>
      )}
      {error && <p class="error">{error}</p>}
    </article>
  );
}

export function EnginesPage({ store, canWrite }: { store: Store; canWrite: boolean }) {
  const state = useStore(store);
  const [engines, setEngines] = useState<Engine[]>([]);
  const [reload, setReload] = useState(0);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    json(api.engines.$get()).then(
      (r) => setEngines(r.engines),
      (err: Error) => setError(err.message),
    );
  }, [reload, state.epoch]);
  // The list holds rollouts without targets; fetch the targets of those shown without them.
  const rollouts = [...state.rollouts.values()].sort((a, b) => b.createdAt - a.createdAt);
  const fetching = useRef(new Set<string>());
  useEffect(() => {
    for (const r of rollouts) {
      if (r.targets || fetching.current.has(r.id)) continue;
      fetching.current.add(r.id);
      void json(api.rollouts[':id'].$get({ param: { id: encodeURIComponent(r.id) } }))
        .then((x) => store.apply({ type: 'rollout', rollout: x.rollout }))
        .finally(() => fetching.current.delete(r.id));
    }
  });
  return (
    <section>
      <div class="page-head">
        <h1>Engines &amp; rollouts</h1>
      </div>
      {error && <p class="error">{error}</p>}
      <div class={canWrite ? 'grid2' : ''}>
        {canWrite && <UploadForm store={store} onUploaded={() => setReload((n) => n + 1)} />}
        {canWrite && <RolloutForm store={store} engines={engines} />}
      </div>
      <h2>Rollouts</h2>
      {rollouts.length === 0 ? (
        <p class="muted">No rollouts yet.</p>
      ) : (
        <div class="rollouts">
          {rollouts.map((r) => (
            <RolloutCard key={r.id} r={r} canWrite={canWrite} />
          ))}
        </div>
      )}
      <h2>Engines</h2>
      <table class="compact engines" data-testid="engines">
        <thead>
          <tr>
            <th>Id</th>
            <th>Name</th>
            <th>Class</th>
            <th>Backend</th>
            <th>Size</th>
            <th>Uploaded</th>
          </tr>
        </thead>
        <tbody>
          {engines.map((e) => (
            <tr key={e.id}>
              <td class="mono">{e.id}</td>
              <td>{e.name}</td>
              <td>{e.deviceClass}</td>
              <td>
                {e.backend} {e.format} {e.precision}
                {e.trtVersion ? ` · TRT ${e.trtVersion}` : ''}
              </td>
              <td>{bytes(e.size)}</td>
              <td>{time(e.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
