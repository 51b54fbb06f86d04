import { BatchingPusher, durationNs, SiltClientError, timeParam } from '../../client/src';
import { Transport } from '../../client/src/http';
import { streamPage } from '../../client/src/query';
import { tailEntries } from '../../client/src/tail';
import { mergeTokens } from '../../client/src/token';
import { decodeWriteToken, encodeWriteToken } from '../../core/src/write-token';

/** A fake fetch answering from `answers` in turn, recording each request. */
function fakeFetch(answers: (() => Response | Promise<Response>)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers');
    return next();
  }) as unknown as typeof fetch;
  return { f, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('client > times', () => {
  it('reads durations and resolves now-relative times', () => {
    expect(durationNs('1h30m')).toBe(5_400_000_000_000n);
    expect(durationNs('250ms')).toBe(250_000_000n);
    expect(durationNs('1.5s')).toBe(1_500_000_000n);
    expect(() => durationNs('soon')).toThrow('"soon" is not a duration');
    expect(timeParam(new Date(1000))).toBe('1000000000');
    expect(timeParam(5n)).toBe('5');
    expect(timeParam('2026-01-01T00:00:00Z')).toBe('2026-01-01T00:00:00Z');
    const ago = BigInt(timeParam('now-1h'));
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(now - ago).toBeGreaterThanOrEqual(3_600_000_000_000n);
    expect(now - ago).toBeLessThan(3_601_000_000_000n);
  });
});

describe('client > write tokens', () => {
  it('merges to the higher offset per partition', () => {
    const a = encodeWriteToken(new Map([[0, 5n], [1, 9n]]));
    const b = encodeWriteToken(new Map([[1, 7n], [2, 3n]]));
    expect(decodeWriteToken(mergeTokens(a, b))).toEqual(new Map([[0, 5n], [1, 9n], [2, 3n]]));
    expect(mergeTokens('not a token!', b)).toBe(b);
  });
});

describe('client > transport', () => {
  it('retries 429 and 503 after their Retry-After, and not a 400', async () => {
    const { f, calls } = fakeFetch([
      () => json(503, { error: { code: 'SILT_KAFKA_UNAVAILABLE', message: 'down' } }, { 'Retry-After': '0' }),
      () => json(429, { error: { code: 'SILT_RATE_LIMITED', message: 'slow down' } }, { 'Retry-After': '0' }),
      () => json(200, { ok: true }),
      () => json(400, { error: { code: 'SILT_BAD_QUERY', message: 'parse error', details: { position: 3 } } }),
    ]);
    const t = new Transport({ url: 'http://silt:7420/', tenant: 'acme', apiKey: 'k', fetch: f });
    expect(await t.json({ path: '/x', query: { a: '1', b: ['2', '3'], c: undefined } })).toEqual({ ok: true });
    expect(calls).toHaveLength(3);
    expect(calls[0]!.url).toBe('http://silt:7420/x?a=1&b=2&b=3');
    expect(calls[0]!.init.headers).toMatchObject({ 'X-Scope-OrgID': 'acme', Authorization: 'Bearer k' });
    const err = (await t.json({ path: '/y' }).catch((e: unknown) => e)) as SiltClientError;
    expect(err).toBeInstanceOf(SiltClientError);
    expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_QUERY', details: { position: 3 }, retriable: false });
    expect(calls).toHaveLength(4);
  });

  it('gives up after maxRetries, and backs off with capped full jitter', async () => {
    const { f } = fakeFetch(Array.from({ length: 3 }, () => () => new Response('busy', { status: 503 })));
    const t = new Transport({ url: 'http://silt', fetch: f, maxRetries: 2, minBackoffMs: 1, maxBackoffMs: 2 });
    await expect(t.send({ path: '/' })).rejects.toMatchObject({ status: 503, code: 'SILT_HTTP_503', message: 'busy' });
    const slow = new Transport({ url: 'http://silt', minBackoffMs: 100, maxBackoffMs: 1000 });
    for (let attempt = 0; attempt < 10; attempt++) {
      const ms = slow.backoffMs(attempt);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** attempt));
    }
    expect(slow.backoffMs(0, 3)).toBeGreaterThanOrEqual(3000);
  });
});

