/**
 * Per-tenant retention in the segment store on real LevelDB: segments held by one tenant past its
 * cutoff leave the disk whole, a tenant's part of a segment shared with others goes alone, frames
 * wholly past the cutoff go one by one where a segment straddles it, and nothing of another tenant,
 * nor anything written after, is touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BlockEntry } from '../../core/src/block-format';
import { SegmentStore } from '../../storage-node/src/store';
import { rng } from '../support/rng';
import { T0, freshDir, options, Model, collect, req, randomBlocks, writeAll } from '../support/segment-model';

/** Directories holding a LevelDB under `dir`: the store's segments. */
function segmentCount(dir: string): number {
  let n = 0;
  for (const part of fs.readdirSync(dir)) {
    const p = path.join(dir, part);
    if (!fs.statSync(p).isDirectory()) continue;
    for (const seg of fs.readdirSync(p)) if (fs.existsSync(path.join(p, seg, 'CURRENT'))) n++;
  }
  return n;
}

const all = (tenant: string) => req({ tenant, direction: 'forward', limit: 1_000_000 });

describe('storage node > segment store > per-tenant retention', () => {
  const model = new Model();
  const dir = freshDir();
  let store: SegmentStore;
  // Offsets 0–39 of partition 0 hold only tenant "old"; the rest, acme and globex (randomBlocks).
  const OLD_BLOCKS = 40;
  const ACME_CUTOFF = T0 + 900n;

  beforeAll(async () => {
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 4000, maxOpenSegments: 64, compactionIdleMs: 0 }));
    const old = [];
    for (let o = 0; o < OLD_BLOCKS; o++) {
      const entries: BlockEntry[] = Array.from({ length: 6 }, (_, j) => ({ ts: T0 - 100_000n + BigInt(o * 10 + j), line: `old ${o} ${j} ${'x'.repeat(40)}` }));
      old.push(model.block(0, BigInt(o), 'old', [{ labels: { app: 'old' }, entries }]));
    }
    await writeAll(store, new Map([[0, old]]));
    const rest = randomBlocks(model, rng(91), [0, 1], 160, 0n, 6);
    rest.set(0, rest.get(0)!.map((b) => ({ ...b, offset: b.offset + BigInt(OLD_BLOCKS) })));
    // The model numbered partition 0's blocks from 0: move its entries along with the blocks.
    for (const e of model.entries) if (e.partition === 0 && e.tenant !== 'old') e.offset += BigInt(OLD_BLOCKS);
    await writeAll(store, rest);
    await store.compactionsSettled();
  });
  afterAll(async () => {
    await store.close();
  });

  it('without a retention of its own, nothing moves', async () => {
    const before = segmentCount(dir);
    expect(await store.dropTenantsBefore(() => 0n)).toEqual({ segments: 0, tenantParts: 0, frames: 0 });
    expect(segmentCount(dir)).toBe(before);
    for (const t of ['old', 'acme', 'globex']) expect(await collect(store, all(t))).toEqual(model.expect(all(t)));
  });

  it('removes the segments only a tenant past its cutoff held, its frames past the cutoff elsewhere, and keeps every other entry', async () => {
    const before = segmentCount(dir);
    const counts = await store.dropTenantsBefore((t) => (t === 'old' ? T0 : t === 'acme' ? ACME_CUTOFF : 0n));
    expect(counts.segments).toBeGreaterThan(0);
    expect(counts.tenantParts).toBeGreaterThan(0);
    expect(counts.frames).toBeGreaterThan(0);
    expect(segmentCount(dir)).toBeLessThanOrEqual(before - counts.segments);
    expect(await collect(store, all('old'))).toEqual([]);
    // Every acme entry at or after the cutoff is there; of those before it, only what shares a frame with a later one.
    const acme = await collect(store, all('acme'));
    const expected = model.expect(all('acme'));
    const kept = expected.filter((e) => e.ts >= ACME_CUTOFF);
    expect(acme.filter((e) => e.ts >= ACME_CUTOFF)).toEqual(kept);
    const older = acme.filter((e) => e.ts < ACME_CUTOFF);
    expect(older.length).toBeLessThan(expected.length - kept.length);
    expect(older).toEqual(expected.filter((e) => older.some((o) => o.offset === e.offset && o.partition === e.partition && o.streamId === e.streamId && o.index === e.index && o.frame === e.frame)));
    expect(await collect(store, all('globex'))).toEqual(model.expect(all('globex')));
  });

  it('keeps taking writes after a sweep, and reopens to the same answers', async () => {
    const more = [];
    for (let o = 160; o < 170; o++) more.push(model.block(1, BigInt(o), 'acme', [{ labels: { app: 'web', env: 'prod' }, entries: [{ ts: T0 + 5000n + BigInt(o), line: `late ${o}` }] }]));
    await writeAll(store, new Map([[1, more]]));
    const acme = await collect(store, all('acme'));
    expect(acme.filter((e) => e.line.startsWith('late '))).toHaveLength(10);
    await store.close();
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 4000, maxOpenSegments: 64, compactionIdleMs: 0 }));
    expect(await collect(store, all('acme'))).toEqual(acme);
    expect(await collect(store, all('globex'))).toEqual(model.expect(all('globex')));
    expect(await collect(store, all('old'))).toEqual([]);
  });
});
