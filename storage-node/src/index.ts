/** The storage node: consumes its replica group's share of `silt.logs` into LevelDB segments and serves reads. */
import path from 'node:path';
import Fastify from 'fastify';
import type { Admin } from 'kafkajs';
import type { NodeAnnouncement, PartitionHolding } from '../../core/src/announcement';
import type { KafkaConfig, StorageSettings } from '../../core/src/config';
import { SiltError } from '../../core/src/errors';
import { installErrorHandling, installHealthRoutes, baseServerOptions } from '../../core/src/http';
import type { SiltService } from '../../core/src/service-main';
import { alignLogsRetention, createKafka, ensureTopics } from '../../core/src/kafka';
import { createLogger, type LogLevel, type Logger } from '../../core/src/logger';
import { createRegistry } from '../../core/src/metrics';
import { ReadableFrom } from '../../core/src/config/tenancy';
import { loadPlugins, tenancyOf, type PluginSettings } from '../../core/src/plugins';
import { AnnouncedNodes } from '../../core/src/node-directory';
import { nowNs } from '../../core/src/time';
import type { WriteOffsets } from '../../core/src/write-token';
import { Announcer } from '../../core/src/announcer';
import { ReplicaConsumer } from './consumer';
import { createStorageMetrics } from './metrics';
import { installAggregateApi } from './aggregate-api';
import { installReadApi } from './read-api';
import { createRebuildMetrics } from './rebuild/metrics';
import { Rebuilder } from './rebuild/rebuilder';
import { installTransferApi } from './rebuild/transfer-api';
import { SegmentStore } from './store';

/** What a storage node needs of the configuration. */
export interface StorageNodeConfig extends PluginSettings {
  dataDir: string;
  logLevel: LogLevel;
  kafka: KafkaConfig;
  storage: StorageSettings;
}

/** A built storage node; `stop` leaves the group, announces a tombstone and closes the store. */
export interface StorageNode extends SiltService {
  nodeId: string;
}

/** The node id, derived from the replica group and port when not configured. */
export function nodeIdOf(s: StorageSettings): string {
  return s.nodeId !== '' ? s.nodeId : `node-r${s.replicaGroup}-${s.port}`;
}

