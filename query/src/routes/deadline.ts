/** The deadline every read request runs under: the query timeout, or the client going away, whichever comes first. */
import type { FastifyReply } from 'fastify';
import { SiltError } from '../../../core/src/errors';

/** The code a query answers with when it runs past `query.timeoutMs`. */
export const QUERY_TIMEOUT = 'SILT_QUERY_TIMEOUT';

/**
 * Runs `fn` with an abort signal that fires after `timeoutMs` or when the client goes away (the
 * response closes before it was sent: the request's own `close` fires once a body is read, so it
 * cannot tell); a timeout rejects with 504 SILT_QUERY_TIMEOUT.
 */
export async function withDeadline<T>(reply: FastifyReply, timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new SiltError(QUERY_TIMEOUT, 504, true, `the query took longer than ${timeoutMs} ms`)), timeoutMs);
  const onClose = (): void => controller.abort();
  reply.raw.once('close', onClose);
  try {
    return await fn(controller.signal);
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason instanceof SiltError) throw controller.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
  }
}
