/** The ingest service: accepts pushes, validates them, batches them into blocks and makes them durable in Kafka. */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import { encodeBlock } from '../../core/src/block-format';
import type { IngestSettings, KafkaConfig } from '../../core/src/config';
import { ConfigError, SiltError, UnavailableError } from '../../core/src/errors';
import { installErrorHandling, installHealthRoutes, sendError, tenantOf, toSiltError } from '../../core/src/http';
import type { SiltService } from '../../core/src/service-main';
import { createKafka, ensureTopics } from '../../core/src/kafka';
import { parseLabelSet } from '../../core/src/label-set';
import { labelsKey, streamId } from '../../core/src/labels';
import { createLogger, type LogLevel, type Logger } from '../../core/src/logger';
import { createRegistry } from '../../core/src/metrics';
import { nowNs } from '../../core/src/time';
import { encodeWriteToken, type WriteOffsets } from '../../core/src/write-token';
import { Batcher, type PendingBlock } from './batcher';
import { decodeBody } from './decode-body';
import { createIngestMetrics } from './metrics';
import { parsePush, type ParsedPush, type PushLimits } from './parse-push';
import { Partitioner, spreadKey } from './partitioner';
import { createBlockProducer, type BlockProducer } from './producer';

/** What the ingest service needs of the configuration. */
export interface IngestConfig {
  logLevel: LogLevel;
  kafka: KafkaConfig;
  ingest: IngestSettings;
}

/** A built ingest service; `stop` flushes what Kafka can still take. */
export type IngestService = SiltService;

/** The body of a push answer, 200 or 400. */
export interface PushResponse {
  accepted: number;
  rejected: ParsedPush['rejected'];
  /** Present when `rejected` was cut to its first MAX_LISTED_REJECTIONS items: how many there were. */
  rejectedTotal?: number;
  token: string;
}

/** A body of millions of bad entries must not produce a response of hundreds of megabytes. */
const MAX_LISTED_REJECTIONS = 1000;


function pushLimits(s: IngestSettings): PushLimits {
  return {
    maxLineBytes: s.maxLineBytes,
    maxLabels: s.maxLabels,
    maxLabelNameBytes: s.maxLabelNameBytes,
    maxLabelValueBytes: s.maxLabelValueBytes,
    maxAttrs: s.maxAttrs,
    maxAttrBytes: s.maxAttrBytes,
    maxPastNs: BigInt(s.maxPastMs) * 1_000_000n,
    maxFutureNs: BigInt(s.maxFutureMs) * 1_000_000n,
  };
}

/** Canonical keys of `ingest.spreadStreams`, whatever label order the operator wrote. */
function parseSpreadStreams(list: readonly string[]): string[] {
  return list.map((item) => {
    const slash = item.indexOf('/');
    if (slash <= 0) throw new ConfigError(`ingest.spreadStreams: "${item}" must be tenant/{labels}`);
    return spreadKey(item.slice(0, slash), parseLabelSet(item.slice(slash + 1)));
  });
}

