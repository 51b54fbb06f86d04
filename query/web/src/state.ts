/** What the explorer keeps: the view in the URL (so a link shares it), the tenant and key in session storage, the theme in local storage. */
import { SiltClient } from '../../../client/src';

/** The view a URL names: `/?query=<logql>&from=<time>&to=<time>` (times as the API takes them, or now-1h), or `?view=cluster`. */
export interface ViewState {
  view: 'explore' | 'cluster';
  query: string;
  from: string;
  to: string;
}

/** The view of the current URL; defaults: the last hour, no query. */
export function readView(): ViewState {
  const p = new URLSearchParams(location.search);
  return { view: p.get('view') === 'cluster' ? 'cluster' : 'explore', query: p.get('query') ?? '', from: p.get('from') ?? 'now-1h', to: p.get('to') ?? 'now' };
}

/** Puts `v` in the URL; `push` makes a history entry (a run), else it replaces the current one. */
export function writeView(v: ViewState, push: boolean): void {
  const p = new URLSearchParams();
  if (v.view === 'cluster') p.set('view', 'cluster');
  else {
    if (v.query !== '') p.set('query', v.query);
    p.set('from', v.from);
    p.set('to', v.to);
  }
  const url = `${location.pathname}?${p.toString()}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

/** Who the explorer asks as. */
export interface Credentials {
  tenant: string;
  key: string;
}

/** The tenant and key of this browser tab (session storage: gone when the tab closes). */
export function readCredentials(): Credentials {
  return { tenant: sessionStorage.getItem('silt.tenant') ?? '', key: sessionStorage.getItem('silt.key') ?? '' };
}

/** Keeps the tenant and key for this tab. */
export function writeCredentials(c: Credentials): void {
  sessionStorage.setItem('silt.tenant', c.tenant);
  sessionStorage.setItem('silt.key', c.key);
}

/** A client of the query service that served the page, as `c`. No retries beyond two: a person is waiting. */
export function clientFor(c: Credentials): SiltClient {
  return new SiltClient({ url: location.origin, ...(c.tenant ? { tenant: c.tenant } : {}), ...(c.key ? { apiKey: c.key } : {}), maxRetries: 2, readYourWrites: false });
}

/** The theme: the one chosen on this browser, else the system's. */
export function readTheme(): 'light' | 'dark' {
  const chosen = localStorage.getItem('silt.theme');
  if (chosen === 'light' || chosen === 'dark') return chosen;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** Applies and remembers a theme. */
export function applyTheme(t: 'light' | 'dark', remember: boolean): void {
  document.documentElement.dataset.theme = t;
  if (remember) localStorage.setItem('silt.theme', t);
}
