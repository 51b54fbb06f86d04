/**
 * What the segment store's integration tests share: a model of what a store must hold, random
 * blocks that fill it, and read helpers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BlockEntry, encodeBlock } from '../../core/src/block-format';
import { type Labels, streamId } from '../../core/src/labels';
import { type CompiledMatcher, type LabelMatcher, compileMatcher, matchesAll } from '../../core/src/matchers';
import { comparePositions, type EntryPosition } from '../../core/src/position';
import { type IncomingBlock, type ReadRequest, type ReadStats, type SegmentStore, type SegmentStoreOptions, type StoredEntry } from '../../storage-node/src/store';

/** A time the tests' entries lie around (2025-11-26). */
export const T0 = 1_764_129_600_000_000_000n;
/** A limit no test reaches. */
const BIG = 1 << 30;

// One root per test file (jest loads this module once per file): made at import, removed after the file's tests.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-segments-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirCounter = 0;
/** A directory no other store uses, under the test file's temporary root. */
export function freshDir(): string {
  return path.join(root, `store-${++dirCounter}`);
}

/** Store options for tests: no roll by size or age unless `over` sets one. */
export function options(dir: string, over: Partial<SegmentStoreOptions> = {}): SegmentStoreOptions {
  return { dir, maxSegmentBytes: BIG, maxSegmentAgeMs: BIG, maxOpenSegments: 8, ...over };
}

/** One stream of a test block. */
export interface StreamSpec {
  labels: Labels;
  entries: BlockEntry[];
}

/** What the store should hold, built alongside the blocks written to it. */
export class Model {
  readonly entries: StoredEntry[] = [];

  block(partition: number, offset: bigint, tenant: string, streams: StreamSpec[]): IncomingBlock {
    streams.forEach((s, frame) => {
      const id = streamId(tenant, s.labels);
      s.entries.forEach((e, index) => {
        const out: StoredEntry = { ts: e.ts, streamId: id, partition, offset, frame, index, tenant, labels: s.labels, line: e.line };
        if (e.attrs !== undefined && Object.keys(e.attrs).length > 0) out.attrs = e.attrs;
        this.entries.push(out);
      });
    });
    return { offset, value: encodeBlock({ tenant, streams }) };
  }

  expect(req: ReadRequest): StoredEntry[] {
    const dir = req.direction === 'forward' ? 1 : -1;
    const after = req.after;
    const out = this.entries.filter(
      (e) =>
        e.tenant === req.tenant &&
        matchesAll(req.matchers, e.labels) &&
        e.ts >= req.start &&
        e.ts < req.end &&
        (req.partitions === undefined || req.partitions.includes(e.partition)) &&
        (req.maxOffsets?.get(e.partition) === undefined || e.offset < req.maxOffsets.get(e.partition)!) &&
        (after === undefined || comparePositions(e, after) * dir > 0) &&
        (req.lineFilter === undefined || req.lineFilter(e.line)),
    );
    out.sort((a, b) => comparePositions(a, b) * dir);
    return out.slice(0, req.limit);
  }
}

/** Every entry a read yields. */
export async function collect(store: SegmentStore, req: ReadRequest, stats?: ReadStats): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for await (const e of store.read(req, stats)) out.push(e);
  return out;
}

/** A compiled matcher. */
export function m(name: string, op: LabelMatcher['op'], value: string): CompiledMatcher {
  return compileMatcher({ name, op, value });
}

/** A read of everything of a tenant, forward, unless `over` says otherwise. */
export function req(over: Partial<ReadRequest> & { tenant: string }): ReadRequest {
  return { matchers: [], start: -(1n << 63n), end: 1n << 63n, direction: 'forward', limit: 1_000_000, ...over };
}

/** An entry's position, for `after`. */
export function position(e: StoredEntry): EntryPosition {
  return { ts: e.ts, streamId: e.streamId, partition: e.partition, offset: e.offset, frame: e.frame, index: e.index };
}

/** Every entry of `base` read page by page (`base.limit` a page), each page after the last entry of the one before. */
export async function readPaged(store: SegmentStore, base: ReadRequest): Promise<StoredEntry[]> {
  const paged: StoredEntry[] = [];
  for (let after: EntryPosition | undefined; ; ) {
    const page = await collect(store, { ...base, after });
    paged.push(...page);
    if (page.length < base.limit) return paged;
    after = position(page[page.length - 1]!);
  }
}

/** The streams random blocks pick from, per tenant. */
export const STREAMS: Record<string, Labels[]> = {
  acme: [{ app: 'api', env: 'prod' }, { app: 'api', env: 'dev' }, { app: 'web', env: 'prod', host: 'h1' }, { app: 'db' }],
  globex: [{ app: 'api', env: 'prod' }, { app: 'worker', host: 'h2' }],
};

