import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kafka } from 'kafkajs';
import { createLogger } from '../../core/src/logger';
import type { NodeReadEntry } from '../../core/src/node-read';
import { parseExpr, parseLogSelector } from '../../core/src/logql/parser';
import type { MetricExpr } from '../../core/src/logql/ast';
import { StepGrid } from '../../core/src/logql/metric/grid';
import { comparePositions, parsePosition, type EntryPosition } from '../../core/src/position';
import { NodeDirectory } from '../../query/src/directory';
import { Fanout, type FanoutStats } from '../../query/src/engine/fanout';
import { collectStreams, readLogEntries, type ReadCounters } from '../../query/src/engine/log-query';
import { evaluateMetricQuery, type RangeSource } from '../../query/src/engine/metric-query';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import { compileSampleExtractor } from '../../core/src/logql/sample';

const S = 1_000_000_000n;

function positionOf(e: NodeReadEntry): EntryPosition {
  return { ts: BigInt(e.ts), streamId: BigInt(e.sid), partition: e.p, offset: BigInt(e.o), frame: e.f, index: e.i };
}

/** A fake storage node holding `entries` of partition 0: answers reads in order from `after`, at most `limit`, and records what it was asked. */
async function fakeNode(entries: NodeReadEntry[]): Promise<{ url: string; asked: URLSearchParams[]; close(): Promise<void> }> {
  const asked: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const params = new URL(req.url!, 'http://x').searchParams;
    asked.push(params);
    const start = BigInt(params.get('start')!);
    const end = BigInt(params.get('end')!);
    const after = params.get('after');
    const from = after === null ? null : parsePosition(after);
    const limit = Number(params.get('limit'));
    const page = entries.filter((e) => BigInt(e.ts) >= start && BigInt(e.ts) < end && (from === null || comparePositions(positionOf(e), from) > 0)).slice(0, limit);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(JSON.stringify({ applied: { 0: '100' } }) + '\n');
    for (const e of page) res.write(JSON.stringify(e) + '\n');
    res.end(JSON.stringify({ stats: { entriesScanned: page.length, bytesDecompressed: 0 } }) + '\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, close: () => new Promise((r) => server.close(() => r())) };
}

/** A fan-out over one node that holds the only partition. */
function fanoutOver(url: string): Fanout {
  const directory = new NodeDirectory({ consumer: () => ({}) } as unknown as Kafka, 'silt.nodes', 5000, createLogger('silent'));
  const holding = { partition: 0, appliedOffset: '100', minTs: null, maxTs: null, catchingUp: false };
  directory.apply(Buffer.from('n0'), Buffer.from(JSON.stringify({ version: 1, nodeId: 'n0', replicaGroup: 0, url, partitions: [holding], released: [], sentAt: Date.now() })));
  return new Fanout(directory, { partitions: 1, nodeTimeoutMs: 2000, logger: createLogger('silent'), onFailover: () => undefined, onNodeError: () => undefined });
}

const stats = (): FanoutStats => ({ entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 });

/** 25 ticks one second apart, logfmt, `k` counting up; even ones at level=info, odd ones at level=warn. */
const TICKS: NodeReadEntry[] = Array.from({ length: 25 }, (_, k) => ({
  ts: String(BigInt(k + 1) * S),
  sid: '7',
  p: 0,
  o: String(k),
  f: 0,
  i: 0,
  labels: { app: 'tick' },
  line: `level=${k % 2 === 0 ? 'info' : 'warn'} k=${k}`,
}));

describe('loki api > engine', () => {
  let node: Awaited<ReturnType<typeof fakeNode>>;
  let fanout: Fanout;

  beforeAll(async () => {
    node = await fakeNode(TICKS);
    fanout = fanoutOver(node.url);
  });
  afterAll(() => node.close());
  beforeEach(() => (node.asked.length = 0));

  it('reads a node page after page when its pages come back full, on one snapshot', async () => {
    const got: string[] = [];
    for await (const e of fanout.read({ tenant: 't', query: '{app="tick"}', start: 0n, end: 100n * S, direction: 'forward', limit: 10 }, new AbortController().signal, stats(), new Map())) got.push(e.wire.o);
    expect(got).toEqual(TICKS.map((e) => e.o));
    expect(node.asked.map((q) => [q.get('after'), q.get('snapshot')])).toEqual([
      [null, null],
      [`${10n * S}:7:0:9:0:0`, '0:100'],
      [`${20n * S}:7:0:19:0:0`, '0:100'],
    ]);
  });

  it('stops asking once the reader has what it wants', async () => {
    const answer = await collectStreams(
      readLogEntries(fanout, { tenant: 't', selector: parseLogSelector('{app="tick"}'), start: 0n, end: 100n * S, direction: 'forward', limit: 4 }, new AbortController().signal, stats(), new Map()),
      4,
      'forward',
      0n,
    );
    expect(answer.returned).toBe(4);
    expect(node.asked).toHaveLength(1);
    expect(node.asked[0]!.get('limit')).toBe('4');
  });

  it('pushes the selector and leading line filters down, runs the rest of the pipeline here, and counts what it read', async () => {
    const counters: ReadCounters = { lines: 0, bytes: 0 };
    const selector = parseLogSelector('{app="tick"} != "nothing" | logfmt | k >= 20 | level="info"');
    const read = { tenant: 't', selector, start: 0n, end: 100n * S, direction: 'backward' as const, limit: 10 };
    const answer = await collectStreams(readLogEntries(fanout, read, new AbortController().signal, stats(), new Map(), counters), 10, 'backward', 0n);
    expect(node.asked.map((q) => q.get('query'))).toEqual(['{app="tick"} != "nothing"']);
    // One stream per label set, in the order of their label text.
    expect(answer.streams).toEqual([20, 22, 24].map((k) => ({ labels: { app: 'tick', level: 'info', k: String(k) }, entries: [[BigInt(k + 1) * S, `level=info k=${k}`]] })));
    expect(counters).toEqual({ lines: 25, bytes: TICKS.reduce((n, e) => n + Buffer.byteLength(e.line), 0) });
  });

  it('computes each range aggregation of a metric query once, from its source, then evaluates the expression', async () => {
    const expr = parseExpr('sum by (level) (count_over_time({app="tick"} | logfmt [10s])) / count_over_time({app="tick"}[10s] offset 5s)') as MetricExpr;
    const grid = StepGrid.range(10n * S, 20n * S, 10n * S);
    const asked: string[] = [];
    // A source that aggregates TICKS here, with the extractor and aggregator the nodes use.
    const source: RangeSource = async (range) => {
      asked.push(`${range.node.range.offsetNs / S}:${range.fromNs / S}:${range.toNs / S}`);
      const agg = new RangeAggregator(range.node, grid);
      const extractor = compileSampleExtractor(range.extract);
      for (const e of TICKS) {
        const sample = extractor.run(BigInt(e.ts), e.line, e.labels, undefined);
        if (sample !== null) agg.add(sample.labels, BigInt(e.ts), sample.value);
      }
      return agg.finish();
    };
    const result = await evaluateMetricQuery(expr, grid, source, new AbortController().signal, stats(), { lines: 0, bytes: 0 });
    expect(asked).toEqual(['0:0:20', '5:-5:15']);
    // `sum by (level)` has no `app` to match the right side on: Loki's one-to-one matching gives nothing.
    expect(result).toEqual({ type: 'matrix', series: [] });
    const sum = await evaluateMetricQuery(parseExpr('sum by (level) (count_over_time({app="tick"} | logfmt [10s])) / 2') as MetricExpr, grid, source, new AbortController().signal, stats(), { lines: 0, bytes: 0 });
    expect(sum).toEqual({
      type: 'matrix',
      series: [
        { labels: { level: 'info' }, points: [[10n * S, 2.5], [20n * S, 2.5]] },
        { labels: { level: 'warn' }, points: [[10n * S, 2.5], [20n * S, 2.5]] },
      ],
    });
  });

  it('stops the other range aggregations when one fails, and answers with its error', async () => {
    const expr = parseExpr('count_over_time({app="a"}[1m]) + count_over_time({app="b"}[1m])') as MetricExpr;
    let abortedOther = false;
    const source: RangeSource = (range, _grid, signal) =>
      range.node.range.selector.matchers[0]!.value === 'a'
        ? Promise.reject(Object.assign(new Error('pipeline error'), { status: 400 }))
        : new Promise((_resolve, reject) =>
            signal.addEventListener('abort', () => {
              abortedOther = true;
              reject(signal.reason);
            }),
          );
    await expect(evaluateMetricQuery(expr, StepGrid.instant(60n * S), source, new AbortController().signal, stats(), { lines: 0, bytes: 0 })).rejects.toMatchObject({ message: 'pipeline error', status: 400 });
    expect(abortedOther).toBe(true);
  });
});
