/**
 * A whole small cluster for protocol compatibility tests: ingest in this process (so a test can
 * reach its syslog listeners and metrics), one storage node and one query service as processes, on
 * topics of their own; plus reading everything a tenant stored back through `GET /api/v1/query`.
 */
import type { DeepPartial, IngestSettings } from '../../core/src/config';
import { startIngest, type IngestUnderTest } from './ingest-harness';
import { waitFor, type ServiceProcess } from './processes';
import { QueryClient, type QueryEntry } from './query-client';
import { StorageCluster } from './storage-cluster';

/** A running compat cluster; `close()` stops it all. */
export class CompatCluster {
  private constructor(
    readonly storage: StorageCluster,
    readonly ingest: IngestUnderTest,
    readonly queryService: ServiceProcess,
    readonly query: QueryClient,
  ) {}

  /** Starts ingest (with `ingest` settings), a storage node and a query service on `partitions` partitions. */
  static async start(options: { ingest?: DeepPartial<IngestSettings>; partitions?: number } = {}): Promise<CompatCluster> {
    const storage = new StorageCluster(options.partitions ?? 2);
    const ingest = await startIngest({
      kafka: { logsTopic: storage.logsTopic, nodesTopic: storage.nodesTopic, partitions: storage.partitions },
      ingest: options.ingest ?? {},
    });
    try {
      await storage.startNode('n0', 0);
      const queryService = await storage.startQuery();
      return new CompatCluster(storage, ingest, queryService, new QueryClient(queryService.url));
    } catch (err) {
      await ingest.service.stop();
      await storage.close();
      throw err;
    }
  }

  /** The ingest service's base URL (http://127.0.0.1:port). */
  get ingestUrl(): string {
    return this.ingest.url;
  }

  /** Every entry of `tenant` matching `query` in the last day (and the next hour), oldest first, paged to the end. */
  async readAll(query: string, tenant?: string): Promise<QueryEntry[]> {
    const now = BigInt(Date.now()) * 1_000_000n;
    const day = 86_400_000_000_000n;
    const { entries } = await this.query.queryAll({ query, start: now - day, end: now + day / 24n, direction: 'forward', limit: 5000 }, tenant);
    return entries;
  }

  /**
   * Waits until `query` finds at least `count` entries for `tenant`, then reads once more after a
   * pause so late duplicates would show, and returns that last read.
   */
  async waitForEntries(query: string, count: number, tenant?: string, timeoutMs = 60000): Promise<QueryEntry[]> {
    let seen = 0;
    await waitFor(
      `${count} entries of ${query} (seen ${seen})`,
      async () => {
        seen = (await this.readAll(query, tenant)).length;
        return seen >= count;
      },
      timeoutMs,
      300,
    );
    await new Promise((r) => setTimeout(r, 500));
    return this.readAll(query, tenant);
  }

  /** Stops ingest, the query service and the storage node, and removes the data. */
  async close(): Promise<void> {
    await this.ingest.service.stop();
    await this.queryService.stop();
    await this.storage.close();
  }
}
