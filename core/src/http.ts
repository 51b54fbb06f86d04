/** HTTP plumbing every service shares: the JSON error contract and the health routes. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { BadRequestError, SiltError, TooManyRequestsError, UnavailableError } from './errors';
import { TENANT_RE } from './labels';
import type { Logger } from './logger';

/** Fastify's own error codes, mapped onto Silt's so clients see one error vocabulary. */
const FASTIFY_CODES: Record<string, { code: string; status: number }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'SILT_PAYLOAD_TOO_LARGE', status: 413 },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'SILT_UNSUPPORTED_CONTENT_TYPE', status: 415 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'SILT_BAD_CONTENT_LENGTH', status: 400 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'SILT_EMPTY_BODY', status: 400 },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'SILT_MALFORMED_JSON', status: 400 },
  FST_ERR_VALIDATION: { code: 'SILT_BAD_REQUEST', status: 400 },
};

/** Sends `err` as the contract's JSON error body, with `Retry-After` where the error carries one. */
export function sendError(reply: FastifyReply, err: SiltError): FastifyReply {
  if (err instanceof UnavailableError || err instanceof TooManyRequestsError) reply.header('Retry-After', String(err.retryAfterSeconds));
  return reply.code(err.status).send(err.toBody());
}

/** Maps any thrown value to a SiltError: ours pass through, fastify's are translated, the rest are 500s. */
export function toSiltError(err: unknown): SiltError {
  if (err instanceof SiltError) return err;
  const fe = err as Partial<FastifyError>;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return new SiltError(known.code, known.status, false, fe.message ?? known.code);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new SiltError('SILT_BAD_REQUEST', fe.statusCode, false, fe.message ?? 'bad request');
  }
  return new SiltError('SILT_INTERNAL', 500, false, 'internal error');
}

/** Installs the JSON error handler and a JSON 404 on `app`. */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err, request, reply) => {
    const silt = toSiltError(err);
    if (silt.status >= 500 && !silt.retriable) logger.error('request failed', { url: request.url, err: String((err as Error)?.stack ?? err) });
    return sendError(reply, silt);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new SiltError('SILT_NOT_FOUND', 404, false, `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/** Registers `/healthz` (process up), `/readyz` (able to serve) and `/metrics` (Prometheus text). */
export function installHealthRoutes(app: FastifyInstance, registry: Registry, ready: () => boolean): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (ready()) return { status: 'ready' };
    return sendError(reply, new SiltError('SILT_NOT_READY', 503, true, 'not ready'));
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('Content-Type', registry.contentType);
    return registry.metrics();
  });
}

/** The tenant of a request: `X-Scope-OrgID`, else `default`; an invalid name is a 400. */
export function tenantOf(request: FastifyRequest): string {
  const header = request.headers['x-scope-orgid'];
  if (header === undefined || header === '') return 'default';
  const tenant = Array.isArray(header) ? header.join(',') : header;
  if (!TENANT_RE.test(tenant)) throw new BadRequestError('SILT_BAD_TENANT', `X-Scope-OrgID "${tenant}" is not a valid tenant name ([a-zA-Z0-9_.-]{1,64})`);
  return tenant;
}
