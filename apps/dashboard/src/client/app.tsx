import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiRequestError, api, json } from './api.js';
import { connectLive } from './live.js';
import { AlertsPage } from './pages/alerts.js';
import { DevicePage } from './pages/device.js';
import { EnginesPage } from './pages/engines.js';
import { FleetPage } from './pages/fleet.js';
import { SignIn } from './pages/sign-in.js';
import { type Store, useStore } from './store.js';

/** Hash routes: `#/`, `#/devices/ID`, `#/engines`, `#/alerts`. */
function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.replace(/^#/, '') || '/';
}

export function App({ store }: { store: Store }) {
  const state = useStore(store);
  const route = useRoute();
  const [checked, setChecked] = useState(false);

  const checkSession = useCallback(async () => {
    try {
      const [session, meta] = await Promise.all([json(api.session.$get()), json(api.meta.$get())]);
      store.set({ principal: session.principal, meta });
    } catch (err) {
      if (!(err instanceof ApiRequestError && err.status === 401)) console.error(err);
      store.set({ principal: null });
    } finally {
      setChecked(true);
    }
  }, [store]);

  useEffect(() => {
    void checkSession();
  }, [checkSession]);

  const signedIn = state.principal !== null;
  useEffect(() => {
    if (!signedIn) return;
    return connectLive(store, () => void checkSession());
  }, [signedIn, store, checkSession]);

  if (!checked) return <p class="loading">Loading…</p>;
  if (!state.principal) return <SignIn onSignedIn={checkSession} />;

  const signOut = async () => {
    await api.session.$delete().catch(() => {});
    store.set({ principal: null });
  };
  const canWrite = state.principal.role !== 'viewer';
  let page: ComponentChildren;
  const device = /^\/devices\/([^/]+)$/.exec(route);
  if (device) page = <DevicePage store={store} id={decodeURIComponent(device[1]!)} />;
  else if (route === '/engines') page = <EnginesPage store={store} canWrite={canWrite} />;
  else if (route === '/alerts') page = <AlertsPage store={store} canWrite={canWrite} />;
  else page = <FleetPage store={store} />;

  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} class={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          facefleet
        </a>
        <nav>
          {nav('#/', 'Fleet', route === '/' || route.startsWith('/devices/'))}
          {nav('#/engines', 'Engines & rollouts', route === '/engines')}
          {nav('#/alerts', 'Alerts', route === '/alerts')}
        </nav>
        <div class="who">
          <span class={`conn conn-${state.connection}`} data-testid="connection">
            {state.connection === 'live' ? 'live' : state.connection}
          </span>
          <span class="role" data-testid="role">
            {state.principal.name} · {state.principal.role}
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {!canWrite && (
        <p class="banner" data-testid="read-only">
          Signed in as a viewer: you can see everything and change nothing.
        </p>
      )}
      <main>{page}</main>
    </>
  );
}
