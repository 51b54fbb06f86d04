/** What every protocol route of ingest is given: the distributor, limits and settings, metrics, and the body reader they share. */
import type { FastifyRequest } from 'fastify';
import type { IngestSettings } from '../../../core/src/config';
import { firstHeaderValue } from '../../../core/src/http';
import type { Logger } from '../../../core/src/logger';
import type { Distributor } from '../distributor';
import type { IngestMetrics } from '../metrics';
import type { PushLimits } from '../push/builder';
import { decodeBody } from '../push/decode-body';

/** The shared parts a protocol route adapts to its wire format. */
export interface IngestContext {
  distributor: Distributor;
  /** The push limits of a tenant: ingest's settings with the tenant's own line and label limits. */
  limitsFor(tenant: string): PushLimits;
  settings: IngestSettings;
  metrics: IngestMetrics;
  logger: Logger;
}

/** The raw body of a request (the catch-all content-type parser hands every body over as bytes). */
export function rawBody(request: FastifyRequest): Buffer {
  return request.body instanceof Buffer ? request.body : Buffer.alloc(0);
}

/** The request body with its `Content-Encoding` undone, under the decompressed-size cap. */
export function decodedBody(request: FastifyRequest, settings: IngestSettings): Promise<Buffer> {
  return decodeBody(rawBody(request), firstHeaderValue(request.headers['content-encoding']), settings.decompressedLimitBytes);
}
