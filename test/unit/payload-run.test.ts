import { decodeBlock, encodeBlock, type BlockEntry } from '../../core/src/block-format';
import { RunWriter, encodeAttrs, runEntries, type PayloadRun } from '../../core/src/payload-run';

const S = 1_000_000_000n;
const ns = (seconds: number, nanos: number): bigint => BigInt(seconds) * S + BigInt(nanos);

/** Writes `entries` (seconds, nanos, line, attrs) as runs. */
function runsOf(entries: [number, number, string, Record<string, string>?][]): PayloadRun[] {
  const w = new RunWriter();
  for (const [seconds, nanos, line, attrs] of entries) w.append(seconds, nanos, Buffer.from(line), attrs ? encodeAttrs(attrs) : RunWriter.NO_ATTRS);
  return w.finish();
}

describe('core > payload run', () => {
  const sample: [number, number, string, Record<string, string>?][] = [
    [1_764_000_000, 5, 'first'],
    [1_764_000_000, 3, 'earlier in the same second', { trace_id: 'ab12', 'user.id': 'ü' }],
    [1_764_000_002, 999_999_999, 'naïve ✓'],
    // More than 52 days apart, either way: the delta takes BigInt.
    [1_700_000_000, 0, 'long ago'],
    [1_790_000_000, 1, 'far ahead'],
    [0, 0, ''],
  ];

  it('reads back as the entries written, with their order, bounds and line bytes', () => {
    const [run, ...more] = runsOf(sample);
    expect(more).toHaveLength(0);
    expect(runEntries(run!)).toEqual(sample.map(([s, n, line, attrs]) => (attrs ? { ts: ns(s, n), line, attrs } : { ts: ns(s, n), line })));
    expect([run!.firstTs, run!.lastTs, run!.minTs, run!.maxTs]).toEqual([ns(1_764_000_000, 5), 0n, 0n, ns(1_790_000_000, 1)]);
    expect(run!.entries).toBe(6);
    expect(run!.lineBytes).toBe(sample.reduce((n, [, , line]) => n + Buffer.byteLength(line), 0));
  });

  it('cuts a long stream into bounded runs that read back whole', () => {
    const many = Array.from({ length: 3_000 }, (_, i): [number, number, string] => [1_764_000_000 + (i >> 4), i, `line ${i} `.padEnd(40, 'x')]);
    const runs = runsOf(many);
    expect(runs.length).toBeGreaterThan(2);
    for (const run of runs) expect(run.entries).toBeLessThanOrEqual(1024);
    expect(runs.flatMap(runEntries).map((e) => e.line)).toEqual(many.map(([, , line]) => line));
  });

  it('goes into a block among object entries, each delta relative to what precedes it there', () => {
    const runs = runsOf(sample);
    const before: BlockEntry[] = [{ ts: 7n * S, line: 'object before' }];
    const after: BlockEntry = { ts: 8n * S, line: 'object after', attrs: { k: 'v' } };
    const block = encodeBlock({ tenant: 't', streams: [{ labels: { app: 'a' }, entries: [...before, after], runs: runs.map((run) => ({ at: 1, run })) }] }, { level: 1 });
    const [stream] = decodeBlock(block).streams;
    expect(stream!.entries).toEqual([...before, ...runs.flatMap(runEntries), after]);
    expect(stream!.info.entryCount).toBe(8);
    expect([stream!.info.minTs, stream!.info.maxTs]).toEqual([0n, ns(1_790_000_000, 1)]);
  });

  it('makes a stream of runs alone, and refuses a stream with neither entries nor runs', () => {
    const runs = runsOf(sample.slice(0, 3));
    const block = encodeBlock({ tenant: 't', streams: [{ labels: { app: 'a' }, entries: [], runs: runs.map((run) => ({ at: 0, run })) }] });
    expect(decodeBlock(block).streams[0]!.entries.map((e) => e.line)).toEqual(['first', 'earlier in the same second', 'naïve ✓']);
    expect(() => encodeBlock({ tenant: 't', streams: [{ labels: { app: 'a' }, entries: [], runs: [] }] })).toThrow(/no entries/);
  });
});
