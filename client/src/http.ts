/** The client's HTTP layer: credentials on every request, Silt's JSON errors as SiltClientError, and retries of what may succeed later. */
import { SiltClientError } from './errors';

/** Where and as whom the client talks to Silt. */
export interface ConnectionOptions {
  /** The service's base URL, e.g. `http://localhost:7420` (query) or `http://localhost:7410` (ingest). */
  url: string;
  /** Sent as `X-Scope-OrgID` (with auth on, it selects among the key's tenants). */
  tenant?: string;
  /** An API key, sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** Retries of a 429, a 503 or a request that got no answer (default 8; 0: none). */
  maxRetries?: number;
  /** First backoff (ms, default 250); it doubles per retry, capped by `maxBackoffMs`, with full jitter. A `Retry-After` wins. */
  minBackoffMs?: number;
  /** Longest wait between two tries (ms, default 10 s). */
  maxBackoffMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
}

/** One request. */
export interface RequestSpec {
  method?: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | string[] | undefined>;
  headers?: Record<string, string>;
  /** A body, sent as it is on every try. */
  body?: Uint8Array<ArrayBuffer> | string;
  signal?: AbortSignal;
  /** Whether a request that got no answer may be sent again (a push may then be stored twice: at least once). Default true. */
  retryUnanswered?: boolean;
  /** Statuses besides 2xx that are answers to hand back rather than errors to throw. */
  answers?: readonly number[];
}

/** Waits `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Seconds of a `Retry-After` header (delta-seconds or an HTTP date), or undefined. */
function retryAfterOf(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  if (v === null) return undefined;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return n;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/** The error an unsuccessful answer stands for, from its body's text: Silt's `{"error":{code,message,details}}` when it is one, the text otherwise. */
export function errorFrom(res: Response, text: string): SiltClientError {
  let code: string | undefined;
  let message = text.trim() || res.statusText || `HTTP ${res.status}`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
    if (body.error !== undefined && typeof body.error === 'object') {
      code = body.error.code;
      message = body.error.message ?? message;
      details = body.error.details;
    }
  } catch {
    // Not JSON: the text is the message.
  }
  return new SiltClientError(res.status, code, message, details, retryAfterOf(res));
}

/** Sends requests to one service; see ConnectionOptions. */
export class Transport {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(readonly options: ConnectionOptions) {
    this.base = options.url.replace(/\/+$/, '');
    // Called unbound, a browser's fetch throws "Illegal invocation": keep it a call on the global.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The headers every request carries: the tenant and the key. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.options.tenant !== undefined) h['X-Scope-OrgID'] = this.options.tenant;
    if (this.options.apiKey !== undefined) h.Authorization = `Bearer ${this.options.apiKey}`;
    return h;
  }

  /** The full URL of `path` with `query`. */
  url(path: string, query: RequestSpec['query'] = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const one of v) params.append(k, one);
      else params.set(k, v);
    }
    const qs = params.toString();
    return `${this.base}${path}${qs === '' ? '' : '?' + qs}`;
  }

  /** The wait before retry `attempt` (0-based): full jitter over a doubling, capped backoff, or what the server asked. */
  backoffMs(attempt: number, retryAfterSeconds?: number): number {
    // The server knows when it will take the request: a little jitter keeps clients from coming back at once.
    if (retryAfterSeconds !== undefined) return retryAfterSeconds * 1000 + Math.random() * 100;
    const cap = this.options.maxBackoffMs ?? 10_000;
    const ceiling = Math.min(cap, (this.options.minBackoffMs ?? 250) * 2 ** attempt);
    return Math.random() * ceiling;
  }

  /** Sends `spec`, retrying a 429, a 503 or a missing answer; resolves with the first other answer that is a 2xx (or one of `answers`), or throws its error. */
  async send(spec: RequestSpec): Promise<Response> {
    const maxRetries = this.options.maxRetries ?? 8;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(this.url(spec.path, spec.query), { method: spec.method ?? 'GET', headers: this.headers(spec.headers), body: spec.body, signal: spec.signal });
      } catch (err) {
        if (spec.signal?.aborted) throw err;
        const error = new SiltClientError(0, 'SILT_CLIENT_UNREACHABLE', `${this.base}: ${(err as Error).message}`);
        if (spec.retryUnanswered === false || attempt >= maxRetries) throw error;
        await sleep(this.backoffMs(attempt), spec.signal);
        continue;
      }
      if (res.ok || spec.answers?.includes(res.status)) return res;
      const error = errorFrom(res, await res.text().catch(() => ''));
      if (!(res.status === 429 || res.status === 503) || attempt >= maxRetries) throw error;
      await sleep(this.backoffMs(attempt, error.retryAfterSeconds), spec.signal);
    }
  }

  /** `send`, then the answer's JSON. */
  async json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.send({ ...spec, headers: { Accept: 'application/json', ...spec.headers } });
    return (await res.json()) as T;
  }
}
