/**
 * `POST /v1/logs` and `POST /otlp/v1/logs`: OTLP/HTTP logs (binary protobuf or JSON), answered as
 * the OTLP/HTTP specification says, in the request's encoding: 200 with an
 * `ExportLogsServiceResponse` (with `partial_success` when records were rejected, the valid ones
 * stored), else a `google.rpc.Status` with the error's status and `Retry-After` on 429 and 503. The
 * write token travels in `X-Silt-Token`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorHandlerOf, tenantOf } from '../../../core/src/http';
import { nowNs } from '../../../core/src/time';
import { otlpEncoding, parseOtlpLogs } from '../protocols/otlp';
import { contentTypeOf, errorEncoding, exportResponse, statusResponse } from '../protocols/otlp-reply';
import { decodedBody, rawBody, type IngestContext } from './context';

/** The OTLP/HTTP default path, and the same under `/otlp` (where an `otlphttp` exporter with endpoint `…/otlp` sends). */
const PATHS = ['/v1/logs', '/otlp/v1/logs'];

/** Registers the OTLP/HTTP logs routes. */
export function registerOtlpRoutes(app: FastifyInstance, ctx: IngestContext): void {
  const streamAttributes: ReadonlySet<string> = new Set(ctx.settings.otlpStreamAttributes);

  const errorHandler = errorHandlerOf(ctx.logger, (silt, request, reply) => {
    const encoding = errorEncoding(request.headers['content-type']);
    return reply.code(silt.status).type(contentTypeOf(encoding)).send(statusResponse(encoding, silt));
  });

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const encoding = otlpEncoding(request.headers['content-type']);
    const tenant = tenantOf(request);
    // A saturated ingest refuses before it spends time decompressing and decoding.
    ctx.distributor.admit(tenant, rawBody(request).length);
    const body = await decodedBody(request, ctx.settings);
    const parsed = parseOtlpLogs(body, encoding, nowNs(), ctx.limitsFor(tenant), streamAttributes);
    const outcome = await ctx.distributor.push(tenant, parsed, body.length);
    return reply
      .code(200)
      .header('X-Silt-Token', outcome.token)
      .type(contentTypeOf(encoding))
      .send(exportResponse(encoding, outcome.rejected, outcome.accepted + outcome.rejected.length));
  };

  for (const url of PATHS) app.post(url, { errorHandler }, handler);
}
