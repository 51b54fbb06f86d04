/**
 * Frame compression beside the event loop: zstd is the largest single cost of a push once it is
 * parsed, and a serialized block (block-format.ts `serializeBlock`) is plain bytes, so worker
 * threads compress it while the event loop parses the next pushes. A thread that dies fails its
 * jobs (their pushes answer 503) and is replaced on next use (worker-pool.ts).
 */
import type { CompressedFrames } from './block-format';
import { WorkerPool, workerModule } from './worker-pool';

/** What the pool posts to a worker. */
export interface CompressJob {
  payload: Uint8Array;
  rawLengths: number[];
  level: number;
}

/** What a worker answers: the frames, back to back, with their lengths and CRCs. */
export interface CompressResult {
  frames: Uint8Array;
  lengths: number[];
  crcs: number[];
}

/** Worker threads compressing the frames of serialized blocks. */
export class FramePool {
  private readonly pool: WorkerPool<CompressJob, CompressResult>;

  constructor(threads: number) {
    this.pool = new WorkerPool(workerModule(__dirname, 'zstd-worker'), threads, 'frame compression');
  }

  /** Compresses payloads lying back to back (`rawLengths` each) at `level`; `payload` is handed over (it must own its memory) and must not be used after. */
  async compress(payload: Buffer, rawLengths: number[], level: number): Promise<CompressedFrames> {
    const r = await this.pool.run({ payload, rawLengths, level }, [payload.buffer as ArrayBuffer]);
    return { frames: Buffer.from(r.frames.buffer, r.frames.byteOffset, r.frames.byteLength), lengths: r.lengths, crcs: r.crcs };
  }

  /** Stops the threads; jobs still running fail. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
