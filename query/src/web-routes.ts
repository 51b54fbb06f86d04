/**
 * The explorer's page and assets (query/web, built by `npm run build` into dist/web): `GET /` is
 * its index.html, `GET /assets/<file>` its script, stylesheet and source maps. Files are read once
 * and kept; only names of that folder are served. Without a build, `/` says how to make one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SiltError } from '../../core/src/errors';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/** Where the built explorer is: `configured`, or dist/web of this checkout (from the sources or from dist/). */
export function webDirOf(configured: string): string {
  if (configured !== '') return path.resolve(configured);
  const candidates = [path.resolve(__dirname, '../../web'), path.resolve(__dirname, '../../dist/web')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[1]!;
}

/** Registers `/` and `/assets/:file` on `app`, serving `dir`. */
export function installWebRoutes(app: FastifyInstance, dir: string): void {
  const cache = new Map<string, Buffer | null>();
  const read = (file: string): Buffer | null => {
    let body = cache.get(file);
    if (body === undefined) {
      try {
        body = fs.readFileSync(path.join(dir, file));
      } catch {
        body = null;
      }
      cache.set(file, body);
    }
    return body;
  };
  app.get('/', async (_request, reply) => {
    const page = read('index.html');
    if (page === null) throw new SiltError('SILT_NOT_FOUND', 404, false, `the explorer is not built in ${dir}: run npm run build`);
    return reply.type(TYPES['.html']!).header('Cache-Control', 'no-cache').send(page);
  });
  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const { file } = request.params;
    const type = TYPES[path.extname(file)];
    const body = /^[\w.-]+$/.test(file) && type !== undefined ? read(path.join('assets', file)) : null;
    if (body === null) throw new SiltError('SILT_NOT_FOUND', 404, false, `no asset ${file}`);
    return reply.type(type!).header('Cache-Control', 'no-cache').send(body);
  });
}
