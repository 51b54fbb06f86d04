/**
 * The Elasticsearch face of ingest: `GET /` and `HEAD /` as an 8.x node answers them, `GET /_license`
 * (an active basic licence, which shippers check at connect), and the bulk
 * API (`POST|PUT /_bulk`, `POST|PUT /{index}/_bulk`), answered in Elasticsearch's own dialect —
 * `X-Elastic-Product: Elasticsearch` on every answer (official clients refuse a server without it),
 * one item per action (or what `filter_path` keeps of them), and errors shaped `{"error":{"root_cause","type","reason"},"status"}`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError } from '../../../core/src/errors';
import { errorHandlerOf, firstHeaderValue, tenantOf } from '../../../core/src/http';
import type { Logger } from '../../../core/src/logger';
import { nowNs } from '../../../core/src/time';
import { checkBulkContentType, parseBulkInSlices } from '../protocols/elastic';
import { bulkMapping, withStreamFields } from '../protocols/elastic-mapping';
import { answerFilter, esErrorType, renderBulkAnswer } from '../protocols/elastic-answer';
import { decodedBody, rawBody, type IngestContext } from './context';

/**
 * The Elasticsearch version `GET /` reports: the last 8.x minor. Filebeat and Logstash 8 read the
 * major (8: typeless bulk, `create` for data streams); Beats that still check "server at least as
 * new as the Beat" pass for every 8.x; @elastic/elasticsearch 9 checks only the product header.
 */
const ES_VERSION = {
  number: '8.19.0',
  build_flavor: 'default',
  build_type: 'tar',
  build_hash: '0000000000000000000000000000000000000000',
  build_date: '2025-07-22T00:00:00.000000000Z',
  build_snapshot: false,
  lucene_version: '9.12.2',
  minimum_wire_compatibility_version: '7.17.0',
  minimum_index_compatibility_version: '7.0.0',
};

/** The `GET /` body: a stable cluster uuid (monitoring keys on it), this host as the node name. */
function infoBody(): string {
  const clusterName = 'silt';
  const clusterUuid = createHash('sha256').update(`silt-cluster:${clusterName}`).digest('base64url').slice(0, 22);
  return JSON.stringify({ name: hostname(), cluster_name: clusterName, cluster_uuid: clusterUuid, version: ES_VERSION, tagline: 'You Know, for Search' });
}

/**
 * The `GET /_license` body. Logstash's elasticsearch output (plugin 11+) and Beats read it when they
 * connect and keep a node without an active license out of their pool; Silt is free software with
 * no licence to check, so it describes itself as what it offers: an active basic licence, unlimited.
 */
function licenseBody(): string {
  return JSON.stringify({
    license: {
      status: 'active',
      uid: '00000000-0000-4000-8000-000000000000',
      type: 'basic',
      issue_date: '1970-01-01T00:00:00.000Z',
      issue_date_in_millis: 0,
      max_nodes: 1000,
      max_resource_units: null,
      issued_to: 'silt',
      issuer: 'silt',
      start_date_in_millis: -1,
    },
  });
}

/** A fresh prefix for the `_id`s this request generates: the time and randomness make it unique across requests and ingest processes. */
function idPrefix(): string {
  const raw = Buffer.allocUnsafe(10);
  raw.writeUIntBE(Date.now(), 0, 6);
  randomBytes(4).copy(raw, 6);
  return raw.toString('base64url');
}

/** Every answer of these routes, errors included, says it comes from Elasticsearch. */
function productHeader(_request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header('X-Elastic-Product', 'Elasticsearch');
  done();
}

/**
 * Errors in Elasticsearch's shape, keeping the status, with `Retry-After` on every 429 and 503 —
 * except a refused `Content-Type`, which Elasticsearch answers 406 with a plain-string error.
 */
function esErrorHandler(logger: Logger) {
  return errorHandlerOf(logger, (silt, request, reply) => {
    if (silt.code === 'SILT_UNSUPPORTED_CONTENT_TYPE') {
      const header = firstHeaderValue(request.headers['content-type']);
      const error = header === undefined ? 'Content-Type header is missing' : `Content-Type header [${header}] is not supported`;
      return reply.code(406).send({ error, status: 406 });
    }
    const cause = { type: esErrorType(silt.code, silt.status), reason: `${silt.code}: ${silt.message}` };
    return reply.code(silt.status).send({ error: { root_cause: [cause], ...cause }, status: silt.status });
  });
}

type BulkRequest = FastifyRequest<{ Params: { index?: string }; Querystring: { _stream_fields?: string; filter_path?: string } }>;

/** Registers `GET|HEAD /` and the bulk routes. */
export function registerElasticRoutes(app: FastifyInstance, ctx: IngestContext): void {
  const s = ctx.settings;
  const mapping = bulkMapping(s.elasticMessageFields, s.elasticTimestampFields, s.elasticStreamFields);
  const info = infoBody();
  const common = { onRequest: productHeader, errorHandler: esErrorHandler(ctx.logger) };

  app.route({
    method: ['GET', 'HEAD'],
    url: '/',
    exposeHeadRoute: false,
    ...common,
    handler: (_request, reply) => reply.type('application/json; charset=utf-8').send(info),
  });

  const license = licenseBody();
  app.get('/_license', common, (_request, reply) => reply.type('application/json; charset=utf-8').send(license));

  const bulk = async (request: BulkRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const started = performance.now();
    const tenant = tenantOf(request);
    // Elasticsearch checks the content type only of a body that has bytes.
    if (rawBody(request).length === 0) throw new BadRequestError('SILT_EMPTY_BODY', 'request body is required');
    checkBulkContentType(request.headers['content-type']);
    // A refused or saturated ingest answers before it spends time decompressing and parsing.
    ctx.distributor.admit(tenant, rawBody(request).length);
    const body = await decodedBody(request, s);
    const options = { pathIndex: request.params.index, mapping: withStreamFields(mapping, request.query._stream_fields) };
    const parsed = await parseBulkInSlices(body, options, nowNs(), ctx.limitsFor(tenant));
    await ctx.distributor.push(tenant, parsed.push, body.length);
    // Only the answer is filtered: Elasticsearch applies no filter_path to its error answers either.
    const answer = renderBulkAnswer(parsed.items, Math.round(performance.now() - started), idPrefix(), answerFilter(request.query.filter_path));
    return reply.code(200).type('application/json; charset=utf-8').send(answer);
  };
  for (const url of ['/_bulk', '/:index/_bulk']) app.route({ method: ['POST', 'PUT'], url, ...common, handler: bulk });
}
