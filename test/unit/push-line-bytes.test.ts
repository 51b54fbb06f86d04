import { Batcher, type PendingBlock } from '../../ingest/src/batcher';
import type { BlockInput } from '../../core/src/block-format';
import { PushBuilder, type PushLimits } from '../../ingest/src/push/builder';

const S = 1_000_000_000n;
const limits: PushLimits = { maxLineBytes: 1024, maxLabels: 15, maxLabelValueBytes: 1024, maxLabelNameBytes: 1024, maxPastNs: 7n * 86_400n * S, maxFutureNs: 600n * S, maxAttrs: 8, maxAttrBytes: 4096 };
const NOW = 1_800_000_000n * S;

describe('ingest > push builder > line bytes', () => {
  it('sums each stream’s line bytes, in stream order, when every entry was added with its length', () => {
    const b = new PushBuilder(limits, NOW);
    const a = b.slot({ app: 'a' });
    const z = b.slot({ app: 'z' });
    for (const [slot, line] of [[z, 'zz'], [a, 'ä'], [z, '']] as const) b.add(slot, b.entry(line, null, undefined)!, Buffer.byteLength(line));
    const r = b.result();
    expect(r.streams.map((s) => s.labels.app)).toEqual(['z', 'a']);
    expect(r.lineBytes).toEqual([2, 2]);
  });

  it('leaves lineBytes out when an entry came without its length, or went straight into a stream, or there are none', () => {
    const partial = new PushBuilder(limits, NOW);
    const slot = partial.slot({ app: 'a' });
    partial.add(slot, partial.entry('x', null, undefined)!, 1);
    partial.add(slot, partial.entry('y', null, undefined)!);
    expect(partial.result().lineBytes).toBeUndefined();

    const direct = new PushBuilder(limits, NOW);
    direct.add(direct.slot({ app: 'a' }), direct.entry('x', null, undefined)!, 1);
    direct.group('{app="b"}', { app: 'b' }).entries.push(direct.entry('y', null, undefined)!);
    direct.accepted++;
    expect(direct.result().lineBytes).toBeUndefined();

    expect(new PushBuilder(limits, NOW).result()).toEqual({ streams: [], accepted: 0, rejected: [] });
  });
});

describe('ingest > batcher > known line bytes', () => {
  function run(known: boolean, maxBlockBytes: number): { inputs: BlockInput[]; pending: number; bytes: number[]; blocks: number } {
    const inputs: BlockInput[] = [];
    const batcher = new Batcher(
      { send: () => new Promise(() => undefined) },
      {
        ...{ lingerMs: 1000, maxBlockBytes, maxBlockEntries: 100, maxRequestBytes: 1_000_000, maxPendingBytes: 1_000_000, retryAfterSeconds: 2 },
        encode: (input) => {
          inputs.push(structuredClone(input));
          return Buffer.alloc(1);
        },
      },
    );
    const into = new Set<PendingBlock>();
    const bytes: number[] = [];
    for (const [key, lines] of [['{a="1"}', ['héllo', 'x', 'wörld']], ['{a="2"}', ['y'.repeat(30), 'z']], ['{a="1"}', ['again']]] as const) {
      const entries = lines.map((line, i) => ({ ts: BigInt(i), line }));
      const total = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
      bytes.push(batcher.add(0, 't', key, { a: key.slice(4, 5) }, entries, into, known ? total : undefined));
    }
    const pending = batcher.pending;
    void batcher.flush();
    return { inputs, pending, bytes, blocks: into.size };
  }

  it.each([1000, 60, 20])('fills blocks exactly as counting each entry does (block cap %i bytes)', (cap) => {
    expect(run(true, cap)).toEqual(run(false, cap));
  });
});
