/**
 * The query service end to end, against its HTTP contract (DESIGN Guarantees 5-7, "HTTP API:
 * Query"): one cluster for the whole file — ingest in-process, 2 replica groups of storage node
 * processes on 8 partitions, the query service as a process — holding the Loghub corpus pushed to
 * two tenants. Every answer is compared with a reference computed here from what was pushed.
 *
 * The reference order is the contract's total order: timestamp, then stream id (core's 64-bit
 * streamId, compared unsigned), then position in the stream — push order, since a stream lives in
 * one partition and this file never pushes to one stream concurrently.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { labelsKey, streamId, type Labels } from '../../core/src/labels';
import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets, type WriteOffsets } from '../../core/src/write-token';
import { loadCorpus } from '../support/corpus';
import { post, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { waitFor, type ServiceProcess } from '../support/processes';
import { QueryClient, type QueryAnswer, type QueryEntry, type QueryParams } from '../support/query-client';
import { StorageCluster } from '../support/storage-cluster';

const PARTITIONS = 8;
/** Tenant A: labels {app, host}. Tenant B: labels {app, host, zone}, host values of its own. */
const A = 'acme';
const B = 'globex';
/** Lines pushed per corpus stream: the whole corpus to A, a quarter of it to B. */
const LINES: Record<string, number> = { [A]: 2000, [B]: 500 };
/** Lines per stream in one push request. */
const CHUNK = 250;
const MS = 1_000_000n;
const MAX_LIMIT = 5000;
/** The query service's whole-query timeout in this file, and the storage nodes' token wait. */
const QUERY_TIMEOUT_MS = 8000;
const TOKEN_WAIT_MS = 2000;

/** The corpus is re-timestamped from T0 (ms-aligned, 40 minutes ago): line k of a stream sits near T0 + k ms. */
const T0 = BigInt(Date.now() - 40 * 60_000) * MS;
/** T0 + `ms` milliseconds (fractions to the microsecond). */
const at = (ms: number): bigint => T0 + BigInt(Math.round(ms * 1000)) * 1000n;
/** A range covering all the corpus entries of both tenants. */
const ALL = { start: at(-1000), end: at(3000) };

const corpus = loadCorpus();

type MatchOp = '=' | '!=' | '=~' | '!~';
type FilterOp = '|=' | '!=' | '|~' | '!~';

/** A log query as data, so the test can both write it as LogQL and evaluate it itself. */
interface Spec {
  matchers: [string, MatchOp, string][];
  filters?: [FilterOp, string][];
}

/** One acknowledged entry, as pushed. `seq` grows with push order (per stream, push order = position in stream). */
interface Pushed {
  tenant: string;
  labels: Labels;
  sid: bigint;
  seq: number;
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}

interface PushEntry {
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}

interface PushStream {
  labels: Labels;
  entries: PushEntry[];
}

/** Everything pushed and acknowledged (only 200s count), and the merged write token of every push. */
class Ledger {
  readonly entries: Pushed[] = [];
  private readonly offsets: WriteOffsets = new Map();
  private seq = 0;

  /** Pushes `streams` as `tenant`; returns the push's token and the entries it added. */
  async push(ingest: IngestUnderTest, tenant: string, streams: PushStream[]): Promise<{ token: string; added: Pushed[] }> {
    const body = {
      streams: streams.map((s) => ({
        labels: s.labels,
        entries: s.entries.map((e) => ({ ts: e.ts.toString(), line: e.line, ...(e.attrs ? { attrs: e.attrs } : {}) })),
      })),
    };
    const res = await post(ingest.url, '/api/v1/push', JSON.stringify(body), { 'Content-Type': 'application/json', 'X-Scope-OrgID': tenant });
    if (res.status !== 200) throw new Error(`push answered ${res.status}: ${JSON.stringify(res.json).slice(0, 2000)}`);
    const token = res.json.token as string;
    mergeWriteOffsets(this.offsets, decodeWriteToken(token));
    const added: Pushed[] = [];
    for (const s of streams) {
      const sid = streamId(tenant, s.labels);
      for (const e of s.entries) added.push({ tenant, labels: s.labels, sid, seq: this.seq++, ts: e.ts, line: e.line, ...(e.attrs ? { attrs: e.attrs } : {}) });
    }
    this.entries.push(...added);
    return { token, added };
  }

  /** A token covering every push so far. */
  token(): string {
    return encodeWriteToken(this.offsets);
  }
}

/** The labels of corpus stream `i` in `tenant`. */
function corpusLabels(tenant: string, i: number): Labels {
  const app = corpus[i]!.app;
  return tenant === A ? { app, host: `h${i % 3}` } : { app, host: `hb${i % 3}`, zone: `z${i % 2}` };
}

/**
 * Timestamps of corpus stream `i`: line k at T0 + k ms + (i+1) µs, except that every 7th line of
 * every stream sits exactly on T0 + k ms (16 streams tie), every 40th (k ≡ 13) repeats the
 * previous line's timestamp (a tie inside the stream, resolved by push order), and every 50th
 * (k ≡ 25) goes back in time, 1 ns before line k-3.
 */
function corpusTimestamps(i: number, n: number, offset: bigint): bigint[] {
  const base = (k: number): bigint => T0 + offset + BigInt(k) * MS + (k % 7 === 0 ? 0n : BigInt(i + 1) * 1000n);
  const out: bigint[] = [];
  for (let k = 0; k < n; k++) {
    if (k % 50 === 25) out.push(base(k - 3) - 1n);
    else if (k % 40 === 13) out.push(out[k - 1]!);
    else out.push(base(k));
  }
  return out;
}

