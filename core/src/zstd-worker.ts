/** The body of a frame-compression worker thread (see zstd-pool.ts): compresses each job it is sent and posts the frames back. */
import { parentPort } from 'node:worker_threads';
import { compressFrames } from './block-format';
import type { CompressJob, CompressReply } from './zstd-pool';

parentPort!.on('message', (job: CompressJob) => {
  let reply: CompressReply;
  try {
    const { frames, lengths, crcs } = compressFrames(job.payload, job.rawLengths, job.level);
    reply = { id: job.id, frames, lengths, crcs };
  } catch (err) {
    reply = { id: job.id, error: (err as Error).message };
  }
  // The frames lie in memory of their own (compressFrames allocates it unpooled): handed over, not copied.
  parentPort!.postMessage(reply, 'frames' in reply ? [reply.frames.buffer as ArrayBuffer] : []);
});
