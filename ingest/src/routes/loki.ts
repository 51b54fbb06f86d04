/**
 * `POST /loki/api/v1/push`: Loki's push API, answered as Loki answers — 204 and no body on success,
 * plain-text reasons on errors (Promtail, Alloy, Vector and Fluent Bit log the body as it is).
 * The write token travels in `X-Silt-Token`.
 */
import type { FastifyInstance } from 'fastify';
import { errorHandlerOf, firstHeaderValue, tenantOf } from '../../../core/src/http';
import type { Logger } from '../../../core/src/logger';
import { nowNs } from '../../../core/src/time';
import type { PushOutcome } from '../distributor';
import { parseLokiPush } from '../protocols/loki';
import { decodeBody } from '../push/decode-body';
import { rawBody, type IngestContext } from './context';

/** Rejections spelled out in a 400's body; the rest are counted. */
const LISTED_REJECTIONS = 10;
const TEXT = 'text/plain; charset=utf-8';

/** The body of a 400 that refused some or all entries: the counts, then the first reasons. */
function rejectionText(outcome: PushOutcome): string {
  const { accepted, rejected } = outcome;
  const lines = [`${rejected.length} ${rejected.length === 1 ? 'entry' : 'entries'} rejected, ${accepted} accepted and stored`];
  for (const r of rejected.slice(0, LISTED_REJECTIONS)) {
    lines.push(`stream ${r.stream}${r.entry >= 0 ? `, entry ${r.entry}` : ''}: ${r.code}: ${r.reason}`);
  }
  if (rejected.length > LISTED_REJECTIONS) lines.push(`… and ${rejected.length - LISTED_REJECTIONS} more`);
  return lines.join('\n') + '\n';
}

/** Loki's clients expect plain-text errors: the status of the Silt error, its code and message as text. */
function lokiErrorHandler(logger: Logger) {
  return errorHandlerOf(logger, (silt, _request, reply) => reply.code(silt.status).type(TEXT).send(`${silt.code}: ${silt.message}\n`));
}

/** Registers Loki's push route. */
export function registerLokiRoutes(app: FastifyInstance, ctx: IngestContext): void {
  app.post('/loki/api/v1/push', { errorHandler: lokiErrorHandler(ctx.logger) }, async (request, reply) => {
    const receivedNs = nowNs();
    const tenant = tenantOf(request);
    const raw = rawBody(request);
    ctx.distributor.admit(tenant, raw.length);
    // Loki accepts `Content-Encoding: snappy` on protobuf bodies and ignores it: their snappy is not a transfer encoding.
    const encoding = firstHeaderValue(request.headers['content-encoding']);
    const body = await decodeBody(raw, encoding?.toLowerCase() === 'snappy' ? undefined : encoding, ctx.settings.decompressedLimitBytes);
    const parsed = await parseLokiPush(body, request.headers['content-type'], receivedNs, ctx.limitsFor(tenant), ctx.settings.decompressedLimitBytes);
    const outcome = await ctx.distributor.push(tenant, parsed, body.length);
    reply.header('X-Silt-Token', outcome.token);
    if (outcome.rejected.length === 0) return reply.code(204).send();
    return reply.code(400).type(TEXT).send(rejectionText(outcome));
  });
}