/**
 * Random blocks: tenants alternate, 1–3 streams a block, timestamps that advance with the offset
 * but jitter backwards within a frame (ties are frequent), now and then a far outlier; each line
 * padded with `padWords` random words (`w<n>`), to make frames of a size.
 */
export function randomBlocks(model: Model, rand: () => number, partitions: number[], blocksPerPartition: number, firstOffset = 0n, padWords = 0): Map<number, IncomingBlock[]> {
  const out = new Map<number, IncomingBlock[]>();
  for (const p of partitions) {
    const blocks: IncomingBlock[] = [];
    for (let i = 0; i < blocksPerPartition; i++) {
      const offset = firstOffset + BigInt(i);
      const tenant = rand() < 0.7 ? 'acme' : 'globex';
      const pool = STREAMS[tenant]!;
      const picked = new Set<number>();
      const count = 1 + Math.floor(rand() * Math.min(3, pool.length));
      while (picked.size < count) picked.add(Math.floor(rand() * pool.length));
      const streams: StreamSpec[] = [...picked].map((s) => {
        const n = 1 + Math.floor(rand() * 12);
        const entries: BlockEntry[] = [];
        for (let j = 0; j < n; j++) {
          let ts = T0 + BigInt(Number(offset) * 10 + Math.floor(rand() * 40) - 20);
          if (rand() < 0.02) ts -= 500n;
          let line = `${rand() < 0.2 ? 'ERROR' : 'info'} p${p} o${offset} s${s} #${j}`;
          for (let w = 0; w < padWords; w++) line += ` w${Math.floor(rand() * 1000)}`;
          const entry: BlockEntry = { ts, line };
          if (rand() < 0.3) entry.attrs = { trace: `t${j}`, n: String(j) };
          entries.push(entry);
        }
        return { labels: pool[s]!, entries };
      });
      blocks.push(model.block(p, offset, tenant, streams));
    }
    out.set(p, blocks);
  }
  return out;
}

/**
 * A random read of the blocks `randomBlocks` writes to partitions 0 and 1 (160 a partition or
 * fewer): either tenant, any matcher set, ranges bounded or not, both directions, small limits,
 * snapshots; with `needle`, of the lines that hold it.
 */
export function randomRead(rand: () => number, needle?: string): ReadRequest {
  const a = T0 + BigInt(Math.floor(rand() * 1700) - 100);
  return req({
    tenant: rand() < 0.8 ? 'acme' : 'globex',
    matchers: MATCHER_SETS[Math.floor(rand() * MATCHER_SETS.length)]!,
    start: rand() < 0.2 ? -(1n << 63n) : a,
    end: rand() < 0.2 ? 1n << 63n : a + BigInt(1 + Math.floor(rand() * 900)),
    direction: rand() < 0.5 ? 'forward' : 'backward',
    limit: rand() < 0.3 ? 1 + Math.floor(rand() * 30) : 1_000_000,
    maxOffsets: rand() < 0.3 ? new Map([[0, BigInt(Math.floor(rand() * 160))], [1, BigInt(Math.floor(rand() * 160))]]) : undefined,
    lineFilter: needle === undefined ? undefined : (line) => line.includes(needle),
    mustContain: needle === undefined ? undefined : [Buffer.from(needle)],
  });
}

/** Writes each partition's blocks `chunk` at a time, as the consumer does. */
export async function writeAll(store: SegmentStore, byPartition: Map<number, IncomingBlock[]>, chunk = 3): Promise<void> {
  for (const [p, blocks] of byPartition) {
    for (let i = 0; i < blocks.length; i += chunk) {
      const part = blocks.slice(i, i + chunk);
      await store.write(p, part, part[part.length - 1]!.offset + 1n);
    }
  }
}

/** Matcher sets that cover every op, empty values and no match. */
export const MATCHER_SETS: CompiledMatcher[][] = [
  [],
  [m('app', '=', 'api')],
  [m('app', '!=', 'api')],
  [m('app', '=~', 'a.*|w.b')],
  [m('app', '!~', 'web|db')],
  [m('env', '=', '')],
  [m('app', '=', 'api'), m('env', '=', 'prod')],
  [m('host', '=~', 'h.+'), m('app', '!=', 'worker')],
  [m('app', '=', 'nope')],
];

/** The store compacted something, nothing failed, and every tenant's entries read back as the model has them. */
export async function expectCompactedWhole(store: SegmentStore, model: Model): Promise<void> {
  expect(store.compactionCounts.compactions).toBeGreaterThan(0);
  expect(store.compactionCounts.failed).toBe(0);
  for (const tenant of ['acme', 'globex']) {
    const all = req({ tenant });
    expect(await collect(store, all)).toEqual(model.expect(all));
  }
}