/** Pushes the corpus to `tenant`, CHUNK lines per stream per request, in order. */
async function pushCorpus(ingest: IngestUnderTest, ledger: Ledger, tenant: string): Promise<void> {
  const n = LINES[tenant]!;
  const offset = tenant === A ? 0n : 500_000n; // B's entries sit half a millisecond after A's
  const stamps = corpus.map((_, i) => corpusTimestamps(i, n, offset));
  for (let from = 0; from < n; from += CHUNK) {
    const streams = corpus.map((s, i) => {
      const entries: PushEntry[] = [];
      for (let k = from; k < Math.min(n, from + CHUNK); k++) {
        const line = tenant === A ? s.lines[k % s.lines.length]! : s.lines[(k + 1000) % s.lines.length]!;
        const e: PushEntry = { ts: stamps[i]![k]!, line };
        if (k % 11 === 0) e.attrs = k % 22 === 0 ? { trace_id: `${tenant}-${i}-${k}`, span: String(k) } : { trace_id: `${tenant}-${i}-${k}` };
        entries.push(e);
      }
      return { labels: corpusLabels(tenant, i), entries };
    });
    await ledger.push(ingest, tenant, streams);
  }
}

// ---------------------------------------------------------------- the reference

function selectorText(matchers: Spec['matchers']): string {
  return '{' + matchers.map(([n, op, v]) => `${n}${op}${JSON.stringify(v)}`).join(',') + '}';
}

/** The spec as LogQL (values quoted with JSON's escapes, which are Go's for these strings). */
function queryText(spec: Spec): string {
  return [selectorText(spec.matchers), ...(spec.filters ?? []).map(([op, v]) => `${op} ${JSON.stringify(v)}`)].join(' ');
}

/** A line-filter regex as JavaScript: RE2's leading (?i) becomes the i flag; matches anywhere. */
function lineRegex(re: string): RegExp {
  return re.startsWith('(?i)') ? new RegExp(re.slice(4), 'iu') : new RegExp(re, 'u');
}

/** Evaluates the spec on one entry's labels and line. A missing label reads as "". */
function compileSpec(spec: Spec): (labels: Labels, line: string) => boolean {
  const ms = spec.matchers.map(([name, op, v]) => {
    const re = op === '=~' || op === '!~' ? new RegExp(`^(?:${v})$`) : null;
    return (labels: Labels): boolean => {
      const value = labels[name] ?? '';
      switch (op) {
        case '=':
          return value === v;
        case '!=':
          return value !== v;
        case '=~':
          return re!.test(value);
        case '!~':
          return !re!.test(value);
      }
    };
  });
  const fs = (spec.filters ?? []).map(([op, v]) => {
    const re = op === '|~' || op === '!~' ? lineRegex(v) : null;
    return (line: string): boolean => {
      switch (op) {
        case '|=':
          return line.includes(v);
        case '!=':
          return !line.includes(v);
        case '|~':
          return re!.test(line);
        case '!~':
          return !re!.test(line);
      }
    };
  });
  return (labels, line) => ms.every((m) => m(labels)) && fs.every((f) => f(line));
}

/** The contract's forward order: ts, stream id (unsigned), position in stream. */
function forwardOrder(a: Pushed, b: Pushed): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.sid !== b.sid) return a.sid < b.sid ? -1 : 1;
  return a.seq - b.seq;
}

function sortEntries(entries: Pushed[], direction: 'forward' | 'backward'): Pushed[] {
  const sorted = [...entries].sort(forwardOrder);
  return direction === 'forward' ? sorted : sorted.reverse();
}

/** What the service must answer, from everything pushed so far. */
function reference(ledger: Ledger, tenant: string, spec: Spec, start: bigint, end: bigint, direction: 'forward' | 'backward', limit: number): Pushed[] {
  const match = compileSpec(spec);
  const picked = ledger.entries.filter((e) => e.tenant === tenant && e.ts >= start && e.ts < end && match(e.labels, e.line));
  return sortEntries(picked, direction).slice(0, limit);
}

