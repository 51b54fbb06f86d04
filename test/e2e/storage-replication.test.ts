import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets, type WriteOffsets } from '../../core/src/write-token';
import { loadCorpus } from '../support/corpus';
import { post, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { waitFor } from '../support/processes';
import { StorageCluster, type ReadEntry } from '../support/storage-cluster';

const PARTITIONS = 8;
const TENANTS = ['acme', 'globex'];
const corpus = loadCorpus();

/** Everything pushed and acknowledged, by tenant, and the merged write token of all pushes. */
class Ledger {
  readonly expected = new Map<string, string[]>(TENANTS.map((t) => [t, []]));
  readonly token: WriteOffsets = new Map();
  private clock = BigInt(Date.now() - 3600_000) * 1_000_000n;

  /** Pushes `count` lines of each stream starting at `from`, each with a fresh, increasing timestamp; only 200s count. */
  async push(ingest: IngestUnderTest, from: number, count: number): Promise<void> {
    const byTenant = new Map<string, { labels: Record<string, string>; entries: { ts: string; line: string }[] }[]>();
    corpus.forEach((s, i) => {
      const tenant = TENANTS[i % TENANTS.length]!;
      const entries = [];
      for (let k = from; k < from + count; k++) {
        this.clock += 1000n;
        entries.push({ ts: this.clock.toString(), line: s.lines[k % s.lines.length]! });
      }
      byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), { labels: { app: s.app }, entries }]);
    });
    for (const [tenant, streams] of byTenant) {
      const res = await post(ingest.url, '/api/v1/push', JSON.stringify({ streams }), { 'Content-Type': 'application/json', 'X-Scope-OrgID': tenant });
      if (res.status !== 200) throw new Error(`push answered ${res.status}: ${JSON.stringify(res.json)}`);
      mergeWriteOffsets(this.token, decodeWriteToken(res.json.token as string));
      for (const s of streams) for (const e of s.entries) this.expected.get(tenant)!.push(`${s.labels.app}|${e.ts}|${e.line}`);
    }
  }
}

/** Reads every live node of `group` and checks each acknowledged entry is there exactly once, each stream in push order. */
async function expectExactlyOnce(cluster: StorageCluster, group: number, ledger: Ledger): Promise<void> {
  const token = encodeWriteToken(ledger.token);
  let got: Map<string, ReadEntry[]> | null = null;
  await waitFor(
    `group ${group} to be stable and to hold the token`,
    async () => {
      if (!(await cluster.stable([group]))) return false;
      const states = (await cluster.states()).filter((s) => s.replicaGroup === group);
      const result = new Map<string, ReadEntry[]>(TENANTS.map((t) => [t, []]));
      for (const s of states) {
        for (const tenant of TENANTS) {
          const entries = await cluster.readNode(s.nodeId, tenant, token);
          if (entries === null) return false;
          result.get(tenant)!.push(...entries);
        }
      }
      got = result;
      return true;
    },
    120000,
    500,
  );
  for (const tenant of TENANTS) {
    const entries = got!.get(tenant)!;
    const keys = entries.map((e) => `${e.labels.app}|${e.ts}|${e.line}`);
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    const duplicates = [...counts].filter(([, n]) => n > 1);
    expect(duplicates.slice(0, 5)).toEqual([]);
    const expected = ledger.expected.get(tenant)!;
    const missing = expected.filter((k) => !counts.has(k));
    expect(missing.slice(0, 5)).toEqual([]);
    expect(keys.length).toBe(expected.length);
    const byApp = new Map<string, string[]>();
    for (const e of entries) byApp.set(e.labels.app!, [...(byApp.get(e.labels.app!) ?? []), `${e.labels.app}|${e.ts}|${e.line}`]);
    for (const [app, seq] of byApp) expect(seq).toEqual(expected.filter((k) => k.startsWith(`${app}|`)));
  }
}

function storedSinceStart(metrics: string): number {
  const m = /^silt_storage_entries_stored_total (\d+)/m.exec(metrics);
  return m ? Number(m[1]) : NaN;
}

describe('storage node > replication', () => {
  const cluster = new StorageCluster(PARTITIONS);
  const ledger = new Ledger();
  let ingest: IngestUnderTest;

  beforeAll(async () => {
    ingest = await startIngest({ kafka: { logsTopic: cluster.logsTopic, nodesTopic: cluster.nodesTopic, partitions: PARTITIONS } });
    await Promise.all([cluster.startNode('n00', 0), cluster.startNode('n01', 0), cluster.startNode('n10', 1), cluster.startNode('n11', 1)]);
  }, 180000);

  afterAll(async () => {
    await ingest?.service.stop();
    await cluster.close();
  }, 60000);

  it('holds every acknowledged Loghub entry exactly once in each of 2 replica groups of 2 nodes, in stream order', async () => {
    for (let from = 0; from < 2000; from += 500) await ledger.push(ingest, from, 500);
    await expectExactlyOnce(cluster, 0, ledger);
    await expectExactlyOnce(cluster, 1, ledger);
  }, 240000);

  it('stays exactly once through kill -9 of a node in the middle of a sustained push, and its restart', async () => {
    let pushing = true;
    let from = 0;
    const pusher = (async () => {
      while (pushing) {
        await ledger.push(ingest, from, 20);
        from += 20;
      }
    })();
    await new Promise((r) => setTimeout(r, 2000));
    await cluster.nodes.get('n00')!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    await cluster.startNode('n00', 0);
    await new Promise((r) => setTimeout(r, 3000));
    pushing = false;
    await pusher;
    await expectExactlyOnce(cluster, 0, ledger);
    await expectExactlyOnce(cluster, 1, ledger);
  }, 240000);

  it('moves the partitions of a node stopped for good to the other node of its group, which backfills them', async () => {
    const before = (await cluster.states()).find((s) => s.nodeId === 'n10')!.partitions.map((p) => p.partition);
    expect(before.length).toBeLessThan(PARTITIONS);
    await cluster.nodes.get('n11')!.stop('SIGTERM');
    await ledger.push(ingest, 0, 50);
    await waitFor('n10 to own every partition', async () => (await cluster.states()).find((s) => s.nodeId === 'n10')!.partitions.length === PARTITIONS, 60000);
    await expectExactlyOnce(cluster, 1, ledger);
  }, 240000);

  it('does not re-apply old blocks when a node restarts with its data dir intact', async () => {
    await expectExactlyOnce(cluster, 1, ledger);
    const n10 = cluster.nodes.get('n10')!;
    await n10.stop('SIGTERM');
    await cluster.startNode('n10', 1);
    await waitFor('n10 to be stable', () => cluster.stable([1]), 60000);
    await expectExactlyOnce(cluster, 1, ledger);
    const metrics = await fetch(n10.url + '/metrics').then((r) => r.text());
    expect(storedSinceStart(metrics)).toBe(0);
  }, 240000);
});
