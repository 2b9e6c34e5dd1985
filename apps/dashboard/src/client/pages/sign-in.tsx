import { useState } from 'preact/hooks';
import { api } from '../api.js';

/** Sign in with an API token (`facefleet-server token create --role viewer`); it is not stored. */
export function SignIn({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.session.$post({ json: { token: token.trim() } });
      setToken('');
      await onSignedIn();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={submit} class="card">
        <h1>facefleet</h1>
        <p class="muted">
          Sign in with an API token. Viewers can see everything and change nothing.
        </p>
        <label>
          API token
          <input
            name="token"
            type="password"
            autocomplete="off"
            placeholder="ff_…"
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
