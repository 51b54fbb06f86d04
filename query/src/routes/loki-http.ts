/**
 * The HTTP dialect of Loki's query API: parameters from the query string and, for POST, from an
 * `application/x-www-form-urlencoded` body (as Grafana sends them; body values first, as Go's
 * `Request.Form` puts them), and errors answered as Loki answers them — the status, and the
 * message as a plain-text body (Silt's code in `X-Silt-Error-Code`).
 */
import { parse as parseQueryString } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, type SiltError } from '../../../core/src/errors';
import { errorHandlerOf } from '../../../core/src/http';
import type { Logger } from '../../../core/src/logger';
import { QUERY_TIMEOUT } from './deadline';

/** A request's parameters: each name's values, body values first. */
export type LokiParams = Map<string, string[]>;

/** Parameters repeated on purpose (`match[]` of /series). */
const REPEATED = new Set(['match[]', 'match']);

/** The first value of parameter `name`, as Go's `Form.Get` returns it (undefined when absent). */
export function param(params: LokiParams, name: string): string | undefined {
  return params.get(name)?.[0];
}

/** Every value of parameter `name`. */
export function allValues(all: LokiParams, name: string): string[] {
  return all.get(name) ?? [];
}

function addAll(out: LokiParams, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    const values = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
    out.set(k, [...(out.get(k) ?? []), ...values]);
  }
}

/** The parameters of a Loki request: a form body's first, then the query string's. */
export function lokiParams(request: FastifyRequest): LokiParams {
  const out: LokiParams = new Map();
  const body = request.body;
  if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) addAll(out, body as Record<string, unknown>);
  addAll(out, (request.query ?? {}) as Record<string, unknown>);
  for (const [k, v] of out) if (!REPEATED.has(k) && v.length > 1) out.set(k, [v[0]!]);
  return out;
}

/** Loki's text for a query that ran out of time (pkg/util/server ErrDeadlineExceeded). */
const LOKI_DEADLINE_EXCEEDED = 'request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed';

/** Sends `err` as Loki does: its status and its message as plain text (with `Retry-After` where the error carries one). */
export function sendLokiError(reply: FastifyReply, err: SiltError): FastifyReply {
  if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
  const message = err.code === QUERY_TIMEOUT ? LOKI_DEADLINE_EXCEEDED : err.message;
  return reply.code(err.status).header('Content-Type', 'text/plain; charset=utf-8').header('X-Content-Type-Options', 'nosniff').header('X-Silt-Error-Code', err.code).send(message);
}

/**
 * Sets up a fastify scope for Loki's routes: form bodies parsed (up to 1 MiB, like any body),
 * and every error — the routes' own and fastify's — answered in Loki's plain-text dialect.
 */
export function installLokiDialect(scope: FastifyInstance, logger: Logger): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseQueryString(body as string));
    } catch {
      done(new BadRequestError('SILT_BAD_REQUEST', 'invalid form body'), undefined);
    }
  });
  scope.setErrorHandler(errorHandlerOf(logger, (silt, _request, reply) => sendLokiError(reply, silt)));
}
