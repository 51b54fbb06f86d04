import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kafka } from 'kafkajs';
import type { PartitionHolding } from '../../core/src/announcement';
import { createLogger } from '../../core/src/logger';
import { encodeWriteToken } from '../../core/src/write-token';
import { NodeDirectory } from '../../query/src/directory';
import { Fanout, type FanoutStats, type MergedEntry } from '../../query/src/engine/fanout';

/** A fake storage node on loopback: answers every read with one entry per partition asked, and records what it was asked. */
async function fakeNode(name: string): Promise<{ url: string; asked: URLSearchParams[]; close(): Promise<void> }> {
  const asked: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const params = new URL(req.url!, 'http://x').searchParams;
    asked.push(params);
    const partitions = params.get('partitions')!.split(',').map(Number);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(JSON.stringify({ applied: Object.fromEntries(partitions.map((p) => [p, '44'])) }) + '\n');
    for (const p of partitions) res.write(JSON.stringify({ ts: String(10 + p), sid: '1', p, o: '0', f: 0, i: 0, labels: { app: 'a' }, line: `${name}/${p}` }) + '\n');
    res.end(JSON.stringify({ stats: { entriesScanned: partitions.length, bytesDecompressed: 0 } }) + '\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, close: () => new Promise((r) => server.close(() => r())) };
}

const holding = (partition: number, appliedOffset: number, catchingUp = false): PartitionHolding => ({ partition, appliedOffset: String(appliedOffset), minTs: null, maxTs: null, catchingUp });

describe('query > fan-out > handover', () => {
  const nodes: Awaited<ReturnType<typeof fakeNode>>[] = [];
  afterAll(() => Promise.all(nodes.map((n) => n.close())));

  async function setup(): Promise<{ fanout: Fanout; old: (typeof nodes)[0]; joined: (typeof nodes)[0] }> {
    const [old, joined] = [await fakeNode('old'), await fakeNode('joined')];
    nodes.push(old, joined);
    const directory = new NodeDirectory({ consumer: () => ({}) } as unknown as Kafka, 'silt.nodes', 5000, createLogger('silent'));
    const announce = (nodeId: string, url: string, partitions: PartitionHolding[], released: PartitionHolding[]): void =>
      directory.apply(Buffer.from(nodeId), Buffer.from(JSON.stringify({ version: 1, nodeId, replicaGroup: 0, url, partitions, released, sentAt: Date.now() })));
    // Right after a rebalance: "old" kept partition 0 and released 1 to "joined", which is catching up.
    announce('old', old.url, [holding(0, 44)], [holding(1, 44)]);
    announce('joined', joined.url, [holding(1, 3, true)], []);
    const fanout = new Fanout(directory, { partitions: 2, nodeTimeoutMs: 2000, logger: createLogger('silent'), onFailover: () => undefined, onNodeError: () => undefined });
    return { fanout, old, joined };
  }

  const stats = (): FanoutStats => ({ entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 });
  const read = (fanout: Fanout, token?: string) =>
    fanout.read({ tenant: 't', query: '{app="a"}', start: 0n, end: 100n, direction: 'forward', limit: 10, ...(token ? { token } : {}) }, new AbortController().signal, stats(), new Map());

  it('reads a partition whose new owner is catching up from the node that released it', async () => {
    const { fanout, old, joined } = await setup();
    const got: MergedEntry[] = [];
    for await (const e of read(fanout, encodeWriteToken(new Map([[1, 40n]])))) got.push(e);
    expect(got.map((e) => e.wire.line)).toEqual(['old/0', 'old/1']);
    expect(old.asked.map((q) => q.get('partitions'))).toEqual(['0,1']);
    expect(joined.asked).toEqual([]);
  });

  it('answers 503 rather than read a partition from a node that has not applied the token', async () => {
    const { fanout, old, joined } = await setup();
    expect(() => read(fanout, encodeWriteToken(new Map([[1, 44n]])))).toThrow(expect.objectContaining({ code: 'SILT_NO_REPLICA', status: 503 }));
    expect([...old.asked, ...joined.asked]).toEqual([]);
  });
});
