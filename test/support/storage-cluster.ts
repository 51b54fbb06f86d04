/** A storage cluster under test: storage nodes as processes on their own topics and consumer groups, plus reads of every node's store. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeAnnouncement } from '../../core/src/announcement';
import type { NodeReadEntry } from '../../core/src/node-read';
import { testBrokers, uniqueName } from './kafka';
import { freePort, ServiceProcess } from './processes';

/** One entry as a node's read API returns it. */
export type ReadEntry = NodeReadEntry;

/** Topics, groups and a data dir of one test's cluster, unique so tests can share one broker. */
export class StorageCluster {
  readonly brokers = testBrokers();
  readonly logsTopic = uniqueName('silt.logs');
  readonly nodesTopic = uniqueName('silt.nodes');
  readonly groupPrefix = uniqueName('silt-replica') + '-';
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-storage-e2e-'));
  readonly nodes = new Map<string, ServiceProcess>();

  constructor(
    readonly partitions: number,
    readonly extraEnv: Record<string, string> = {},
    /** Arguments every service of the cluster is started with (`--config <file>`). */
    readonly args: readonly string[] = [],
  ) {}

  /** Environment shared by every service of this cluster. */
  env(): Record<string, string> {
    return {
      SILT_KAFKA_BROKERS: this.brokers.join(','),
      SILT_KAFKA_LOGS_TOPIC: this.logsTopic,
      SILT_KAFKA_NODES_TOPIC: this.nodesTopic,
      SILT_PARTITIONS: String(this.partitions),
      SILT_DATA_DIR: this.dataDir,
      SILT_STORAGE_GROUP_PREFIX: this.groupPrefix,
      SILT_STORAGE_SESSION_TIMEOUT_MS: '6000',
      SILT_STORAGE_ANNOUNCE_INTERVAL_MS: '1000',
      ...this.extraEnv,
    };
  }

  /** Starts (or restarts, with the same id and data) node `id` of replica group `group`. */
  async startNode(id: string, group: number): Promise<ServiceProcess> {
    const previous = this.nodes.get(id);
    const port = previous ? Number(new URL(previous.url).port) : await freePort();
    const node = new ServiceProcess(
      'storage-node',
      { ...this.env(), SILT_STORAGE_NODE_ID: id, SILT_STORAGE_REPLICA_GROUP: String(group), SILT_STORAGE_PORT: String(port), SILT_STORAGE_HOST: '127.0.0.1' },
      `http://127.0.0.1:${port}`,
      this.args,
    );
    this.nodes.set(id, node);
    return node.start();
  }

  /**
   * Starts a query service process on this cluster's topics (`env()` plus a free port on
   * 127.0.0.1; `args`, the cluster's by default) and waits until its /readyz answers 200. The caller stops it.
   */
  async startQuery(extraEnv: Record<string, string> = {}, args: readonly string[] = this.args): Promise<ServiceProcess> {
    const port = await freePort();
    const query = new ServiceProcess('query', { ...this.env(), SILT_QUERY_PORT: String(port), SILT_QUERY_HOST: '127.0.0.1', ...extraEnv }, `http://127.0.0.1:${port}`, args);
    return query.start();
  }

  /**
   * Starts an ingest service process on this cluster's topics (syslog off, a free port on
   * 127.0.0.1) and waits until its /readyz answers 200. The caller stops it.
   */
  async startIngest(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const env = { ...this.env(), SILT_INGEST_PORT: String(port), SILT_INGEST_HOST: '127.0.0.1', SILT_INGEST_SYSLOG_ENABLED: 'false', ...extraEnv };
    return new ServiceProcess('ingest', env, `http://127.0.0.1:${port}`, this.args).start();
  }

  /** The live nodes' own view of what they hold. */
  async states(): Promise<NodeAnnouncement[]> {
    const live = [...this.nodes.values()].filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);
    return Promise.all(live.map((n) => fetch(n.url + '/internal/v1/state').then((r) => r.json() as Promise<NodeAnnouncement>)));
  }

  /**
   * True when, in every group given, live nodes own every partition exactly once, none is catching
   * up, and every live node owns a share (so a node that has not joined its group yet is not missed).
   */
  async stable(groups: number[]): Promise<boolean> {
    const states = await this.states().catch(() => null);
    if (!states) return false;
    return groups.every((g) => {
      const members = states.filter((s) => s.replicaGroup === g);
      if (members.length <= this.partitions && members.some((s) => s.partitions.length === 0)) return false;
      const owned = members.flatMap((s) => s.partitions);
      const ids = owned.map((p) => p.partition).sort((a, b) => a - b);
      return ids.length === this.partitions && ids.every((p, i) => p === i) && owned.every((p) => !p.catchingUp);
    });
  }

  /**
   * Reads everything a node holds for `tenant`, after it applied `token`; returns null when the node
   * answers 504 (not applied yet) or 409 (assignment moved), so callers retry.
   */
  async readNode(nodeId: string, tenant: string, token?: string): Promise<ReadEntry[] | null> {
    const node = this.nodes.get(nodeId)!;
    const params = new URLSearchParams({ query: '{app=~".+"}', start: '0', end: String(BigInt(Date.now() + 86400000) * 1_000_000n), direction: 'forward', limit: '1000000' });
    if (token) params.set('token', token);
    const res = await fetch(`${node.url}/internal/v1/read?${params}`, { headers: { 'X-Scope-OrgID': tenant } });
    if (res.status === 504 || res.status === 409) return null;
    const text = await res.text();
    if (res.status !== 200) throw new Error(`read ${nodeId}: ${res.status} ${text}`);
    const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    const last = lines[lines.length - 1];
    if (!last?.stats) throw new Error(`read ${nodeId} did not finish: ${JSON.stringify(last)}`);
    return lines.slice(1, -1) as ReadEntry[];
  }

  /** Stops every node (SIGKILL if they do not stop) and removes the data. */
  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop('SIGKILL')));
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
