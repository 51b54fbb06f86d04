/** The routes every plugin leaves alone — probes, scrapes and Grafana's build-info check carry no tenant's data — and a request's path. */
import type { FastifyRequest } from 'fastify';

/** Paths any client may reach, never limited, and left out of request logs by default. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/ready', '/metrics', '/loki/api/v1/status/buildinfo']);

/** The request's path, without its query string. */
export function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q < 0 ? request.url : request.url.slice(0, q);
}
