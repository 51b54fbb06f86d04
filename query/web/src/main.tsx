/**
 * The explorer's page: a header (views, tenant and API key for this tab, theme), then the explore
 * view or the cluster view. Preact for the UI (3 kB, components and hooks, no build step beyond
 * esbuild's JSX) and uPlot for the charts (small, fast on thousands of points, canvas-drawn); the
 * client library for every request.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Cluster } from './cluster';
import { Explore } from './explore';
import { applyTheme, clientFor, readCredentials, readTheme, readView, writeCredentials, writeView, type Credentials, type ViewState } from './state';
import './style.css';

function App() {
  const [view, setView] = useState<ViewState>(readView);
  const [creds, setCreds] = useState<Credentials>(readCredentials);
  const [draft, setDraft] = useState<Credentials>(creds);
  const [theme, setTheme] = useState(readTheme);
  const client = useMemo(() => clientFor(creds), [creds.tenant, creds.key]);

  useEffect(() => applyTheme(theme, false), []);
  useEffect(() => {
    const back = (): void => setView(readView());
    addEventListener('popstate', back);
    // `/` anywhere but in a field goes to the query.
    const slash = (e: KeyboardEvent): void => {
      if (e.key === '/' && !(e.target instanceof HTMLInputElement)) {
        e.preventDefault();
        document.getElementById('query')?.focus();
      }
    };
    addEventListener('keydown', slash);
    return () => {
      removeEventListener('popstate', back);
      removeEventListener('keydown', slash);
    };
  }, []);

  const onView = (v: ViewState, push: boolean): void => {
    writeView(v, push);
    if (v.view !== view.view) setView(v);
  };
  const go = (target: ViewState['view']): void => {
    const v = { ...readView(), view: target };
    writeView(v, true);
    setView(v);
  };
  const save = (e: Event): void => {
    e.preventDefault();
    writeCredentials(draft);
    setCreds(draft);
  };

  return (
    <>
      <header>
        <h1>Silt</h1>
        <nav>
          <button class={view.view === 'explore' ? 'tab active' : 'tab'} onClick={() => go('explore')}>
            Explore
          </button>
          <button class={view.view === 'cluster' ? 'tab active' : 'tab'} onClick={() => go('cluster')}>
            Cluster
          </button>
        </nav>
        <form class="credentials" onSubmit={save}>
          <input aria-label="Tenant" placeholder="tenant" value={draft.tenant} onInput={(e) => setDraft({ ...draft, tenant: e.currentTarget.value })} />
          <input aria-label="API key" type="password" placeholder="API key" value={draft.key} onInput={(e) => setDraft({ ...draft, key: e.currentTarget.value })} />
          <button type="submit">Use</button>
        </form>
        <button
          class="theme"
          aria-label="Switch theme"
          onClick={() => {
            const t = theme === 'dark' ? 'light' : 'dark';
            applyTheme(t, true);
            setTheme(t);
          }}
        >
          {theme === 'dark' ? '☀' : '☾'}
        </button>
      </header>
      {view.view === 'cluster' ? <Cluster client={client} /> : <Explore client={client} view={view} onView={onView} />}
    </>
  );
}

render(<App />, document.getElementById('app')!);
