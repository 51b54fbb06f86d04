/** The ingest service: accepts pushes in every shipper's protocol, validates them, batches them into blocks and makes them durable in Kafka. */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { Gauge } from 'prom-client';
import type { Admin, Kafka } from 'kafkajs';
import { INGEST_KEY_PREFIX, type IngestAnnouncement } from '../../core/src/announcement';
import { Announcer } from '../../core/src/announcer';
import type { IngestSettings, KafkaConfig } from '../../core/src/config';
import { UnavailableError } from '../../core/src/errors';
import { baseServerOptions, installErrorHandling, installHealthRoutes, toSiltError } from '../../core/src/http';
import type { SiltService } from '../../core/src/service-main';
import { createKafka, ensureTopics } from '../../core/src/kafka';
import { createLogger, type LogLevel, type Logger } from '../../core/src/logger';
import { createRegistry } from '../../core/src/metrics';
import { AnnouncedNodes } from '../../core/src/node-directory';
import { loadPlugins, tenancyOf, type PluginSettings } from '../../core/src/plugins';
import { Distributor } from './distributor';
import { createIngestMetrics } from './metrics';
import { createBlockProducer, type BlockProducer } from './producer';
import type { PushLimits } from './push/builder';
import { tenantPushLimits } from './push/tenant-limits';
import type { IngestContext } from './routes/context';
import { registerElasticRoutes } from './routes/elastic';
import { registerLokiRoutes } from './routes/loki';
import { registerNativeRoutes } from './routes/native';
import { registerOtlpRoutes } from './routes/otlp';
import { SyslogListeners, type SyslogAddresses } from './syslog/listener';

/** What the ingest service needs of the configuration. */
export interface IngestConfig extends PluginSettings {
  logLevel: LogLevel;
  kafka: KafkaConfig;
  ingest: IngestSettings;
}

/** A built ingest service; `stop` flushes what Kafka can still take. */
export interface IngestService extends SiltService {
  /** Where the syslog listeners are bound once started (all null when they are off). */
  syslogAddresses(): SyslogAddresses;
}

/** Builds the ingest service from a validated configuration. */
export function build(config: IngestConfig, options: { logger?: Logger } = {}): IngestService {
  const s = config.ingest;
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'ingest' });
  const registry = createRegistry('ingest');
  const metrics = createIngestMetrics(registry);
  const app = Fastify({ ...baseServerOptions(), bodyLimit: s.bodyLimitBytes, forceCloseConnections: 'idle' });

  let kafka: Kafka | null = null;
  let admin: Admin | null = null;
  let producer: BlockProducer | null = null;
  let ready = false;
  let peers: AnnouncedNodes | null = null;
  let announcer: Announcer | null = null;
  const processId = `${INGEST_KEY_PREFIX}${randomBytes(6).toString('hex')}`;
  // Three missed announcements and a process no longer counts; until the first are read, this one is alone.
  const liveIngest = (): number => peers?.liveIngest(3 * s.announceIntervalMs + 1000) ?? 1;
  const plugins = loadPlugins('ingest', config, logger, registry, liveIngest);
  new Gauge({
    name: 'silt_ingest_live_processes',
    help: 'Ingest processes this one sees alive (announced on the nodes topic), itself included: each takes 1/n of a tenant rate',
    registers: [registry],
    collect() {
      this.set(liveIngest());
    },
  });
  const limits = tenantPushLimits(s, tenancyOf(config).limits);
  const limitsFor = (tenant: string): PushLimits => limits.of(tenant);
  const distributor = new Distributor(
    s,
    config.kafka.partitions,
    {
      send: (blocks) => {
        if (!producer) return Promise.reject(new UnavailableError('Kafka producer not connected', s.retryAfterSeconds));
        return producer.send(blocks);
      },
    },
    metrics,
    { hooks: plugins, limitsFor },
  );
  const ctx: IngestContext = { distributor, limitsFor, settings: s, metrics, logger };
  const syslog = new SyslogListeners(ctx, tenancyOf(config).auth.enabled);

  installErrorHandling(app, logger);
  installHealthRoutes(app, registry, () => ready);
  plugins.install(app);
  // Every body arrives as raw bytes: each protocol decodes encodings and content types itself, with its own limits and errors.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // Whole-request refusals count as rejections by reason, whichever protocol's dialect answers them.
  app.addHook('onError', async (_request, _reply, err) => {
    const silt = toSiltError(err);
    if (silt.status < 500) metrics.rejections.inc({ reason: silt.code });
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    if (request.method === 'POST') metrics.pushLatency.observe({ route }, reply.elapsedTime / 1000);
  });

  registerNativeRoutes(app, ctx);
  registerOtlpRoutes(app, ctx);
  registerElasticRoutes(app, ctx);
  registerLokiRoutes(app, ctx);

  return {
    app,
    registry,
    async start() {
      kafka = createKafka(config.kafka, `${config.kafka.clientId}-ingest`, logger);
      admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, config.kafka);
      producer = createBlockProducer(kafka, config.kafka.logsTopic, s.ackTimeoutMs, s.retryAfterSeconds);
      await producer.connect();
      peers = new AnnouncedNodes(kafka, config.kafka.nodesTopic, 'silt-ingest', logger);
      await peers.start();
      const announcement: IngestAnnouncement = { version: 1, kind: 'ingest', id: processId, sentAt: 0 };
      announcer = new Announcer(kafka, config.kafka.nodesTopic, processId, s.announceIntervalMs, () => ({ ...announcement, sentAt: Date.now() }), logger);
      await announcer.start();
      if (s.syslogEnabled) logger.info('syslog listening', { ...(await syslog.start()) });
      const address = await app.listen({ host: s.host, port: s.port });
      ready = true;
      logger.info('ingest listening', { address });
      return address;
    },
    syslogAddresses: () => syslog.addresses(),
    reload: (next) => {
      limits.replace(next.limits);
      plugins.reload(next);
    },
    async stop() {
      ready = false;
      // The tombstone first: the other ingest processes take this one's share of each rate at once.
      await announcer?.stop();
      try {
        await syslog.stop();
        await app.close();
        await distributor.close();
      } finally {
        // Whatever the flush met, nothing of this service may keep the process alive.
        await peers?.stop();
        await producer?.close();
        await admin?.disconnect();
        await plugins.close();
      }
    },
  };
}
