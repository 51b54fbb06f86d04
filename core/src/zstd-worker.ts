/** The body of a frame-compression worker thread (see zstd-pool.ts): compresses each job it is sent. */
import { compressFrames } from './block-format';
import { serveJobs } from './worker-pool';
import type { CompressJob, CompressResult } from './zstd-pool';

serveJobs<CompressJob, CompressResult>((job) => {
  const { frames, lengths, crcs } = compressFrames(job.payload, job.rawLengths, job.level);
  // The frames lie in memory of their own (compressFrames allocates it unpooled): handed over, not copied.
  return { result: { frames, lengths, crcs }, transfer: [frames.buffer as ArrayBuffer] };
});
