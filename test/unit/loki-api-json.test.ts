import type { Labels } from '../../core/src/labels';
import { parseLogSelector } from '../../core/src/logql/parser';
import { collectStreams, type LogEntry } from '../../query/src/engine/log-query';
import { everyStream, planNodeRead } from '../../query/src/engine/plan';
import { lokiStats, matrixResult, queryAnswer, sampleTime, scalarResult, vectorResult } from '../../query/src/routes/loki-json';
import { volumeBuckets } from '../../query/src/routes/loki-metadata';

const S = 1_000_000_000n;
const MS = 1_000_000n;

/** Entries of a log read, as the engine yields them (positions are not looked at here). */
async function* entries(list: [bigint, string, Labels][]): AsyncGenerator<LogEntry> {
  for (const [ts, line, labels] of list) {
    yield { pos: { ts, streamId: 0n, partition: 0, offset: 0n, frame: 0, index: 0 }, ts, line, labels, source: null as never };
  }
}

describe('loki api > json > samples', () => {
  it('prints sample times as whole milliseconds in seconds', () => {
    expect(sampleTime(1_765_440_000n * S)).toBe(1765440000);
    expect(sampleTime(1_765_440_000n * S + 500n * MS)).toBe(1765440000.5);
    expect(sampleTime(1_765_440_000n * S + 123_999_999n)).toBe(1765440000.123);
  });

  it('shapes matrices, vectors and scalars with Go float text', () => {
    const t = 1_765_440_000n * S;
    expect(matrixResult([{ metric: { app: 'a' }, points: [{ t, v: 1 }, { t: t + 60n * S, v: 0.1 + 0.2 }] }])).toEqual([
      { metric: { app: 'a' }, values: [[1765440000, '1'], [1765440060, '0.30000000000000004']] },
    ]);
    expect(vectorResult([{ metric: {}, t, v: NaN }, { metric: { x: 'y' }, t, v: -Infinity }, { metric: {}, t, v: 1e21 }, { metric: {}, t, v: 1e-7 }])).toEqual([
      { metric: {}, value: [1765440000, 'NaN'] },
      { metric: { x: 'y' }, value: [1765440000, '-Inf'] },
      { metric: {}, value: [1765440000, '1000000000000000000000'] },
      { metric: {}, value: [1765440000, '0.0000001'] },
    ]);
    expect(scalarResult(t, Infinity)).toEqual([1765440000, '+Inf']);
    expect(JSON.stringify(scalarResult(t + 250n * MS, 7))).toBe('[1765440000.25,"7"]');
  });

  it('wraps results in Loki\'s envelope with a summary Grafana reads', () => {
    const body = queryAnswer('vector', [], { linesProcessed: 300, bytesProcessed: 6000, postFilterLines: 10, entriesReturned: 3, execSeconds: 2 });
    expect(Object.keys(body)).toEqual(['status', 'data']);
    const data = body.data as { resultType: string; result: unknown[]; stats: { summary: Record<string, number> } };
    expect([body.status, data.resultType, data.result]).toEqual(['success', 'vector', []]);
    expect(data.stats.summary).toEqual({
      bytesProcessedPerSecond: 3000,
      linesProcessedPerSecond: 150,
      totalBytesProcessed: 6000,
      totalLinesProcessed: 300,
      execTime: 2,
      queueTime: 0,
      subqueries: 0,
      totalEntriesReturned: 3,
      splits: 0,
      shards: 0,
      totalPostFilterLines: 10,
      totalStructuredMetadataBytesProcessed: 0,
    });
    expect(Object.keys(lokiStats({ linesProcessed: 0, bytesProcessed: 0, postFilterLines: 0, entriesReturned: 0, execSeconds: 0 }))).toEqual(['summary', 'querier', 'ingester', 'cache', 'index']);
  });
});

