/** The routes every plugin leaves alone — probes, scrapes, Grafana's build-info check and the explorer's page carry no tenant's data — and a request's path. */
import type { FastifyRequest } from 'fastify';

/** Paths any client may reach, never limited, and left out of request logs by default. */
const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/ready', '/metrics', '/loki/api/v1/status/buildinfo', '/']);
/** The explorer's static files: the page asks for data with the key it is given, the files themselves hold none. */
const ASSETS_PREFIX = '/assets/';

/** Whether a path (or a route's URL pattern) is one of the open ones. */
export function isOpenPath(path: string): boolean {
  return OPEN_PATHS.has(path) || path.startsWith(ASSETS_PREFIX);
}

/** The request's path, without its query string. */
export function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q < 0 ? request.url : request.url.slice(0, q);
}
