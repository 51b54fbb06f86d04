/** The explore view: a query over a time range, drawn as a histogram and entries (a log query) or as series (a metric query), or followed live. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { SiltClientError, timeParam, type Entry, type MetricSeries, type SiltClient } from '../../../client/src';
import { Histogram, TimeSeries } from './charts';
import { QueryEditor } from './editor';
import { isLogQuery, timeText } from './format';
import type { ViewState } from './state';

const PRESETS = ['5m', '15m', '1h', '6h', '24h', '7d'];
const PAGE = 200;
/** Bars of the histogram over any range. */
const BARS = 120;

/** The error of a failed request as the editor shows it. */
function errorOf(err: unknown): { message: string; position?: number } {
  if (err instanceof SiltClientError) {
    const position = err.details?.position;
    return { message: `${err.code}: ${err.message}`, ...(typeof position === 'number' ? { position } : {}) };
  }
  return { message: (err as Error).message };
}

/** One entry row; a click shows its labels and attributes. */
function EntryRow({ e }: { e: Entry }) {
  const [open, setOpen] = useState(false);
  return (
    <li class={open ? 'entry open' : 'entry'}>
      <button class="entry-line" aria-expanded={open} onClick={() => setOpen(!open)}>
        <time>{timeText(e.ts)}</time>
        <span class="line">{e.line}</span>
      </button>
      {open && (
        <dl class="entry-details">
          {Object.entries(e.labels).map(([k, v]) => (
            <div key={`l-${k}`} class="label">
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
          {Object.entries(e.attrs ?? {}).map(([k, v]) => (
            <div key={`a-${k}`} class="attr">
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
          <div class="ts">
            <dt>ts</dt>
            <dd>{e.ts.toString()}</dd>
          </div>
        </dl>
      )}
    </li>
  );
}

/** A live tail of the query: newest on top, a count of lines a second, pause and resume. */
function Tail({ client, query }: { client: SiltClient; query: string }) {
  const [lines, setLines] = useState<Entry[]>([]);
  const [paused, setPaused] = useState(false);
  const [rate, setRate] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const held = useRef<Entry[]>([]);
  const pausedRef = useRef(false);
  const count = useRef(0);
  useEffect(() => {
    const controller = new AbortController();
    const run = async (): Promise<void> => {
      try {
        for await (const e of client.tail(query, { signal: controller.signal })) {
          count.current++;
          held.current.push(e);
          if (!pausedRef.current) {
            const add = held.current.splice(0).reverse();
            setLines((old) => [...add, ...old].slice(0, 2000));
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) setError(errorOf(err).message);
      }
    };
    void run();
    const timer = setInterval(() => {
      setRate(count.current);
      count.current = 0;
    }, 1000);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [client, query]);
  const toggle = (): void => {
    pausedRef.current = !paused;
    setPaused(!paused);
    if (paused) {
      const add = held.current.splice(0).reverse();
      setLines((old) => [...add, ...old].slice(0, 2000));
    }
  };
  return (
    <section class="tail" aria-label="Live tail">
      <div class="tail-bar">
        <span class="live-dot" />
        <span data-testid="tail-rate">{rate} lines/s</span>
        <button onClick={toggle}>{paused ? `Resume (${held.current.length} waiting)` : 'Pause'}</button>
      </div>
      {error && <div class="query-error">{error}</div>}
      <ul class="entries" data-testid="tail-entries">
        {lines.map((e) => (
          <EntryRow key={`${e.ts}-${(e as { id?: string }).id ?? e.line}`} e={e} />
        ))}
      </ul>
    </section>
  );
}

/** See the module comment. */
export function Explore({ client, view, onView }: { client: SiltClient; view: ViewState; onView(v: ViewState, push: boolean): void }) {
  const [text, setText] = useState(view.query);
  const [from, setFrom] = useState(view.from);
  const [to, setTo] = useState(view.to);
  const [filter, setFilter] = useState('');
  const [entries, setEntries] = useState<Entry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [histogram, setHistogram] = useState<MetricSeries[] | null>(null);
  const [series, setSeries] = useState<MetricSeries[] | null>(null);
  const [error, setError] = useState<{ message: string; position?: number } | null>(null);
  const [loading, setLoading] = useState(false);
  const [live, setLive] = useState(false);
  const range = useRef({ start: '', end: '' });
  const runId = useRef(0);

  const run = async (q: string, f: string, t: string, push: boolean): Promise<void> => {
    const id = ++runId.current;
    onView({ view: 'explore', query: q, from: f, to: t }, push);
    setError(null);
    setEntries([]);
    setNext(null);
    setHistogram(null);
    setSeries(null);
    if (q.trim() === '') return;
    let start: string;
    let end: string;
    try {
      start = timeParam(f);
      end = timeParam(t);
    } catch (err) {
      return setError(errorOf(err));
    }
    range.current = { start, end };
    setLoading(true);
    try {
      if (!isLogQuery(q)) {
        const s = await client.metric(q, { start, end });
        if (id === runId.current) setSeries(s);
        return;
      }
      const spanS = Math.max(1, Math.ceil(Number(BigInt(end) - BigInt(start)) / 1e9 / BARS));
      const counts = client.metric(`sum(count_over_time(${q} [${spanS}s]))`, { start, end, step: `${spanS}s` }).catch(() => []);
      // Entries show as they arrive, drawn at most once a frame.
      const arrived: Entry[] = [];
      let drawing = false;
      const draw = (): void => {
        drawing = false;
        if (id === runId.current) setEntries([...arrived]);
      };
      const first = await client.streamPage(q, { start, end, pageSize: PAGE }, (e) => {
        arrived.push(e);
        if (!drawing) {
          drawing = true;
          requestAnimationFrame(draw);
        }
      });
      if (id !== runId.current) return;
      setEntries(arrived);
      setNext(first.next);
      const h = await counts;
      if (id === runId.current) setHistogram(h);
    } catch (err) {
      if (id === runId.current) setError(errorOf(err));
    } finally {
      if (id === runId.current) setLoading(false);
    }
  };

  const older = async (): Promise<void> => {
    if (next === null) return;
    try {
      const page = await client.page(text, { ...range.current, pageSize: PAGE, cursor: next });
      setEntries((old) => [...old, ...page.entries]);
      setNext(page.next);
    } catch (err) {
      setError(errorOf(err));
    }
  };

  // A URL that names a query runs it (a shared link, or back and forward).
  useEffect(() => {
    setText(view.query);
    setFrom(view.from);
    setTo(view.to);
    void run(view.query, view.from, view.to, false);
  }, [client, view.query, view.from, view.to]);

  const submit = (): void => {
    setLive(false);
    void run(text, from, to, true);
  };
  const addFilter = (): void => {
    if (filter === '') return;
    const q = `${text.trim()} |= ${JSON.stringify(filter)}`;
    setText(q);
    setFilter('');
    void run(q, from, to, true);
  };
  const zoom = (f: bigint, t: bigint): void => {
    setFrom(f.toString());
    setTo(t.toString());
    void run(text, f.toString(), t.toString(), true);
  };
  const preset = (p: string): void => {
    setFrom(`now-${p}`);
    setTo('now');
    void run(text, `now-${p}`, 'now', true);
  };

  return (
    <main class="explore">
      <div class="query-row">
        <QueryEditor value={text} onChange={setText} onRun={submit} client={client} range={range.current} error={error} />
        <button class="primary" onClick={submit} disabled={loading}>
          Run
        </button>
        <button class={live ? 'active' : ''} aria-pressed={live} onClick={() => setLive(!live)} disabled={!isLogQuery(text)}>
          Live
        </button>
      </div>
      <div class="range-row">
        {PRESETS.map((p) => (
          <button key={p} class={from === `now-${p}` && to === 'now' ? 'preset active' : 'preset'} onClick={() => preset(p)}>
            {p}
          </button>
        ))}
        <label>
          from <input id="from" value={from} onInput={(e) => setFrom(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && submit()} />
        </label>
        <label>
          to <input id="to" value={to} onInput={(e) => setTo(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && submit()} />
        </label>
        {isLogQuery(text) && (
          <label class="filter">
            line contains <input id="line-filter" value={filter} placeholder="text, Enter adds |= …" onInput={(e) => setFilter(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && addFilter()} />
          </label>
        )}
      </div>
      {live ? (
        <Tail client={client} query={text} />
      ) : (
        <>
          {loading && <div class="loading">Loading…</div>}
          {series && (series.length === 0 ? <div class="empty">No data in this range.</div> : <TimeSeries series={series} />)}
          {histogram && <Histogram series={histogram} onZoom={zoom} />}
          {isLogQuery(view.query) && !loading && !error && view.query !== '' && (
            <div class="entries-head" data-testid="entries-count">
              {entries.length} entries{next !== null ? ' (more older)' : ''}
            </div>
          )}
          <ul class="entries" data-testid="entries">
            {entries.map((e, i) => (
              <EntryRow key={`${e.ts}-${i}`} e={e} />
            ))}
          </ul>
          {next !== null && (
            <button class="older" onClick={() => void older()}>
              Load older
            </button>
          )}
        </>
      )}
    </main>
  );
}
