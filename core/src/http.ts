/** HTTP plumbing every service shares: the JSON error contract, query strings, headers and the health routes. */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { principalOf, principalTenant } from './auth/principal';
import { BadRequestError, SiltError } from './errors';
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
  FST_ERR_BAD_URL: { code: 'SILT_BAD_URL', status: 400 },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'SILT_BAD_REQUEST', status: 400 },
};

/** Sends `err` as the contract's JSON error body, with `Retry-After` where the error carries one (every 429 and 503 does). */
export function sendError(reply: FastifyReply, err: SiltError): FastifyReply {
  if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
  return reply.code(err.status).send(err.toBody());
}

/** The contract's JSON error body as raw HTTP, for errors Node's parser meets before fastify has a request. */
function clientErrorResponse(err: SiltError): string {
  const body = JSON.stringify(err.toBody());
  return `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Fastify options every service starts from: query strings where a parameter given twice keeps its
 * first value (as Loki and Go's `Form.Get` do) unless the route declares it repeatable (`multi`),
 * and Silt's JSON error shape for what is refused before any route runs: framing errors of Node's
 * HTTP parser, and fastify's own (a URL that does not decode).
 */
export function baseServerOptions(multi: readonly string[] = []): FastifyServerOptions {
  const repeatable = new Set(multi);
  return {
    logger: false,
    routerOptions: {
      querystringParser: (text: string) => {
        const parsed = parseQuery(text);
        const out: Record<string, string | string[]> = {};
        for (const key of Object.keys(parsed)) {
          const value = parsed[key]!;
          out[key] = repeatable.has(key) ? (Array.isArray(value) ? value : [value]) : Array.isArray(value) ? value[0]! : value;
        }
        return out;
      },
    },
    frameworkErrors: (err, _request, reply) => {
      sendError(reply, toSiltError(err));
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return;
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      const silt = tooLarge
        ? new SiltError('SILT_HEADERS_TOO_LARGE', 431, false, 'request headers are too large')
        : new SiltError('SILT_BAD_HTTP', 400, false, `malformed HTTP request: ${err.code ?? err.message}`);
      socket.end(clientErrorResponse(silt));
    },
  };
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

/**
 * A fastify error handler that answers every error as `render` shapes it (Silt's JSON, or a
 * protocol's own dialect), after mapping it to a SiltError, logging an unexpected one (a bug: not a
 * SiltError) with the request id, and setting `Retry-After` where the error carries one.
 */
export function errorHandlerOf(
  logger: Logger,
  render: (err: SiltError, request: FastifyRequest, reply: FastifyReply) => FastifyReply,
): (err: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (err, request, reply) => {
    const silt = toSiltError(err);
    if (silt.status >= 500 && !(err instanceof SiltError)) logger.error('request failed', { reqId: request.id, url: request.url, err: String((err as Error)?.stack ?? err) });
    if (silt.retryAfterSeconds !== undefined) reply.header('Retry-After', String(silt.retryAfterSeconds));
    // RFC 9110: a 401 names the schemes that would be accepted.
    if (silt.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="silt", Basic realm="silt"');
    return render(silt, request, reply);
  };
}

/** Installs the JSON error handler, a JSON 404, and a log line (with the request id) for every 5xx on `app`. */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler(errorHandlerOf(logger, (silt, _request, reply) => sendError(reply, silt)));
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 500) logger.warn('answered 5xx', { reqId: request.id, method: request.method, url: request.url, status: reply.statusCode });
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

/** The first value of a request header that may be repeated (`a, a` or two header lines), trimmed; undefined when absent or empty. */
export function firstHeaderValue(header: string | string[] | undefined): string | undefined {
  const first = Array.isArray(header) ? header[0] : header;
  if (first === undefined) return undefined;
  const comma = first.indexOf(',');
  const value = (comma < 0 ? first : first.slice(0, comma)).trim();
  return value === '' ? undefined : value;
}

/**
 * The tenant of a request: `X-Scope-OrgID` (its first value when repeated, as Loki takes it), else
 * `default`; an invalid name is a 400. When auth let the request in, the header may only choose
 * among its key's tenants (a 403 otherwise), and the key's first tenant is the default.
 */
export function tenantOf(request: FastifyRequest): string {
  const tenant = firstHeaderValue(request.headers['x-scope-orgid']);
  if (tenant !== undefined && !TENANT_RE.test(tenant)) throw new BadRequestError('SILT_BAD_TENANT', `X-Scope-OrgID "${tenant}" is not a valid tenant name ([a-zA-Z0-9_.-]{1,64})`);
  const principal = principalOf(request);
  if (principal !== undefined) return principalTenant(principal, tenant);
  return tenant ?? 'default';
}
