/** `POST /api/v1/push`: Silt's own push API (JSON, NDJSON, text/plain), answered in the contract's JSON shape. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tenantOf } from '../../../core/src/http';
import { nowNs } from '../../../core/src/time';
import { parseNativePush } from '../protocols/native';
import type { Rejection } from '../push/builder';
import { decodedBody, rawBody, type IngestContext } from './context';

/** The body of a push answer, 200 or 400. */
export interface PushResponse {
  accepted: number;
  rejected: Rejection[];
  /** Present when `rejected` was cut to its first MAX_LISTED_REJECTIONS items: how many there were. */
  rejectedTotal?: number;
  token: string;
}

/** A body of millions of bad entries must not produce a response of hundreds of megabytes. */
const MAX_LISTED_REJECTIONS = 1000;

/** Registers the native push route. */
export function registerNativeRoutes(app: FastifyInstance, ctx: IngestContext): void {
  app.post('/api/v1/push', async (request: FastifyRequest<{ Querystring: { labels?: string } }>, reply: FastifyReply) => {
    const tenant = tenantOf(request);
    // A refused or saturated ingest answers before it spends time decompressing and parsing.
    ctx.distributor.admit(tenant, rawBody(request).length);
    const body = await decodedBody(request, ctx.settings);
    const parsed = parseNativePush(body, request.headers['content-type'], request.query.labels, nowNs(), ctx.limitsFor(tenant));
    const outcome = await ctx.distributor.push(tenant, parsed, body.length);
    const answer: PushResponse = { accepted: outcome.accepted, rejected: outcome.rejected, token: outcome.token };
    if (outcome.rejected.length > MAX_LISTED_REJECTIONS) {
      answer.rejected = outcome.rejected.slice(0, MAX_LISTED_REJECTIONS);
      answer.rejectedTotal = outcome.rejected.length;
    }
    return reply.code(outcome.rejected.length > 0 ? 400 : 200).send(answer);
  });
}