/** Builds a storage node from a validated configuration. */
export function build(config: StorageNodeConfig, options: { logger?: Logger } = {}): StorageNode {
  const s = config.storage;
  const nodeId = nodeIdOf(s);
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'storage-node', nodeId });
  const registry = createRegistry('storage');
  const tenancy = tenancyOf(config);
  const plugins = loadPlugins('storage', config, logger, registry);
  const readable = new ReadableFrom(tenancy.limits);
  const app = Fastify({ ...baseServerOptions(['match']), forceCloseConnections: true });
  let store: SegmentStore | null = null;
  let consumer: ReplicaConsumer | null = null;
  let announcer: Announcer | null = null;
  let directory: AnnouncedNodes | null = null;
  let rebuilder: Rebuilder | null = null;
  let admin: Admin | null = null;
  let url = s.advertiseUrl;
  let ready = false;
  const appliedWaiters = new Set<() => void>();

  const metrics = createStorageMetrics(registry, {
    owned: () => consumer?.partitions() ?? [],
    stored: () => store?.partitions() ?? [],
    state: (p) => store!.state(p),
    highWatermark: (p) => consumer?.highWatermark(p),
    framesScannedOnThreads: () => store?.framesScannedOnThreads() ?? 0,
    headsCachedBytes: () => store?.headsCachedBytes() ?? 0,
    framesCached: () => store?.framesCached() ?? { bytes: 0, hits: 0, misses: 0 },
    compactions: () => ({ queued: store?.compactionsQueued() ?? 0, pending: store?.smallFramesPending() ?? 0, ...(store?.compactionCounts ?? { compactions: 0, frames: 0, failed: 0 }) }),
  });
  const rebuildMetrics = createRebuildMetrics(registry);

  const snapshot = (): NodeAnnouncement => ({
    version: 1,
    nodeId,
    replicaGroup: s.replicaGroup,
    url,
    partitions: (consumer?.partitions() ?? []).map((p) => holding(p, consumer!.catchingUp(p))),
    released: released().map((p) => holding(p, false)),
    sentAt: Date.now(),
  });
  const holding = (p: number, catchingUp: boolean): PartitionHolding => {
    const st = store!.state(p);
    return { partition: p, appliedOffset: st.appliedOffset.toString(), minTs: st.minTs?.toString() ?? null, maxTs: st.maxTs?.toString() ?? null, catchingUp };
  };
  /** Partitions with stored data that another node owns now: still served, so a handover leaves no gap. */
  const released = (): number[] => {
    const owned = new Set(consumer?.partitions() ?? []);
    return (store?.partitions() ?? []).filter((p) => !owned.has(p) && store!.applied(p) > 0n);
  };

  const waitForOffsets = (offsets: WriteOffsets): Promise<void> => {
    const met = (): boolean => [...offsets].every(([p, o]) => store!.applied(p) > o);
    if (met()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!met()) return;
        appliedWaiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        appliedWaiters.delete(check);
        reject(new SiltError('SILT_TOKEN_TIMEOUT', 504, true, `this node did not apply the write token within ${s.tokenWaitMs} ms`));
      }, s.tokenWaitMs);
      appliedWaiters.add(check);
    });
  };

  let retentionTimer: NodeJS.Timeout | null = null;
  // Retention removes whole segments; a tenant's own (limits retentionHours) its part of them. Kafka
  // keeps the data for kafka.logsRetentionMs, often far less than this: beyond it the replica groups
  // are the copies (docs/STORAGE.md, "Kafka retention").
  const runRetention = async (): Promise<void> => {
    try {
      const removed = await store!.dropBefore(nowNs() - BigInt(s.retentionMs) * 1_000_000n);
      if (removed > 0) logger.info('retention removed segments', { removed });
      if (readable.bounded()) {
        const now = nowNs();
        const tenants = await store!.dropTenantsBefore((tenant) => readable.of(tenant, now));
        metrics.tenantRetentionRemoved.inc({ removed: 'segments' }, tenants.segments);
        metrics.tenantRetentionRemoved.inc({ removed: 'tenant_parts' }, tenants.tenantParts);
        metrics.tenantRetentionRemoved.inc({ removed: 'frames' }, tenants.frames);
        if (tenants.segments + tenants.tenantParts + tenants.frames > 0) logger.info('per-tenant retention removed data', { ...tenants });
      }
    } catch (err) {
      logger.error('retention failed', { err: String(err) });
    }
  };

  installErrorHandling(app, logger);
  installHealthRoutes(app, registry, () => ready);
  plugins.install(app);
  app.get('/internal/v1/state', async () => snapshot());

  return {
    app,
    registry,
    nodeId,
    async start() {
      store = await SegmentStore.open({
        dir: path.resolve(config.dataDir, 'storage', nodeId),
        maxSegmentBytes: s.maxSegmentBytes,
        maxSegmentAgeMs: s.maxSegmentAgeMs,
        maxOpenSegments: s.maxOpenSegments,
        scanThreads: s.scanThreads,
        headCacheBytes: s.headCacheBytes,
        frameCacheBytes: s.frameCacheBytes,
      });
      const openedStore = store;
      const readDeps = {
        store: openedStore,
        owned: () => consumer?.partitions() ?? [],
        released,
        waitForOffsets,
        onRead: (status: number, seconds: number) => {
          metrics.readRequests.inc({ status: String(status) });
          metrics.readLatency.observe(seconds);
        },
        readableFrom: (tenant: string) => readable.of(tenant),
      };
      installReadApi(app, readDeps);
      installAggregateApi(app, readDeps, (entries, bytes) => {
        metrics.aggregateEntries.inc(entries);
        metrics.aggregateBytes.inc(bytes);
      });
      installTransferApi(app, openedStore, rebuildMetrics);
      const address = await app.listen({ host: s.host, port: s.port });
      if (url === '') url = `http://127.0.0.1:${new URL(address).port}`;
      const kafka = createKafka(config.kafka, `${config.kafka.clientId}-${nodeId}`, logger);
      admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, config.kafka);
      // The window Kafka keeps follows kafka.logsRetentionMs on existing topics too (docs/STORAGE.md, "Kafka retention").
      const changed = await alignLogsRetention(admin, config.kafka).catch((err: unknown) => {
        logger.warn(`could not set the retention of topic ${config.kafka.logsTopic}`, { err: String(err) });
        return [];
      });
      for (const c of changed) logger.info(`set ${c.name} of topic ${config.kafka.logsTopic}`, { from: c.from, to: c.to });
      announcer = new Announcer(kafka, config.kafka.nodesTopic, nodeId, s.announceIntervalMs, snapshot, logger);
      directory = new AnnouncedNodes(kafka, config.kafka.nodesTopic, `silt-storage-${nodeId}`, logger);
      const onAdopted = (): void => {
        for (const w of [...appliedWaiters]) w();
        void announcer?.announce();
      };
      rebuilder = new Rebuilder(
        openedStore,
        directory,
        admin,
        // A peer announces every interval: three missed announcements and it is not trusted to be up.
        { nodeId, replicaGroup: s.replicaGroup, topic: config.kafka.logsTopic, freshMs: 3 * s.announceIntervalMs + 1000, clusterSecret: tenancy.auth.clusterSecret },
        rebuildMetrics,
        onAdopted,
        logger,
      );
      consumer = new ReplicaConsumer(
        kafka,
        admin,
        openedStore,
        {
          topic: config.kafka.logsTopic,
          groupId: `${s.groupPrefix}${s.replicaGroup}`,
          sessionTimeoutMs: s.sessionTimeoutMs,
          heartbeatIntervalMs: s.heartbeatIntervalMs,
          maxWaitTimeMs: s.maxWaitTimeMs,
          maxBytesPerPartition: s.maxBytesPerPartition,
        },
        rebuilder,
        {
          onAssignment: () => void announcer?.announce(),
          onApplied: (_p, result, seconds) => {
            metrics.applyLatency.observe(seconds);
            metrics.entriesStored.inc(result.entries);
            if (result.corrupt > 0) metrics.corruptBlocks.inc(result.corrupt);
            for (const w of [...appliedWaiters]) w();
          },
        },
        logger,
      );
      await directory.start();
      await announcer.start();
      await consumer.start();
      retentionTimer = setInterval(() => void runRetention(), s.retentionCheckMs);
      ready = true;
      logger.info('storage node started', { address, url, replicaGroup: s.replicaGroup });
      return address;
    },
    async stop() {
      ready = false;
      if (retentionTimer) clearInterval(retentionTimer);
      await app.close();
      await consumer?.stop();
      await rebuilder?.stop();
      await directory?.stop();
      await announcer?.stop();
      await admin?.disconnect();
      await store?.close();
      await plugins.close();
    },
    reload: (next) => {
      readable.replace(next.limits);
      plugins.reload(next);
    },
  };

}