describe('client > batching pusher', () => {
  it('cuts batches by entries, bounds its queue, and reports totals', async () => {
    const bodies: string[] = [];
    let release: () => void = () => undefined;
    let gate = new Promise<void>((r) => (release = r));
    const f = (async (_url: string, init: RequestInit) => {
      bodies.push(String(init.body));
      await gate;
      return json(200, { accepted: JSON.parse(String(init.body)).streams.reduce((n: number, s: { entries: unknown[] }) => n + s.entries.length, 0), rejected: [], token: encodeWriteToken(new Map([[0, BigInt(bodies.length)]])) });
    }) as unknown as typeof fetch;
    const tokens: string[] = [];
    const p = new BatchingPusher(new Transport({ url: 'http://silt', fetch: f }), { batchEntries: 3, maxQueuedEntries: 6, concurrency: 1, flushIntervalMs: 5 }, (t) => tokens.push(t));
    for (let i = 0; i < 6; i++) await p.add({ app: i % 2 === 0 ? 'a' : 'b' }, { line: `l${i}` });
    // The queue is full (6 held, one push in flight): the seventh waits until a push is acknowledged.
    let seventh = false;
    const adding = p.add({ app: 'a' }, { line: 'l6' }).then(() => (seventh = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(seventh).toBe(false);
    release();
    gate = Promise.resolve();
    await adding;
    const totals = await p.close();
    expect(totals).toMatchObject({ accepted: 7, rejected: [], pushes: 3 });
    expect(JSON.parse(bodies[0]!).streams).toEqual([{ labels: { app: 'a' }, entries: [{ line: 'l0' }, { line: 'l2' }] }, { labels: { app: 'b' }, entries: [{ line: 'l1' }] }]);
    expect(tokens).toHaveLength(3);
    await expect(p.add({ app: 'a' }, { line: 'late' })).rejects.toThrow('closed');
  });

  it('a push that fails for good fails flush and every later add', async () => {
    const { f } = fakeFetch([() => json(403, { error: { code: 'SILT_FORBIDDEN', message: 'no push scope' } })]);
    const p = new BatchingPusher(new Transport({ url: 'http://silt', fetch: f }), { batchEntries: 1 });
    await p.add({ app: 'a' }, { line: 'x' });
    await expect(p.flush()).rejects.toMatchObject({ code: 'SILT_FORBIDDEN' });
    await expect(p.add({ app: 'a' }, { line: 'y' })).rejects.toMatchObject({ code: 'SILT_FORBIDDEN' });
  });
});

describe('client > tail', () => {
  const sse = (text: string): Response => new Response(new Blob([text]).stream(), { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  const ev = (id: string, line: string): string => `id: ${id}\ndata: ${JSON.stringify({ ts: '5', labels: { app: 'a' }, line })}\n\n`;

  it('resumes from the last id after a dropped stream and a resumable closing event, and ends on one that is not', async () => {
    const { f, calls } = fakeFetch([
      () => sse(`retry: 1000\n: tail open\n\n${ev('c1', 'one')}${ev('c2', 'two')}`),
      () => sse(`${ev('c3', 'three')}event: error\ndata: {"error":{"code":"SILT_SHUTTING_DOWN","message":"bye"}}\n\n`),
      () => sse(`: ping\n\n${ev('c4', 'four')}event: error\ndata: {"error":{"code":"SILT_BAD_QUERY","message":"no"}}\n\n`),
    ]);
    const reasons: string[] = [];
    const got: string[] = [];
    const t = new Transport({ url: 'http://silt', fetch: f, minBackoffMs: 1, maxBackoffMs: 1 });
    const err = await (async () => {
      for await (const e of tailEntries(t, '{app="a"}', { start: 0n, onReconnect: (_n, why) => reasons.push(why) })) got.push(`${e.id}:${e.line}`);
    })().catch((e: unknown) => e);
    expect(got).toEqual(['c1:one', 'c2:two', 'c3:three', 'c4:four']);
    expect(err).toMatchObject({ code: 'SILT_BAD_QUERY' });
    expect(reasons).toEqual(['the connection ended', 'SILT_SHUTTING_DOWN: bye']);
    expect(calls[0]!.url).toContain('start=0');
    expect(calls[1]!.url).not.toContain('start=');
    expect(calls[1]!.init.headers).toMatchObject({ 'Last-Event-ID': 'c2' });
    expect(calls[2]!.init.headers).toMatchObject({ 'Last-Event-ID': 'c3' });
  });
});

describe('client > a page as it arrives', () => {
  it('hands each NDJSON entry over as its line is read, across chunk edges, then resolves with the last line', async () => {
    const lines = [
      JSON.stringify({ ts: '1', labels: { app: 'a' }, line: 'one' }),
      JSON.stringify({ ts: '2', labels: { app: 'a' }, line: 'two', attrs: { k: 'v' } }),
      JSON.stringify({ next: 'cursor-1', stats: { entriesReturned: 2 } }),
    ].join('\n') + '\n';
    const bytes = new TextEncoder().encode(lines);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.subarray(i, i + 7));
        c.close();
      },
    });
    const { f, calls } = fakeFetch([() => new Response(body, { status: 200, headers: { 'Content-Type': 'application/x-ndjson' } })]);
    const got: string[] = [];
    const trailer = await streamPage(new Transport({ url: 'http://silt', fetch: f }), '{app="a"}', { start: 0n, pageSize: 2 }, (e) => got.push(`${e.ts}:${e.line}:${e.attrs?.k ?? ''}`));
    expect(got).toEqual(['1:one:', '2:two:v']);
    expect(trailer).toEqual({ next: 'cursor-1', stats: { entriesReturned: 2 } });
    expect(calls[0]!.init.headers).toMatchObject({ Accept: 'application/x-ndjson' });
    const { f: cut } = fakeFetch([() => new Response(lines.split('\n')[0]! + '\n', { status: 200 })]);
    await expect(streamPage(new Transport({ url: 'http://silt', fetch: cut }), '{app="a"}', {}, () => undefined)).rejects.toThrow('ended before');
  });
});