function attrsText(attrs: Record<string, string> | undefined): string {
  if (!attrs || Object.keys(attrs).length === 0) return '';
  return JSON.stringify(Object.fromEntries(Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** One entry as comparable text: ts, stream labels, attributes, line. */
function keyOf(labels: Labels, ts: string, line: string, attrs?: Record<string, string>): string {
  return `${ts} ${labelsKey(labels)} ${attrsText(attrs)} ${JSON.stringify(line)}`;
}
const pushedKey = (e: Pushed): string => keyOf(e.labels, e.ts.toString(), e.line, e.attrs);
const answerKey = (e: QueryEntry): string => keyOf(e.labels, e.ts, e.line, e.attrs);

const cut = (s: string | undefined): string => (s === undefined ? '(nothing)' : s.length > 300 ? s.slice(0, 300) + '…' : s);

/** Null when the sequences are equal, else where and how they first differ. */
function firstDifference(got: string[], want: string[]): string | null {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== want[i]) {
      return `got ${got.length} entries, expected ${want.length}; first difference at index ${i}:\n  got      ${cut(got[i])}\n  expected ${cut(want[i])}` +
        (i > 0 ? `\n  (previous, equal: ${cut(want[i - 1])})` : '');
    }
  }
  return null;
}

/** Problems of one page against what it should hold (empty when it is right). */
function checkPage(answer: QueryAnswer, want: Pushed[], limit: number): string[] {
  const problems: string[] = [];
  if (!Array.isArray(answer.entries)) return [`entries is not a list: ${JSON.stringify(answer).slice(0, 300)}`];
  const bad = answer.entries.find((e) => typeof e.ts !== 'string' || !/^\d+$/.test(e.ts) || typeof e.line !== 'string' || typeof e.labels !== 'object');
  if (bad) problems.push(`malformed entry ${JSON.stringify(bad).slice(0, 300)}`);
  const diff = firstDifference(answer.entries.map(answerKey), want.map(pushedKey));
  if (diff) problems.push(diff);
  const full = answer.entries.length === limit;
  if (full && typeof answer.next !== 'string') problems.push(`a full page (${limit}) must have a string next, got ${JSON.stringify(answer.next)}`);
  if (!full && answer.next !== null) problems.push(`a page of ${answer.entries.length} < limit ${limit} must have next null, got ${JSON.stringify(answer.next)}`);
  const s = answer.stats;
  const fields = ['entriesScanned', 'entriesReturned', 'bytesDecompressed', 'nodesAsked', 'failovers', 'timeMs'] as const;
  if (!s || fields.some((f) => typeof s[f] !== 'number')) problems.push(`stats must hold numbers ${fields.join(', ')}: ${JSON.stringify(s)}`);
  else if (s.entriesReturned !== answer.entries.length) problems.push(`stats.entriesReturned ${s.entriesReturned} != ${answer.entries.length} entries`);
  return problems;
}

/** RFC 3339 with nanoseconds, in UTC or at a fixed offset. */
function rfc3339(ns: bigint, offsetMinutes = 0): string {
  const ms = Number(ns / MS) + offsetMinutes * 60_000;
  const seconds = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  if (offsetMinutes === 0) return `${seconds}.${frac}Z`;
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${seconds}.${frac}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sortedKeys = (sets: Record<string, string>[]): string[] => sets.map((l) => labelsKey(l)).sort();
const uniqueSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

// ---------------------------------------------------------------- the table

interface Case {
  name: string;
  tenant: string;
  spec: Spec;
  start: bigint;
  end: bigint;
  direction: 'forward' | 'backward';
  limit: number;
  /** Expect this many entries at least (guards the table against vacuous cases); 0 for "matches nothing". */
  atLeast: number;
}

const ANY_APP: [string, MatchOp, string] = ['app', '=~', '.+'];

const CASES: Case[] = [
  { name: '= one stream, forward, all of it', tenant: A, spec: { matchers: [['app', '=', 'HDFS_2k']] }, ...ALL, direction: 'forward', limit: MAX_LIMIT, atLeast: 2000 },
  { name: '= one stream, backward, the limit cuts', tenant: A, spec: { matchers: [['app', '=', 'OpenSSH_2k']] }, ...ALL, direction: 'backward', limit: 333, atLeast: 333 },
  { name: '!= with =~ .+, a range cutting both ends', tenant: A, spec: { matchers: [ANY_APP, ['host', '!=', 'h0']] }, start: at(100.5), end: at(400), direction: 'forward', limit: MAX_LIMIT, atLeast: 2900 },
  { name: '=~ alternation, backward, a range cutting both ends', tenant: A, spec: { matchers: [['app', '=~', 'Hadoop_2k|Spark_2k|Zookeeper_2k']] }, start: at(500.5), end: at(1500), direction: 'backward', limit: MAX_LIMIT, atLeast: 2900 },
  { name: '!~ excludes, forward, the limit cuts', tenant: A, spec: { matchers: [['app', '=~', '.+_2k'], ['app', '!~', '(Mac|Linux|Windows)_2k']] }, start: at(0), end: at(2000), direction: 'forward', limit: 1000, atLeast: 1000 },
  { name: 'selector regexes are anchored (no partial match)', tenant: A, spec: { matchers: [['app', '=~', 'HDFS']] }, ...ALL, direction: 'forward', limit: 100, atLeast: 0 },
  { name: 'selector regexes are anchored (whole value)', tenant: A, spec: { matchers: [['app', '=~', 'HDFS.*|.*Stack_2k'], ['host', '=~', 'h[0-1]']] }, ...ALL, direction: 'backward', limit: MAX_LIMIT, atLeast: 2000 },
  { name: '|= contains', tenant: A, spec: { matchers: [ANY_APP], filters: [['|=', 'error']] }, ...ALL, direction: 'backward', limit: 2000, atLeast: 1000 },
  { name: '!= does not contain', tenant: A, spec: { matchers: [['app', '=', 'Zookeeper_2k']], filters: [['!=', 'INFO']] }, ...ALL, direction: 'forward', limit: MAX_LIMIT, atLeast: 100 },
  { name: '|~ matches anywhere', tenant: A, spec: { matchers: [['host', '=', 'h1']], filters: [['|~', '\\d{3}\\.\\d+']] }, ...ALL, direction: 'forward', limit: MAX_LIMIT, atLeast: 500 },
  { name: '!~ matches nowhere', tenant: A, spec: { matchers: [['app', '=', 'Apache_2k']], filters: [['!~', '^\\[.*\\[notice\\]']] }, ...ALL, direction: 'backward', limit: MAX_LIMIT, atLeast: 500 },
  {
    name: 'a chain of four filters',
    tenant: A,
    spec: { matchers: [ANY_APP, ['host', '=~', 'h[12]']], filters: [['|=', 'e'], ['!=', 'INFO'], ['|~', '[Ee]rror|fail'], ['!~', '(?i)warn']] },
    ...ALL,
    direction: 'forward',
    limit: MAX_LIMIT,
    atLeast: 100,
  },
  { name: '|~ with a leading (?i)', tenant: A, spec: { matchers: [ANY_APP], filters: [['|~', '(?i)timeout|time out']] }, ...ALL, direction: 'backward', limit: MAX_LIMIT, atLeast: 50 },
  { name: 'a selector matching nothing', tenant: A, spec: { matchers: [['app', '=', 'nonexistent']] }, ...ALL, direction: 'backward', limit: 100, atLeast: 0 },
  { name: 'a filter matching nothing', tenant: A, spec: { matchers: [['app', '=', 'HDFS_2k']], filters: [['|=', 'zzz-not-in-the-corpus']] }, ...ALL, direction: 'forward', limit: 100, atLeast: 0 },
  { name: '16 streams tied on one timestamp, forward', tenant: A, spec: { matchers: [ANY_APP] }, start: at(700), end: at(700) + 1n, direction: 'forward', limit: 100, atLeast: 16 },
  { name: '16 streams tied on one timestamp, backward, the limit cuts the tie', tenant: A, spec: { matchers: [ANY_APP] }, start: at(700), end: at(701), direction: 'backward', limit: 5, atLeast: 5 },
  { name: 'start inclusive, end exclusive, on tied timestamps', tenant: A, spec: { matchers: [ANY_APP] }, start: at(700), end: at(707), direction: 'forward', limit: MAX_LIMIT, atLeast: 100 },
  { name: 'ties inside one stream keep push order', tenant: A, spec: { matchers: [ANY_APP] }, start: at(132), end: at(134), direction: 'backward', limit: MAX_LIMIT, atLeast: 32 },
  { name: 'out-of-order timestamps within a stream come sorted', tenant: A, spec: { matchers: [['app', '=', 'OpenSSH_2k']] }, start: at(19), end: at(80), direction: 'forward', limit: MAX_LIMIT, atLeast: 60 },
  { name: 'all streams, backward, the limit cuts', tenant: A, spec: { matchers: [ANY_APP] }, ...ALL, direction: 'backward', limit: MAX_LIMIT, atLeast: MAX_LIMIT },
  { name: 'tenant B, a label A lacks', tenant: B, spec: { matchers: [['zone', '=', 'z0']] }, ...ALL, direction: 'forward', limit: MAX_LIMIT, atLeast: 4000 },
  { name: 'tenant B, one stream', tenant: B, spec: { matchers: [['app', '=', 'HDFS_2k']], filters: [['!=', 'zzz']] }, ...ALL, direction: 'backward', limit: MAX_LIMIT, atLeast: 500 },
];

// ---------------------------------------------------------------- the tests

describe('query', () => {
  const cluster = new StorageCluster(PARTITIONS, { SILT_STORAGE_TOKEN_WAIT_MS: String(TOKEN_WAIT_MS), SILT_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) });
  const ledger = new Ledger();
  let ingest: IngestUnderTest;
  let query: ServiceProcess;
  let client: QueryClient;

  /** Runs a query with a token covering every push, and returns the problems of its answer. */
  async function runCase(c: Case): Promise<string[]> {
    const want = reference(ledger, c.tenant, c.spec, c.start, c.end, c.direction, c.limit);
    const params: QueryParams = { query: queryText(c.spec), start: c.start, end: c.end, direction: c.direction, limit: c.limit, token: ledger.token() };
    const raw = await client.queryRaw(params, c.tenant);
    if (raw.status !== 200) return [`${c.tenant} ${params.query}: answered ${raw.status} ${raw.text.slice(0, 500)}`];
    return checkPage(raw.json as QueryAnswer, want, c.limit).map((p) => `${c.tenant} ${params.query} [${c.start}, ${c.end}) ${c.direction} limit ${c.limit}: ${p}`);
  }

  beforeAll(async () => {
    ingest = await startIngest({ kafka: { logsTopic: cluster.logsTopic, nodesTopic: cluster.nodesTopic, partitions: PARTITIONS } });
    await Promise.all([cluster.startNode('n00', 0), cluster.startNode('n10', 1)]);
    query = await cluster.startQuery();
    client = new QueryClient(query.url);
    await Promise.all([pushCorpus(ingest, ledger, A), pushCorpus(ingest, ledger, B)]);
    const token = ledger.token();
    await waitFor(
      'the corpus to be queryable with the push tokens',
      async () => {
        for (const tenant of [A, B]) {
          const r = await client.queryRaw({ query: '{app=~".+"}', ...ALL, limit: 1, token }, tenant);
          if (r.status === 504) return false;
          if (r.status !== 200) throw new Error(`query answered ${r.status}: ${r.text}`);
        }
        return true;
      },
      90000,
      250,
    );
  }, 180000);

  afterAll(async () => {
    await query?.stop('SIGKILL');
    await ingest?.service.stop();
    await cluster.close();
  }, 60000);

  describe('range', () => {
    it('holds the corpus as pushed (the table below is not vacuous)', () => {
      expect(ledger.entries.filter((e) => e.tenant === A).length).toBe(16 * LINES[A]!);
      const vacuous: string[] = [];
      for (const c of CASES) {
        const n = reference(ledger, c.tenant, c.spec, c.start, c.end, c.direction, c.limit).length;
        if (c.atLeast === 0 ? n !== 0 : n < c.atLeast) vacuous.push(`${c.name}: the reference holds ${n} entries, the table expects ${c.atLeast === 0 ? 'none' : `at least ${c.atLeast}`}`);
      }
      expect(vacuous).toEqual([]);
    });

    it.each(CASES.map((c) => [c.name, c] as const))('matches a reference over the Loghub corpus: %s', async (_name, c) => {
      expect(await runCase(c)).toEqual([]);
    }, 60000);

    it('reads start and end as RFC 3339 (any offset), seconds, milliseconds, microseconds or nanoseconds', async () => {
      const spec: Spec = { matchers: [['app', '=', 'Linux_2k']] };
      const s = at(100);
      const e = at(300);
      const secs = s / 1_000_000_000n;
      const variants: [string, string | bigint, bigint, string | bigint, bigint][] = [
        ['ns', s, s, e, e],
        ['RFC 3339 Z', rfc3339(s), s, rfc3339(e), e],
        ['RFC 3339 +02:00 and -05:30', rfc3339(s, 120), s, rfc3339(e, -330), e],
        ['ms', (s / MS).toString(), s, (e / MS).toString(), e],
        ['µs', (s / 1000n).toString(), s, (e / 1000n).toString(), e],
        ['s', secs.toString(), secs * 1_000_000_000n, e, e],
      ];
      const problems: string[] = [];
      for (const [name, startParam, startNs, endParam, endNs] of variants) {
        const want = reference(ledger, A, spec, startNs, endNs, 'forward', MAX_LIMIT);
        const raw = await client.queryRaw({ query: queryText(spec), start: startParam, end: endParam, direction: 'forward', limit: MAX_LIMIT, token: ledger.token() }, A);
        if (raw.status !== 200) problems.push(`${name} (${startParam}, ${endParam}): ${raw.status} ${raw.text.slice(0, 300)}`);
        else problems.push(...checkPage(raw.json as QueryAnswer, want, MAX_LIMIT).map((p) => `${name} (${startParam}, ${endParam}): ${p}`));
      }
      expect(problems).toEqual([]);
    }, 60000);

    it('defaults to the last hour, backward, limit 100', async () => {
      const spec: Spec = { matchers: [ANY_APP] };
      const before = BigInt(Date.now()) * MS;
      const raw = await client.queryRaw({ query: queryText(spec), token: ledger.token() }, A);
      const after = BigInt(Date.now()) * MS;
      expect(raw.status).toBe(200);
      // Every entry is far from both ends of the last hour, so the moment the service reads the clock does not matter.
      const want = reference(ledger, A, spec, before - 3600n * 1_000_000_000n, after, 'backward', 100);
      expect(checkPage(raw.json as QueryAnswer, want, 100)).toEqual([]);
    }, 60000);
  });

  describe('paging', () => {
    /** Streams of tenant A that the paged query selects. */
    const spec: Spec = { matchers: [['host', '=~', 'h[12]']] };
    const start = at(300);
    const end = at(560);
    const limit = 200;

    it.each(['forward', 'backward'] as const)(
      'yields every entry of a snapshot exactly once, %s, while pushes into the range go on',
      async (direction) => {
        const streams = corpus.map((_, i) => corpusLabels(A, i)).filter((l) => compileSpec(spec)(l, ''));
        expect(streams.length).toBe(10);
        // The background pusher: new lines into the same streams, timestamps all over the paged range.
        const pushes: { startedAt: number; endedAt: number; added: Pushed[] }[] = [];
        let pushing = true;
        let n = 0;
        const pusher = (async () => {
          while (pushing) {
            const batch = streams.map((labels) => ({
              labels,
              entries: [0, 1].map(() => ({ ts: start + BigInt(Math.floor(Math.random() * Number(end - start))), line: `bg ${direction} ${n++} ${randomUUID()}` })),
            }));
            const startedAt = performance.now();
            const { added } = await ledger.push(ingest, A, batch);
            pushes.push({ startedAt, endedAt: performance.now(), added });
            await sleep(15);
          }
        })();
        const t0 = Date.now();
        while (pushes.length < 3 && Date.now() - t0 < 10000) await sleep(20);
        expect(pushes.length).toBeGreaterThanOrEqual(3);

        // Page 1 with a token of every push acknowledged so far: its snapshot holds at least those.
        const token = ledger.token();
        const sentAt = performance.now();
        const mustUpTo = ledger.entries.length; // entries acknowledged before page 1 was sent (seq is the index in the ledger)
        let answeredAt = Infinity;
        let pages: QueryAnswer[];
        try {
          ({ pages } = await client.queryAll({ query: queryText(spec), start, end, direction, limit }, A, {
            firstPageToken: token,
            onPage: (_page, i) => {
              if (i === 0) answeredAt = performance.now();
            },
          }));
          // Keep pushing a little after the last page, so the later pages certainly raced with pushes.
          await sleep(100);
        } finally {
          pushing = false;
          await pusher;
        }

        const match = compileSpec(spec);
        const inRange = (e: Pushed): boolean => e.tenant === A && e.ts >= start && e.ts < end && match(e.labels, e.line);
        const must = ledger.entries.slice(0, mustUpTo).filter(inRange);
        const maybe = pushes.filter((p) => p.endedAt >= sentAt && p.startedAt <= answeredAt).flatMap((p) => p.added.filter((e) => e.seq >= mustUpTo && inRange(e)));
        const never = pushes.filter((p) => p.startedAt > answeredAt).flatMap((p) => p.added.filter(inRange));
        const got = pages.flatMap((p) => p.entries);
        const gotKeys = new Set(got.map(answerKey));
        const problems: string[] = [];

        expect(must.length).toBeGreaterThanOrEqual(10 * limit);
        expect(never.length).toBeGreaterThan(0);
        for (const [i, p] of pages.entries()) {
          const last = i === pages.length - 1;
          if (!last && (p.entries.length !== limit || typeof p.next !== 'string')) problems.push(`page ${i} of ${pages.length}: ${p.entries.length} entries, next ${JSON.stringify(p.next)}`);
          if (last && p.next !== null) problems.push(`last page ${i}: next ${JSON.stringify(p.next)}`);
        }
        const leaked = never.filter((e) => gotKeys.has(pushedKey(e)));
        if (leaked.length > 0) problems.push(`${leaked.length} entries pushed after page 1 was answered appear (the snapshot is not pinned), e.g. ${pushedKey(leaked[0]!)}`);
        // Entries of pushes racing page 1 may or may not be in its snapshot, but per stream only as a prefix in push order.
        const bySid = new Map<bigint, boolean[]>();
        for (const e of [...maybe].sort((a, b) => a.seq - b.seq)) bySid.set(e.sid, [...(bySid.get(e.sid) ?? []), gotKeys.has(pushedKey(e))]);
        for (const [sid, seen] of bySid) if (seen.indexOf(false) !== -1 && seen.lastIndexOf(true) > seen.indexOf(false)) problems.push(`stream ${sid}: racing entries seen out of push order ${JSON.stringify(seen)}`);
        const want = sortEntries([...must, ...maybe.filter((e) => gotKeys.has(pushedKey(e)))], direction);
        const diff = firstDifference(got.map(answerKey), want.map(pushedKey));
        if (diff) problems.push(diff);
        expect(problems).toEqual([]);
        expect(pages.length).toBeGreaterThanOrEqual(10);
      },
      90000,
    );

    it.each(['forward', 'backward'] as const)('pages through tied timestamps with a limit that cuts every tie, %s', async (direction) => {
      // k = 126 and 140: 16 streams on one timestamp; k = 133 repeats k = 132's timestamp inside each stream.
      const tieSpec: Spec = { matchers: [ANY_APP] };
      const [s, e, pageLimit] = [at(126), at(141), 7];
      const want = reference(ledger, A, tieSpec, s, e, direction, Number.MAX_SAFE_INTEGER);
      expect(want.length).toBe(15 * 16);
      const { entries, pages } = await client.queryAll({ query: queryText(tieSpec), start: s, end: e, direction, limit: pageLimit }, A, { firstPageToken: ledger.token() });
      const problems = pages.flatMap((p, i) => checkPage(p, want.slice(i * pageLimit, (i + 1) * pageLimit), pageLimit).map((x) => `page ${i}: ${x}`));
      const diff = firstDifference(entries.map(answerKey), want.map(pushedKey));
      if (diff) problems.push(`all pages: ${diff}`);
      expect(problems.slice(0, 5)).toEqual([]);
    }, 60000);
  });

  describe('read your writes', () => {
    it('sees a fresh line at once when given its push token, 35 times in a row', async () => {
      const problems: string[] = [];
      for (let i = 0; i < 35; i++) {
        const labels = corpusLabels(A, i % corpus.length);
        const line = `ryw ${i} ${randomUUID()}`;
        const ts = BigInt(Date.now()) * MS + BigInt(i);
        const { token, added } = await ledger.push(ingest, A, [{ labels, entries: [{ ts, line }] }]);
        // Half the time by the line itself over a wide range, half by the exact instant with no filter.
        const byLine = i % 2 === 0;
        const spec: Spec = { matchers: Object.entries(labels).map(([k, v]): [string, MatchOp, string] => [k, '=', v]), filters: byLine ? [['|=', line]] : [] };
        const [start, end] = byLine ? [ts - 60_000n * MS, ts + 60_000n * MS] : [ts, ts + 1n];
        const raw = await client.queryRaw({ query: queryText(spec), start, end, direction: 'forward', limit: 10, token }, A);
        if (raw.status !== 200) {
          problems.push(`#${i} ${queryText(spec)}: ${raw.status} ${raw.text.slice(0, 300)}`);
          continue;
        }
        const diff = firstDifference((raw.json as QueryAnswer).entries.map(answerKey), added.map(pushedKey));
        if (diff) problems.push(`#${i} ${queryText(spec)}: ${diff}`);
      }
      expect(problems).toEqual([]);
    }, 60000);
  });

  describe('isolation', () => {
    const wide = (): { start: bigint; end: bigint } => ({ start: ALL.start, end: BigInt(Date.now() + 60_000) * MS });

    it('answers a tenant\'s queries with its own entries only', async () => {
      const { start, end } = wide();
      // Selectors naming the other tenant's labels find nothing; the same app in both tenants finds each its own.
      const none: [string, Spec][] = [
        [A, { matchers: [['zone', '=~', 'z.*']] }],
        [A, { matchers: [['host', '=', 'hb0']] }],
        [B, { matchers: [['host', '=~', 'h[0-2]']] }],
        ['default', { matchers: [ANY_APP] }],
        ['nobody', { matchers: [ANY_APP] }],
      ];
      for (const [tenant, spec] of none) {
        const answer = await client.query({ query: queryText(spec), start, end, limit: 10, token: ledger.token() }, tenant);
        expect([tenant, queryText(spec), answer.entries]).toEqual([tenant, queryText(spec), []]);
      }
      // No header is tenant "default".
      const noHeader = await client.query({ query: '{app=~".+"}', start, end, limit: 10 });
      expect(noHeader.entries).toEqual([]);
      for (const c of CASES.filter((x) => x.name.startsWith('= one stream'))) {
        for (const tenant of [A, B]) expect(await runCase({ ...c, tenant, ...wide() })).toEqual([]);
      }
    }, 60000);

    it('answers labels, label values and series from the tenant\'s own streams only', async () => {
      const { start, end } = wide();
      for (const [tenant, other] of [[A, B], [B, A]] as const) {
        const mine = ledger.entries.filter((e) => e.tenant === tenant && e.ts >= start && e.ts < end);
        const theirs = ledger.entries.filter((e) => e.tenant === other);
        const names = uniqueSorted(mine.flatMap((e) => Object.keys(e.labels)));
        const labels = await client.labels(tenant, start, end);
        expect([tenant, [...labels].sort()]).toEqual([tenant, names]);
        for (const name of uniqueSorted(theirs.flatMap((e) => Object.keys(e.labels)))) {
          const values = await client.labelValues(name, tenant, start, end);
          expect([tenant, name, [...values].sort()]).toEqual([tenant, name, uniqueSorted(mine.filter((e) => name in e.labels).map((e) => e.labels[name]!))]);
        }
        const streams = uniqueSorted(mine.map((e) => labelsKey(e.labels)));
        expect([tenant, sortedKeys(await client.series('{app=~".+"}', tenant, start, end))]).toEqual([tenant, streams]);
        // Repeated match: the union, and the other tenant's label values match nothing.
        const union = await client.series(['{host="h0"}', '{host="hb1"}', '{zone="z1"}'], tenant, start, end);
        const wantUnion = uniqueSorted(mine.filter((e) => e.labels.host === 'h0' || e.labels.host === 'hb1' || e.labels.zone === 'z1').map((e) => labelsKey(e.labels)));
        expect([tenant, sortedKeys(union)]).toEqual([tenant, wantUnion]);
        expect(wantUnion.length).toBeGreaterThan(0);
      }
      expect(await client.labels('nobody', start, end)).toEqual([]);
      expect(await client.labelValues('app', 'nobody', start, end)).toEqual([]);
      expect(await client.series('{app=~".+"}', 'nobody', start, end)).toEqual([]);
      expect(await client.labelValues('zone', A, start, end)).toEqual([]);
    }, 60000);
  });

  describe('errors', () => {
    it('answers 400 SILT_BAD_QUERY with the position of the error', async () => {
      const cases: [string, number | null][] = [
        ['app="x"', 0],
        ['{app="x"', 8],
        ['{app="x"} |= ', null],
        ['{app=~"("}', null],
        ['{app="x"} |~ "("', null],
        ['{app="x"} |~ "(?<=a)b"', null],
        ['{}', null],
        ['{host!="h0"}', null],
        ['sum(rate({app="x"}[1m]))', null],
        ['', null],
      ];
      const problems: string[] = [];
      for (const [q, position] of cases) {
        const raw = await client.queryRaw({ query: q, ...ALL }, A);
        const err = (raw.json as { error?: { code?: string; message?: string; details?: { position?: unknown } } } | undefined)?.error;
        const pos = err?.details?.position;
        const ok =
          raw.status === 400 &&
          err?.code === 'SILT_BAD_QUERY' &&
          typeof err.message === 'string' &&
          typeof pos === 'number' &&
          Number.isInteger(pos) &&
          pos >= 0 &&
          pos <= q.length &&
          (position === null || pos === position);
        if (!ok) problems.push(`${JSON.stringify(q)}: expected 400 SILT_BAD_QUERY at ${position ?? 'some position'}, got ${raw.status} ${raw.text.slice(0, 300)}`);
      }
      expect(problems).toEqual([]);
    });

    it('answers 422 SILT_LIMIT_TOO_LARGE above the largest limit, 200 at it', async () => {
      const over = await client.queryRaw({ query: '{app=~".+"}', ...ALL, limit: MAX_LIMIT + 1 }, A);
      expect([over.status, (over.json as { error?: { code?: string } })?.error?.code]).toEqual([422, 'SILT_LIMIT_TOO_LARGE']);
      const at5000 = await client.queryRaw({ query: '{app=~".+"}', ...ALL, limit: MAX_LIMIT }, A);
      expect(at5000.status).toBe(200);
    });

    it('answers 400 when start is after end', async () => {
      const raw = await client.queryRaw({ query: '{app=~".+"}', start: at(2000), end: at(1000) }, A);
      expect(raw.status).toBe(400);
      expect((raw.json as { error?: { code?: string } })?.error?.code).toMatch(/^SILT_/);
    });

    it('answers 504 SILT_TOKEN_TIMEOUT, within its timeout, for a token that is never reached', async () => {
      const token = encodeWriteToken(new Map([[0, 10n ** 12n]]));
      const raw = await client.queryRaw({ query: '{app=~".+"}', ...ALL, limit: 10, token }, A);
      expect([raw.status, (raw.json as { error?: { code?: string } })?.error?.code]).toEqual([504, 'SILT_TOKEN_TIMEOUT']);
      expect(raw.elapsedMs).toBeLessThan(QUERY_TIMEOUT_MS + 1500);
    }, 30000);

    it('answers the same 504 SILT_TOKEN_TIMEOUT in NDJSON, as a JSON error before any line', async () => {
      const token = encodeWriteToken(new Map([[0, 10n ** 12n]]));
      const raw = await client.queryRaw({ query: '{app=~".+"}', ...ALL, limit: 10, token }, A, { Accept: 'application/x-ndjson' });
      expect([raw.status, (raw.json as { error?: { code?: string } })?.error?.code]).toEqual([504, 'SILT_TOKEN_TIMEOUT']);
      expect(raw.elapsedMs).toBeLessThan(QUERY_TIMEOUT_MS + 1500);
    }, 30000);

    it('answers NDJSON, one entry a line then {"next","stats"}, when asked to', async () => {
      const spec: Spec = { matchers: [['app', '=', 'Apache_2k']] };
      const want = reference(ledger, A, spec, ALL.start, ALL.end, 'forward', 100);
      const nd = await client.queryNdjson({ query: queryText(spec), ...ALL, direction: 'forward', limit: 50, token: ledger.token() }, A);
      expect(nd.raw.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      expect(checkPage({ entries: nd.entries, next: nd.trailer.next, stats: nd.trailer.stats }, want.slice(0, 50), 50)).toEqual([]);
      expect(Object.keys(nd.trailer).sort()).toEqual(['next', 'stats']);
      // Its cursor pages on, in JSON, to exactly the next 50.
      const page2 = await client.query({ query: queryText(spec), ...ALL, direction: 'forward', limit: 50, cursor: nd.trailer.next! }, A);
      expect(checkPage(page2, want.slice(50, 100), 50)).toEqual([]);
      // A short answer: no entry lines, only the last line, with next null.
      const empty = await client.queryNdjson({ query: '{app="nonexistent"}', ...ALL, limit: 50 }, A);
      expect(empty.raw.text.trim().split('\n').length).toBe(1);
      expect([empty.entries, empty.trailer.next, typeof empty.trailer.stats]).toEqual([[], null, 'object']);
    });

    it('closes a tail WebSocket whose client sends a message over 64 KiB (1009), as the service registers it', async () => {
      const ws = new WebSocket(`${query.url.replace('http', 'ws')}/api/v1/tail?${new URLSearchParams({ query: '{app="HDFS_2k"}' })}`, { headers: { 'X-Scope-OrgID': A } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send('x'.repeat(100 * 1024));
      expect(await closed).toBe(1009);
    });

    it('serves /healthz, /readyz and silt_query_* metrics', async () => {
      expect((await fetch(query.url + '/healthz')).status).toBe(200);
      expect((await fetch(query.url + '/readyz')).status).toBe(200);
      const metrics = await fetch(query.url + '/metrics');
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^silt_query_\w+/m);
    });
  });

  describe('failover', () => {
    it('answers every query completely while nodes join (a handover) and through kill -9 of a storage node, and stays ready', async () => {
      const loopCases: Case[] = [
        { name: 'all of A', tenant: A, spec: { matchers: [ANY_APP] }, start: at(0), end: at(2000), direction: 'forward', limit: MAX_LIMIT, atLeast: MAX_LIMIT },
        { name: 'A, filtered', tenant: A, spec: { matchers: [['host', '=', 'h2']], filters: [['|=', 'e']] }, ...ALL, direction: 'backward', limit: MAX_LIMIT, atLeast: 1000 },
        { name: 'all of B', tenant: B, spec: { matchers: [ANY_APP] }, ...ALL, direction: 'forward', limit: MAX_LIMIT, atLeast: 8000 },
      ];
      const problems: string[] = [];
      const notReady: string[] = [];
      let queries = 0;
      let failovers = 0;
      let running = true;
      const readiness = (async () => {
        while (running) {
          const status = await fetch(query.url + '/readyz').then((r) => String(r.status), (e: Error) => e.message);
          if (status !== '200') notReady.push(`${new Date().toISOString()} ${status}`);
          await sleep(100);
        }
      })();
      const loop = (async () => {
        for (let i = 0; running; i++) {
          const c = loopCases[i % loopCases.length]!;
          try {
            const raw = await client.queryRaw({ query: queryText(c.spec), start: c.start, end: c.end, direction: c.direction, limit: c.limit, token: ledger.token() }, c.tenant);
            if (raw.status !== 200) {
              const dir = await fetch(query.url + '/internal/v1/directory').then((r) => r.text());
              problems.push(`${new Date().toISOString()} ${c.name}: ${raw.status} ${raw.text.slice(0, 300)} directory: ${dir}`);
              continue;
            }
            const answer = raw.json as QueryAnswer;
            failovers += answer.stats?.failovers ?? 0;
            const want = reference(ledger, c.tenant, c.spec, c.start, c.end, c.direction, c.limit);
            problems.push(...checkPage(answer, want, c.limit).map((p) => `${new Date().toISOString()} ${c.name}: ${p}`));
          } catch (err) {
            problems.push(`${new Date().toISOString()} ${c.name}: ${(err as Error).message}`);
          }
          queries++;
        }
      })();
      try {
        // Joining moves half the partitions of each group to a node that must catch up first.
        await Promise.all([cluster.startNode('n01', 0), cluster.startNode('n11', 1)]);
        await waitFor('both groups to be stable on 2 nodes each', () => cluster.stable([0, 1]), 90000, 500);
        await sleep(2000);
        await cluster.nodes.get('n00')!.stop('SIGKILL');
        const killedAt = Date.now();
        // Through the session timeout, the rebalance and n01's takeover, and a little after.
        await waitFor('group 0 to be stable on n01 alone', () => cluster.stable([0, 1]), 90000, 500);
        await sleep(Math.max(2000, killedAt + 10000 - Date.now()));
      } finally {
        running = false;
        await Promise.all([loop, readiness]);
      }
      expect(problems.slice(0, 10)).toEqual([]);
      expect(notReady.slice(0, 10)).toEqual([]);
      expect(queries).toBeGreaterThanOrEqual(6);
      // The killed node stays announced until it goes stale, so queries must have failed over, not just been lucky.
      expect(failovers).toBeGreaterThan(0);
    }, 150000);
  });
});
