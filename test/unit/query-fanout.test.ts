import { comparePositions } from '../../core/src/position';
import { decodeCursor, encodeCursor } from '../../query/src/engine/cursor';
import { mergeOrdered, type MergedEntry } from '../../query/src/engine/fanout';

function entry(ts: number, sid: number, p = 0, o = 0, i = 0): MergedEntry {
  return {
    pos: { ts: BigInt(ts), streamId: BigInt(sid), partition: p, offset: BigInt(o), frame: 0, index: i },
    wire: { ts: String(ts), sid: String(sid), p, o: String(o), f: 0, i, labels: {}, line: `${ts}/${sid}/${i}` },
  };
}

async function* from(items: MergedEntry[], onReturn?: () => void): AsyncGenerator<MergedEntry> {
  try {
    for (const e of items) yield e;
  } finally {
    onReturn?.();
  }
}

describe('query > fan-out > merge', () => {
  it('merges ordered node streams into one, ties by stream id then position', async () => {
    const a = [entry(1, 2), entry(3, 1), entry(3, 1, 0, 0, 1), entry(7, 1)];
    const b = [entry(2, 5), entry(3, 0), entry(9, 9)];
    const out: MergedEntry[] = [];
    for await (const e of mergeOrdered([from(a), from(b), from([])], true)) out.push(e);
    expect(out.map((e) => e.wire.line)).toEqual([...a, ...b].sort((x, y) => comparePositions(x.pos, y.pos)).map((e) => e.wire.line));
  });

  it('merges backward as the exact reverse', async () => {
    const a = [entry(7, 1), entry(3, 1, 0, 0, 1), entry(3, 1)];
    const b = [entry(9, 9), entry(3, 0)];
    const out: string[] = [];
    for await (const e of mergeOrdered([from(a), from(b)], false)) out.push(e.wire.line);
    expect(out).toEqual(['9/9/0', '7/1/0', '3/1/1', '3/1/0', '3/0/0']);
  });

  it('closes every node stream when the reader stops early (the limit is reached)', async () => {
    let closed = 0;
    const streams = [from([entry(1, 1), entry(4, 1)], () => closed++), from([entry(2, 1), entry(5, 1)], () => closed++)];
    for await (const e of mergeOrdered(streams, true)) if (e.pos.ts === 2n) break;
    expect(closed).toBe(2);
  });
});

describe('query > cursor', () => {
  const scope = { tenant: 'a', query: '{app="x"}', start: 1n, end: 10n, direction: 'forward' };
  const cursor = { after: entry(5, 3, 2, 40, 1).pos, snapshot: new Map([[0, 10n], [2, 41n]]) };

  it('round-trips the position and the snapshot', () => {
    expect(decodeCursor(encodeCursor(cursor, scope), scope)).toEqual(cursor);
  });

  it.each([
    ['another tenant', { ...scope, tenant: 'b' }],
    ['another query', { ...scope, query: '{app="y"}' }],
    ['another range', { ...scope, end: 11n }],
    ['another direction', { ...scope, direction: 'backward' }],
  ])('refuses a cursor used for %s', (_name, other) => {
    expect(() => decodeCursor(encodeCursor(cursor, scope), other)).toThrow(expect.objectContaining({ code: 'SILT_BAD_CURSOR' }));
  });

  it.each(['', 'not-base64!', Buffer.from('{"v":2}').toString('base64url')])('refuses the malformed cursor %j', (text) => {
    expect(() => decodeCursor(text, scope)).toThrow(expect.objectContaining({ code: 'SILT_BAD_CURSOR' }));
  });
});