describe('loki api > json > log streams', () => {
  const a = { app: 'a' };
  const b = { app: 'b' };

  it('groups entries by full labels, keeps each stream in read order, sorts streams by label text (`,` before `}`)', async () => {
    const answer = await collectStreams(
      entries([
        [5n, 'b5', b],
        [4n, 'a4', a],
        [3n, 'b3', b],
        [3n, 'a3', { app: 'a', level: 'x' }],
      ]),
      100,
      'backward',
      0n,
    );
    expect(answer).toEqual({
      returned: 4,
      streams: [
        { labels: { app: 'a', level: 'x' }, entries: [[3n, 'a3']] },
        { labels: a, entries: [[4n, 'a4']] },
        { labels: b, entries: [[5n, 'b5'], [3n, 'b3']] },
      ],
    });
  });

  it('takes the first `limit` entries, then keeps one per interval from the last kept (forward)', async () => {
    const ticks = Array.from({ length: 121 }, (_, k): [bigint, string, Labels] => [BigInt(k) * 60n * S, `tick ${k}`, a]);
    const answer = await collectStreams(entries(ticks), 100, 'forward', 300n * S);
    expect(answer.returned).toBe(20);
    expect(answer.streams[0]!.entries.map(([ts]) => ts / (60n * S))).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i * 5)));
  });

  it('thins backward reads counting down from the newest', async () => {
    const ticks = Array.from({ length: 11 }, (_, k): [bigint, string, Labels] => [BigInt(10 - k) * S, `t${10 - k}`, a]);
    const answer = await collectStreams(entries(ticks), 100, 'backward', 3n * S);
    expect(answer.streams[0]!.entries.map(([, line]) => line)).toEqual(['t10', 't7', 't4', 't1']);
  });
});

describe('loki api > engine > planning', () => {
  it('sends the matchers and leading plain line filters to the nodes, runs the rest here', () => {
    const plan = planNodeRead(parseLogSelector('{app="api", env=~"p.*"} |= "a" != `b` |~ "c+" | json | x="1" |= "late"'));
    expect(plan.query).toBe('{app="api", env=~"p.*"} |= "a" != "b" |~ "c+"');
    expect(plan.rest.map((st) => st.kind)).toEqual(['json', 'label_filter', 'line_filter']);
  });

  it('stops the push-down at a filter the nodes cannot run (alternatives, patterns, ip)', () => {
    expect(planNodeRead(parseLogSelector('{app="a"} |= "x" or "y" |= "z"')).query).toBe('{app="a"}');
    expect(planNodeRead(parseLogSelector('{app="a"} != "q" |> "<_> x"')).query).toBe('{app="a"} != "q"');
    expect(planNodeRead(parseLogSelector('{app="a"} |= ip("10.0.0.0/8")')).rest).toHaveLength(1);
  });

  it('selects every stream exactly once through disjoint selectors', () => {
    expect(everyStream(['app', 'env', 'zone'])).toEqual([
      [{ name: 'app', op: '=~', value: '.+' }],
      [{ name: 'env', op: '=~', value: '.+' }, { name: 'app', op: '=', value: '' }],
      [{ name: 'zone', op: '=~', value: '.+' }, { name: 'app', op: '=', value: '' }, { name: 'env', op: '=', value: '' }],
    ]);
  });
});

describe('loki api > volume > buckets', () => {
  it('is one bucket [start, end] without a step', () => {
    expect(volumeBuckets(100n * S, 200n * S, 0n)).toEqual([{ start: 100n * S, end: 200n * S }]);
  });

  it('aligns buckets to the step, 1 ms apart, the first from start and the last to end', () => {
    expect(volumeBuckets(90n * S, 250n * S, 60n * S)).toEqual([
      { start: 90n * S, end: 120n * S - MS },
      { start: 120n * S, end: 180n * S - MS },
      { start: 180n * S, end: 240n * S - MS },
      { start: 240n * S, end: 250n * S },
    ]);
  });
});