/** Builds the ingest service from a validated configuration. */
export function build(config: IngestConfig, options: { logger?: Logger } = {}): IngestService {
  const s = config.ingest;
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'ingest' });
  const registry = createRegistry('ingest');
  const metrics = createIngestMetrics(registry);
  const limits = pushLimits(s);
  const partitioner = new Partitioner(config.kafka.partitions, parseSpreadStreams(s.spreadStreams));
  const app = Fastify({ bodyLimit: s.bodyLimitBytes, logger: false, forceCloseConnections: 'idle' });

  let kafka: Kafka | null = null;
  let admin: Admin | null = null;
  let producer: BlockProducer | null = null;
  let ready = false;
  const batcher = new Batcher(
    {
      send: (blocks) => {
        if (!producer) return Promise.reject(new UnavailableError('Kafka producer not connected', s.retryAfterSeconds));
        return producer.send(blocks);
      },
    },
    {
      lingerMs: s.lingerMs,
      maxBlockBytes: s.maxBlockBytes,
      maxBlockEntries: s.maxBlockEntries,
      maxRequestBytes: s.maxRequestBytes,
      maxPendingBytes: s.maxPendingBytes,
      retryAfterSeconds: s.retryAfterSeconds,
      encode: (input) => encodeBlock(input, { level: s.zstdLevel }),
      onSealed: (raw, encoded) => {
        metrics.blocks.inc();
        metrics.blockRawBytes.inc(raw);
        metrics.blockCompressedBytes.inc(encoded);
      },
      onSent: (seconds, ok) => metrics.produceLatency.observe({ outcome: ok ? 'ok' : 'error' }, seconds),
    },
  );

  installErrorHandling(app, logger);
  installHealthRoutes(app, registry, () => ready);
  // Every body arrives as raw bytes: the push route decodes encodings and content types itself, with its own limits and errors.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });

  /** Waits until Kafka acknowledged every block, or answers 503 once `ackTimeoutMs` passes. */
  async function awaitBlocks(blocks: Set<PendingBlock>): Promise<WriteOffsets> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_res, rej) => {
      timer = setTimeout(
        () => rej(new UnavailableError(`Kafka did not acknowledge within ${s.ackTimeoutMs} ms`, s.retryAfterSeconds)),
        s.ackTimeoutMs,
      );
    });
    try {
      const list = [...blocks];
      const offsets = await Promise.race([Promise.all(list.map((b) => b.done)), timeout]);
      const token: WriteOffsets = new Map();
      list.forEach((b, i) => {
        const cur = token.get(b.partition);
        if (cur === undefined || offsets[i]! > cur) token.set(b.partition, offsets[i]!);
      });
      return token;
    } catch (err) {
      batcher.abandon(blocks);
      if (err instanceof SiltError) throw err;
      throw new UnavailableError(`Kafka did not acknowledge: ${(err as Error).message}`, s.retryAfterSeconds);
    } finally {
      clearTimeout(timer);
    }
  }

  async function push(request: FastifyRequest<{ Querystring: { labels?: string } }>, reply: FastifyReply): Promise<FastifyReply> {
    const started = process.hrtime.bigint();
    try {
      const tenant = tenantOf(request);
      const raw = request.body instanceof Buffer ? request.body : Buffer.alloc(0);
      const encoding = request.headers['content-encoding'];
      const body = await decodeBody(raw, encoding, s.decompressedLimitBytes);
      const parsed = parsePush(body, request.headers['content-type'], request.query.labels, nowNs(), limits);
      for (const r of parsed.rejected) metrics.rejections.inc({ reason: r.code });
      let token: WriteOffsets = new Map();
      if (parsed.accepted > 0) {
        batcher.admit(body.length);
        const blocks = new Set<PendingBlock>();
        let bytes = 0;
        for (const stream of parsed.streams) {
          const key = labelsKey(stream.labels);
          const partition = partitioner.partition(tenant, key, streamId(tenant, stream.labels));
          bytes += batcher.add(partition, tenant, key, stream.labels, stream.entries, blocks);
        }
        token = await awaitBlocks(blocks);
        metrics.entriesAccepted.inc({ tenant }, parsed.accepted);
        metrics.bytesAccepted.inc({ tenant }, bytes);
      }
      const answer: PushResponse = { accepted: parsed.accepted, rejected: parsed.rejected, token: encodeWriteToken(token) };
      if (parsed.rejected.length > MAX_LISTED_REJECTIONS) {
        answer.rejected = parsed.rejected.slice(0, MAX_LISTED_REJECTIONS);
        answer.rejectedTotal = parsed.rejected.length;
      }
      return reply.code(parsed.rejected.length > 0 ? 400 : 200).send(answer);
    } catch (err) {
      const silt = toSiltError(err);
      if (silt.status !== 503) metrics.rejections.inc({ reason: silt.code });
      return sendError(reply, silt);
    } finally {
      metrics.pushLatency.observe({ route: '/api/v1/push' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  app.post('/api/v1/push', push);

  return {
    app,
    registry,
    async start() {
      kafka = createKafka(config.kafka, `${config.kafka.clientId}-ingest`, logger);
      admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, config.kafka);
      producer = createBlockProducer(kafka, config.kafka.logsTopic, s.ackTimeoutMs);
      await producer.connect();
      const address = await app.listen({ host: s.host, port: s.port });
      ready = true;
      logger.info('ingest listening', { address });
      return address;
    },
    async stop() {
      ready = false;
      await app.close();
      await batcher.close();
      await producer?.close();
      await admin?.disconnect();
    },
  };
}
