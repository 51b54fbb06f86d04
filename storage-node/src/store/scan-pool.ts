/**
 * Frame scans on worker threads (issue 10, "use both cores for a scan"): a read with line filters
 * hands each frame's bytes, as LevelDB gave them on the main thread, to a thread that decompresses
 * the frame, filters its lines and answers only the entries kept, so the main thread merges while
 * the threads decompress and search. docs/STORAGE.md, "Scans on worker threads".
 */
import type { LineFilter } from '../../../core/src/logql';
import { WorkerPool, workerModule } from '../../../core/src/worker-pool';

/** What the pool posts to a thread: one stored frame and what to keep of it. */
export interface ScanJob {
  /** The frame's version and bytes (its value header's `version`, `rawLength` and `frameCrc`). */
  version: number;
  bytes: Uint8Array;
  rawLength: number;
  frameCrc: number;
  /** The read's line filters; a line is kept when every one holds. */
  filters: readonly LineFilter[];
  /** Entries kept lie in [start, end). */
  start: bigint;
  end: bigint;
}

/** The entries of a frame a scan kept, by their index in the frame, ascending. */
export interface KeptEntries {
  indexes: Int32Array;
  ts: BigInt64Array;
  lines: string[];
  /** Structured metadata by kept entry; null when no kept entry has any. */
  attrs: (Record<string, string> | undefined)[] | null;
}

/** A thread's answer for one frame: null when a substring every kept line holds is in none of its lines (nothing was decoded). */
export type FrameScan = KeptEntries | null;

const SCAN_THREAD_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 96 };

/** Worker threads scanning stored frames. */
export class ScanPool {
  private readonly pool: WorkerPool<ScanJob, FrameScan>;
  /** Frames sent to the threads since the pool started. */
  framesSent = 0;

  constructor(threads: number) {
    // A thread holds one frame's entries at a time: small heaps, collected often, keep a node's memory down.
    this.pool = new WorkerPool(workerModule(__dirname, 'scan-worker'), threads, 'frame scan', SCAN_THREAD_LIMITS);
  }

  /** The threads scanning. */
  get threads(): number {
    return this.pool.threads;
  }

  /** Scans one frame; its bytes are copied for the thread, so `job.bytes` stays the caller's. */
  scan(job: ScanJob): Promise<FrameScan> {
    // LevelDB's buffers may share memory with others: the thread gets bytes of its own, handed over.
    const bytes = new Uint8Array(job.bytes.byteLength);
    bytes.set(job.bytes);
    this.framesSent++;
    return this.pool.run({ ...job, bytes }, [bytes.buffer]);
  }

  /** Stops the threads; scans still running fail. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
