/**
 * The peer side of a rebuild, on the node's internal port: `GET /internal/v1/partitions/{p}/segments`
 * lists a partition's segments, `GET /internal/v1/partitions/{p}/segments/{first}/dump` streams one
 * segment's dump (store/dump-format.ts) with backpressure. docs/STORAGE.md, "Rebuild from a peer".
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, SiltError } from '../../../core/src/errors';
import { sendError } from '../../../core/src/http';
import type { SegmentStore } from '../store';
import type { RebuildMetrics } from './metrics';

/** Dumps served at once: each pins a segment handle and an iterator, and takes disk bandwidth from the node's own writes. */
const MAX_DUMPS = 2;

interface SegmentParams {
  partition: string;
  first: string;
}

function partitionOf(text: string): number {
  if (!/^\d{1,6}$/.test(text)) throw new BadRequestError('SILT_BAD_REQUEST', `"${text}" is not a partition number`);
  return Number(text);
}

/** Registers the segment listing and dump routes. */
export function installTransferApi(app: FastifyInstance, store: SegmentStore, metrics: RebuildMetrics): void {
  let serving = 0;

  app.get('/internal/v1/partitions/:partition/segments', async (request: FastifyRequest<{ Params: Pick<SegmentParams, 'partition'> }>) =>
    store.listSegments(partitionOf(request.params.partition)),
  );

  app.get('/internal/v1/partitions/:partition/segments/:first/dump', async (request: FastifyRequest<{ Params: SegmentParams }>, reply: FastifyReply) => {
    const partition = partitionOf(request.params.partition);
    if (!/^\d{1,20}$/.test(request.params.first)) throw new BadRequestError('SILT_BAD_REQUEST', `"${request.params.first}" is not a segment's first offset`);
    if (serving >= MAX_DUMPS) return sendError(reply, new SiltError('SILT_BUSY', 503, true, `already serving ${MAX_DUMPS} segment dumps`, undefined, 1));
    const chunks = store.dumpSegment(partition, BigInt(request.params.first));
    if (chunks === null) return sendError(reply, new SiltError('SILT_SEGMENT_GONE', 404, true, `no segment ${request.params.first} in partition ${partition}`));
    serving++;
    metrics.dumpsServed.inc();
    const stream = Readable.from(
      (async function* counted() {
        for await (const chunk of chunks) {
          metrics.bytesServed.inc(chunk.length);
          yield chunk;
        }
      })(),
      { objectMode: false, highWaterMark: 1 },
    );
    // 'close' comes after the end and after a destroy (the peer went away): the slot is freed either way.
    stream.once('close', () => serving--);
    reply.header('Content-Type', 'application/octet-stream');
    return reply.send(stream);
  });
}
