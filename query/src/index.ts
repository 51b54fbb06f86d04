/** The query service: follows the node directory, fans reads out to one replica per partition, merges them, evaluates LogQL, and serves Silt's and Loki's read APIs and tails. */
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import type { Admin } from 'kafkajs';
import type { FastifyRequest } from 'fastify';
import { ReadableFrom, type KafkaConfig, type QuerySettings } from '../../core/src/config';
import { installErrorHandling, installHealthRoutes, tenantOf, baseServerOptions } from '../../core/src/http';
import type { SiltService } from '../../core/src/service-main';
import { createKafka, ensureTopics } from '../../core/src/kafka';
import { createLogger, type LogLevel, type Logger } from '../../core/src/logger';
import { createRegistry } from '../../core/src/metrics';
import { loadPlugins, tenancyOf, type PluginSettings } from '../../core/src/plugins';
import { NodeDirectory } from './directory';
import { Fanout } from './engine/fanout';
import { createQueryMetrics } from './metrics';
import { installQueryHooks } from './plugin-queries';
import { installLokiRoutes } from './routes/loki';
import { installLokiTailRoute } from './routes/loki-tail';
import { installNativeRoutes } from './routes/native';
import { installWebRoutes, webDirOf } from './web-routes';
import { queryCaches } from './cache';
import { TailEngine } from './tail';
import { tenantQuerySettings } from './tenant-settings';
import { installTailRoutes, TAIL_WEBSOCKET_OPTIONS } from './tail-routes';

/** What the query service needs of the configuration. */
export interface QueryConfig extends PluginSettings {
  logLevel: LogLevel;
  kafka: KafkaConfig;
  query: QuerySettings;
}

/** How long `/internal/v1/directory` waits for the topic's end offsets before it answers without them. */
const DIRECTORY_KAFKA_WAIT_MS = 2000;

/** A built query service; `stop` ends tails first, so the server can close. */
export type QueryService = SiltService;


/** Builds the query service from a validated configuration. */
export function build(config: QueryConfig, options: { logger?: Logger } = {}): QueryService {
  const s = config.query;
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'query' });
  const registry = createRegistry('query');
  const plugins = loadPlugins('query', config, logger, registry);
  const perTenant = tenantQuerySettings(s, tenancyOf(config).limits);
  const settingsOf = (request: FastifyRequest): QuerySettings => perTenant.of(tenantOf(request));
  const kafka = createKafka(config.kafka, `${config.kafka.clientId}-query`, logger);
  const directory = new NodeDirectory(kafka, config.kafka.nodesTopic, s.staleNodeMs, logger);
  const tails = new TailEngine({
    kafka,
    topic: config.kafka.logsTopic,
    groupPrefix: 'silt-tail-',
    maxWaitTimeMs: s.tailMaxWaitMs,
    maxBufferedEntries: s.maxTailBufferedEntries,
    maxTails: s.maxTails,
    logger,
  });
  const metrics = createQueryMetrics(registry, () => tails.size());
  const fanout = new Fanout(directory, {
    partitions: config.kafka.partitions,
    nodeTimeoutMs: s.nodeTimeoutMs,
    logger,
    onFailover: () => metrics.failovers.inc(),
    onNodeError: () => metrics.fanoutErrors.inc(),
    clusterSecret: tenancyOf(config).auth.clusterSecret,
  });
  const cacheSettings = tenancyOf(config).cache;
  const readable = new ReadableFrom(tenancyOf(config).limits);
  const caches = cacheSettings.enabled ? queryCaches(cacheSettings, fanout, registry, (tenant) => readable.of(tenant)) : undefined;
  const app = Fastify({ ...baseServerOptions(['match', 'match[]']), forceCloseConnections: 'idle' });
  let admin: Admin | null = null;
  let started = false;

  const ready = (): boolean => started && directory.covers(config.kafka.partitions);

  installErrorHandling(app, logger);
  installHealthRoutes(app, registry, ready);
  plugins.install(app);
  installQueryHooks(app, plugins, tenantOf);
  // What this query process believes each storage node holds: the first thing to look at when a read
  // fails over; with the topic's ends, when Kafka answers within a moment, each holder's lag.
  installWebRoutes(app, webDirOf(s.webDir));
  app.get('/internal/v1/directory', async () => {
    const ends = await Promise.race([tails.topicEnds(), new Promise<null>((resolve) => setTimeout(resolve, DIRECTORY_KAFKA_WAIT_MS, null).unref())]).catch(() => null);
    return { nodes: directory.live(), ...(ends === null ? {} : { topicEnds: Object.fromEntries([...ends].map(([p, o]) => [String(p), o.toString()])) }) };
  });
  void app.register(websocket, TAIL_WEBSOCKET_OPTIONS);
  void app.register(async (scoped) => {
    installNativeRoutes(scoped, { settingsOf, fanout, metrics, tenantOf });
    installTailRoutes(scoped, tails, { tenantOf });
    installLokiRoutes(scoped, { settingsOf, fanout, metrics, logger, tenantOf, ready, ...(caches ? { caches } : {}) });
    installLokiTailRoute(scoped, { tails, fanout, settingsOf, logger, tenantOf });
  });

  return {
    app,
    registry,
    async start() {
      admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, config.kafka);
      await directory.start();
      const address = await app.listen({ host: s.host, port: s.port });
      started = true;
      logger.info('query listening', { address });
      return address;
    },
    async stop() {
      started = false;
      await tails.close();
      await app.close();
      await directory.stop();
      await admin?.disconnect();
      await plugins.close();
    },
    reload: (next) => {
      perTenant.replace(next.limits);
      readable.replace(next.limits);
      plugins.reload(next);
    },
  };
}
