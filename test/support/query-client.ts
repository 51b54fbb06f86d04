/**
 * A small client of the query service's public HTTP API for tests: run a query (JSON or NDJSON),
 * page through an answer with `next`/`cursor`, and call the label and series routes. Every call is
 * tenant-scoped through `X-Scope-OrgID`.
 */

/** One entry as `GET /api/v1/query` returns it. */
export interface QueryEntry {
  ts: string;
  labels: Record<string, string>;
  line: string;
  attrs?: Record<string, string>;
}

/** The `stats` object of a query answer. */
export interface QueryStats {
  entriesScanned: number;
  entriesReturned: number;
  bytesDecompressed: number;
  nodesAsked: number;
  failovers: number;
  timeMs: number;
}

/** A 200 answer of `GET /api/v1/query`. */
export interface QueryAnswer {
  entries: QueryEntry[];
  next: string | null;
  stats: QueryStats;
}

/** The parameters of `GET /api/v1/query`; absent ones are left to the service's defaults. */
export interface QueryParams {
  query: string;
  start?: string | bigint | number;
  end?: string | bigint | number;
  limit?: number | string;
  direction?: 'backward' | 'forward';
  cursor?: string;
  token?: string;
}

/** Any answer, as received. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  /** Wall time of the request, in ms. */
  elapsedMs: number;
}

/** The `{"status":"success","data":…}` answer of the label and series routes. */
export interface DataAnswer<T> {
  status: string;
  data: T;
}

/** Thrown by the typed helpers when the service does not answer 200. */
export class QueryHttpError extends Error {
  constructor(
    readonly path: string,
    readonly answer: RawAnswer,
  ) {
    super(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 2000)}`);
  }
}

/** Parses an NDJSON body into its values (blank lines are skipped). */
export function parseNdjson(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as unknown;
      } catch (err) {
        throw new Error(`NDJSON line ${i} is not JSON (${(err as Error).message}): ${l.slice(0, 200)}`);
      }
    });
}

type Params = Record<string, string | number | bigint | readonly string[] | undefined>;

function searchParams(params: Params): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v as readonly string[]) out.append(k, one);
    else out.set(k, String(v));
  }
  return out;
}

/** A client of one query service at `url` (no trailing slash). */
export class QueryClient {
  constructor(readonly url: string) {}

  /** GETs `path` with `params`, as `tenant` (no header when undefined), and returns the answer whatever its status. */
  async get(path: string, params: Params = {}, tenant?: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const qs = searchParams(params).toString();
    const h: Record<string, string> = { ...headers };
    if (tenant !== undefined) h['X-Scope-OrgID'] = tenant;
    const began = Date.now();
    const res = await fetch(`${this.url}${path}${qs ? '?' + qs : ''}`, { headers: h });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, elapsedMs: Date.now() - began };
  }

  /** `GET /api/v1/query` as JSON, whatever the status. */
  queryRaw(params: QueryParams, tenant?: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
    return this.get('/api/v1/query', { ...params }, tenant, headers);
  }

  /** `GET /api/v1/query` as JSON; throws QueryHttpError unless 200. */
  async query(params: QueryParams, tenant?: string): Promise<QueryAnswer> {
    const answer = await this.queryRaw(params, tenant, { Accept: 'application/json' });
    if (answer.status !== 200) throw new QueryHttpError('/api/v1/query', answer);
    return answer.json as QueryAnswer;
  }

  /** `GET /api/v1/query` with `Accept: application/x-ndjson`: the entries, the last line, and the raw answer. */
  async queryNdjson(params: QueryParams, tenant?: string): Promise<{ entries: QueryEntry[]; trailer: { next: string | null; stats: QueryStats }; raw: RawAnswer }> {
    const raw = await this.queryRaw(params, tenant, { Accept: 'application/x-ndjson' });
    if (raw.status !== 200) throw new QueryHttpError('/api/v1/query', raw);
    const values = parseNdjson(raw.text);
    if (values.length === 0) throw new Error('NDJSON answer is empty: it must end with a {"next","stats"} line');
    const trailer = values[values.length - 1] as { next: string | null; stats: QueryStats };
    return { entries: values.slice(0, -1) as QueryEntry[], trailer, raw };
  }

  /**
   * Pages through a query: the first page with `params`, then with `cursor` = the previous `next`
   * (same query, start, end, direction, limit) until `next` is null. `onPage` runs after each page.
   */
  async queryAll(
    params: QueryParams,
    tenant?: string,
    options: { maxPages?: number; onPage?: (page: QueryAnswer, index: number) => void | Promise<void>; firstPageToken?: string } = {},
  ): Promise<{ entries: QueryEntry[]; pages: QueryAnswer[] }> {
    const maxPages = options.maxPages ?? 1000;
    const pages: QueryAnswer[] = [];
    let cursor: string | undefined;
    for (;;) {
      if (pages.length >= maxPages) throw new Error(`more than ${maxPages} pages for ${JSON.stringify(params)}`);
      const p: QueryParams = { ...params };
      if (cursor !== undefined) {
        p.cursor = cursor;
        delete p.token;
      } else if (options.firstPageToken !== undefined) {
        p.token = options.firstPageToken;
      }
      const page = await this.query(p, tenant);
      pages.push(page);
      await options.onPage?.(page, pages.length - 1);
      if (page.next === null) break;
      cursor = page.next;
    }
    return { entries: pages.flatMap((p) => p.entries), pages };
  }

  private async data<T>(path: string, params: Params, tenant?: string): Promise<T> {
    const answer = await this.get(path, params, tenant);
    if (answer.status !== 200) throw new QueryHttpError(path, answer);
    const body = answer.json as DataAnswer<T>;
    if (body?.status !== 'success') throw new QueryHttpError(path, answer);
    return body.data;
  }

  /** `GET /api/v1/labels`: label names. */
  labels(tenant: string | undefined, start?: bigint | string, end?: bigint | string): Promise<string[]> {
    return this.data<string[]>('/api/v1/labels', { start, end }, tenant);
  }

  /** `GET /api/v1/label/{name}/values`. */
  labelValues(name: string, tenant: string | undefined, start?: bigint | string, end?: bigint | string): Promise<string[]> {
    return this.data<string[]>(`/api/v1/label/${encodeURIComponent(name)}/values`, { start, end }, tenant);
  }

  /** `GET /api/v1/series?match=…` (one or more selectors): the label sets of the matching streams. */
  series(match: string | string[], tenant: string | undefined, start?: bigint | string, end?: bigint | string): Promise<Record<string, string>[]> {
    return this.data<Record<string, string>[]>('/api/v1/series', { match: Array.isArray(match) ? match : [match], start, end }, tenant);
  }
}
