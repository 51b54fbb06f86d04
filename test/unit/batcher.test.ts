import { Batcher, type BatcherOptions, type OutgoingBlock, type PendingBlock } from '../../ingest/src/batcher';
import type { BlockInput } from '../../core/src/block-format';
import { SiltError } from '../../core/src/errors';
import { RunWriter } from '../../core/src/payload-run';

interface Sent {
  blocks: OutgoingBlock[];
  resolve: (offsets: bigint[]) => void;
  reject: (err: Error) => void;
}

function setup(overrides: Partial<BatcherOptions> = {}) {
  const sent: Sent[] = [];
  const inputs: BlockInput[] = [];
  let offset = 0n;
  const sender = {
    send: (blocks: readonly OutgoingBlock[]) =>
      new Promise<bigint[]>((resolve, reject) => {
        sent.push({ blocks: [...blocks], resolve, reject });
      }),
  };
  const batcher = new Batcher(sender, {
    lingerMs: 5,
    maxBlockBytes: 1000,
    maxBlockEntries: 100,
    maxRequestBytes: 1_000_000,
    maxPendingBytes: 10_000,
    retryAfterSeconds: 2,
    encode: (input) => {
      inputs.push(structuredClone(input));
      return Buffer.from(JSON.stringify(input, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    },
    ...overrides,
  });
  const ack = (i: number) => sent[i]!.resolve(sent[i]!.blocks.map(() => offset++));
  return { batcher, sent, inputs, ack };
}

const entries = (n: number, size = 10) => Array.from({ length: n }, (_, i) => ({ ts: BigInt(i), line: String(i).padStart(size, 'x') }));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ingest > batcher', () => {
  it('seals a block after the linger time and resolves its pushes with the offset', async () => {
    const { batcher, sent, inputs, ack } = setup();
    const blocks = new Set<PendingBlock>();
    batcher.add(3, 't', '{a="1"}', { a: '1' }, entries(3), blocks);
    expect(sent).toHaveLength(0);
    await tick(20);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.blocks[0]!.partition).toBe(3);
    expect(inputs[0]!.streams[0]!.entries).toHaveLength(3);
    ack(0);
    expect(await [...blocks][0]!.done).toBe(0n);
    expect(batcher.pending).toBe(0);
  });

  it('splits at the size cap so every block stays bounded, keeping entry order', async () => {
    const { batcher, sent, inputs, ack } = setup({ maxBlockBytes: 100 });
    const blocks = new Set<PendingBlock>();
    batcher.add(0, 't', 'k', { a: '1' }, entries(20, 20), blocks);
    expect(blocks.size).toBeGreaterThan(1);
    const flushed = batcher.flush();
    for (let i = 0; i < sent.length; i++) {
      ack(i);
      await tick(1);
    }
    await flushed;
    expect((await Promise.all([...blocks].map((b) => b.done))).length).toBe(blocks.size);
    const lines = inputs.flatMap((i) => i.streams.flatMap((s) => s.entries.map((e) => e.line)));
    expect(lines).toEqual(entries(20, 20).map((e) => e.line));
  });

  it('keeps tenants and partitions in separate blocks', async () => {
    const { batcher, inputs } = setup();
    const blocks = new Set<PendingBlock>();
    batcher.add(0, 'a', 'k', { a: '1' }, entries(1), blocks);
    batcher.add(0, 'b', 'k', { a: '1' }, entries(1), blocks);
    batcher.add(1, 'a', 'k', { a: '1' }, entries(1), blocks);
    expect(blocks.size).toBe(3);
    await tick(20);
    expect(inputs.map((i) => i.tenant).sort()).toEqual(['a', 'a', 'b']);
  });

  it('sends one Kafka request at a time and batches what queued meanwhile', async () => {
    const { batcher, sent, ack } = setup({ lingerMs: 1 });
    batcher.add(0, 't', 'k', { a: '1' }, entries(1), new Set());
    await tick(10);
    batcher.add(1, 't', 'k', { a: '1' }, entries(1), new Set());
    batcher.add(2, 't', 'k', { a: '1' }, entries(1), new Set());
    await tick(10);
    expect(sent).toHaveLength(1);
    ack(0);
    await tick(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.blocks.map((b) => b.partition).sort()).toEqual([1, 2]);
  });

  it('refuses with a retriable 503 once pending bytes pass the cap', () => {
    const { batcher } = setup({ maxPendingBytes: 100 });
    batcher.add(0, 't', 'k', { a: '1' }, entries(5, 30), new Set());
    let caught: unknown;
    try {
      batcher.admit(50);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SiltError);
    expect((caught as SiltError).code).toBe('SILT_KAFKA_UNAVAILABLE');
    expect((caught as SiltError).retriable).toBe(true);
  });

  it('rejects the blocks of a failed request, and does not send a queued block nobody waits for', async () => {
    const { batcher, sent } = setup({ lingerMs: 1 });
    const first = new Set<PendingBlock>();
    batcher.add(0, 't', 'k', { a: '1' }, entries(1), first);
    await tick(10);
    const second = new Set<PendingBlock>();
    batcher.add(1, 't', 'k', { a: '1' }, entries(1), second);
    await tick(10);
    batcher.abandon(second);
    sent[0]!.reject(new Error('broker down'));
    await expect([...first][0]!.done).rejects.toThrow('broker down');
    await expect([...second][0]!.done).rejects.toMatchObject({ code: 'SILT_KAFKA_UNAVAILABLE' });
    expect(sent).toHaveLength(1);
    expect(batcher.pending).toBe(0);
  });

  it('sends blocks encoded later (on another thread) in the order they were sealed, and flush waits for them', async () => {
    const later: { input: BlockInput; resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
    const { batcher, sent, ack } = setup({
      lingerMs: 1_000,
      maxBlockEntries: 2,
      encode: (input) => new Promise<Buffer>((resolve, reject) => later.push({ input, resolve, reject })),
    });
    const blocks = new Set<PendingBlock>();
    batcher.add(0, 't', 'k', { a: '1' }, entries(6), blocks);
    const flushed = batcher.flush();
    let done = false;
    void flushed.then(() => (done = true));
    expect(later).toHaveLength(3);
    later[2]!.resolve(Buffer.from('third'));
    later[1]!.resolve(Buffer.from('second'));
    await tick(5);
    expect(sent).toHaveLength(0);
    later[0]!.resolve(Buffer.from('first'));
    await tick(5);
    expect(sent.map((r) => r.blocks.map((b) => b.value.toString()))).toEqual([['first', 'second', 'third']]);
    expect(done).toBe(false);
    ack(0);
    await flushed;
    expect((await Promise.all([...blocks].map((b) => b.done))).map(Number)).toEqual([0, 1, 2]);
    expect(batcher.pending).toBe(0);
  });

  it('answers the pushes of a block whose encoding failed with a retriable 503, and sends the others', async () => {
    const later: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
    const { batcher, sent, ack } = setup({
      lingerMs: 1_000,
      maxBlockEntries: 1,
      encode: () => new Promise<Buffer>((resolve, reject) => later.push({ resolve, reject })),
    });
    const blocks = new Set<PendingBlock>();
    batcher.add(0, 't', 'k', { a: '1' }, entries(2), blocks);
    void batcher.flush();
    later[0]!.reject(new Error('thread exited'));
    later[1]!.resolve(Buffer.from('ok'));
    const [failed, kept] = [...blocks];
    await expect(failed!.done).rejects.toMatchObject({ code: 'SILT_KAFKA_UNAVAILABLE', retriable: true });
    await tick(5);
    expect(sent.map((r) => r.blocks.map((b) => b.value.toString()))).toEqual([['ok']]);
    ack(0);
    expect(await kept!.done).toBe(0n);
    expect(batcher.pending).toBe(0);
  });

  it('adds payload runs whole, cutting blocks between runs at the caps and placing each among the objects', async () => {
    const { batcher, sent, inputs, ack } = setup({ maxBlockEntries: 5 });
    const w = new RunWriter();
    for (let i = 0; i < 3; i++) w.append(1, i, Buffer.from(`run ${i}`), RunWriter.NO_ATTRS);
    const [run] = w.finish();
    const blocks = new Set<PendingBlock>();
    batcher.add(0, 't', 'k', { a: '1' }, entries(2), blocks);
    expect(batcher.addRuns(0, 't', 'k', { a: '1' }, [run!], blocks)).toBe(run!.lineBytes);
    batcher.add(0, 't', 'k', { a: '1' }, entries(1), blocks);
    expect(batcher.addRuns(0, 't', 'k', { a: '1' }, [run!], blocks)).toBe(run!.lineBytes);
    const flushed = batcher.flush();
    const streams = inputs.map((b) => b.streams[0]!);
    expect(streams.map((s) => [s.entries.length, (s.runs ?? []).map((r) => r.at)])).toEqual([
      [2, [2]],
      [1, [1]],
    ]);
    expect(blocks.size).toBe(2);
    expect(batcher.pending).toBeGreaterThan(0);
    ack(0);
    await tick(5);
    sent.slice(1).forEach((_, i) => ack(i + 1));
    await flushed;
    await Promise.all([...blocks].map((b) => b.done));
    expect(batcher.pending).toBe(0);
  });
});
