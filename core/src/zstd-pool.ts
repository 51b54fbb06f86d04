/**
 * Frame compression beside the event loop: zstd is the largest single cost of a push once it is
 * parsed, and a serialized block (block-format.ts `serializeBlock`) is plain bytes, so worker
 * threads compress it while the event loop parses the next pushes. Jobs go to the least busy
 * thread; a thread that dies fails its jobs (their pushes answer 503) and is replaced on next use.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompressedFrames } from './block-format';

/** What the pool posts to a worker. */
export interface CompressJob {
  id: number;
  payload: Uint8Array;
  rawLengths: number[];
  level: number;
}

/** What a worker posts back: the frames, or why it could not. */
export type CompressReply = { id: number; frames: Uint8Array; lengths: number[]; crcs: number[] } | { id: number; error: string };

const WORKER_FILE = path.join(__dirname, `zstd-worker${path.extname(__filename)}`);
// Run from the TypeScript sources (tests, processes started with ts-register), the worker needs the
// same swc hook to load them; the compiled build needs nothing.
const WORKER_EXEC_ARGV = WORKER_FILE.endsWith('.ts') ? [...process.execArgv, '-r', path.resolve(__dirname, '../../test/support/ts-register.js')] : undefined;

interface Pending {
  resolve: (frames: CompressedFrames) => void;
  reject: (err: Error) => void;
}

/** One worker thread and the jobs it has not answered yet. */
class Lane {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;

  constructor() {
    this.worker = new Worker(WORKER_FILE, { execArgv: WORKER_EXEC_ARGV });
    // An idle pool must not keep a process alive that is otherwise done.
    this.worker.unref();
    this.worker.on('message', (reply: CompressReply) => {
      const job = this.pending.get(reply.id);
      if (job === undefined) return;
      this.pending.delete(reply.id);
      if ('error' in reply) job.reject(new Error(`frame compression failed: ${reply.error}`));
      else job.resolve({ frames: Buffer.from(reply.frames.buffer, reply.frames.byteOffset, reply.frames.byteLength), lengths: reply.lengths, crcs: reply.crcs });
    });
    const fail = (why: string): void => {
      this.dead = true;
      for (const job of this.pending.values()) job.reject(new Error(`frame compression thread ${why}`));
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(`failed: ${err.message}`));
    this.worker.on('exit', (code) => fail(`exited with code ${code}`));
  }
}

/** Worker threads compressing the frames of serialized blocks. */
export class FramePool {
  private readonly lanes: (Lane | null)[];
  private nextId = 0;

  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`a frame pool needs at least one thread, not ${threads}`);
    this.lanes = new Array<Lane | null>(threads).fill(null);
  }

  /** Compresses payloads lying back to back (`rawLengths` each) at `level`; `payload` is handed over (it must own its memory) and must not be used after. */
  compress(payload: Buffer, rawLengths: number[], level: number): Promise<CompressedFrames> {
    const lane = this.leastBusy();
    const id = this.nextId++;
    return new Promise<CompressedFrames>((resolve, reject) => {
      lane.pending.set(id, { resolve, reject });
      const job: CompressJob = { id, payload, rawLengths, level };
      lane.worker.postMessage(job, [payload.buffer as ArrayBuffer]);
    });
  }

  /** Stops the threads; jobs still running fail. */
  async close(): Promise<void> {
    const lanes = this.lanes.filter((l): l is Lane => l !== null && !l.dead);
    this.lanes.fill(null);
    await Promise.all(lanes.map((l) => l.worker.terminate()));
  }

  private leastBusy(): Lane {
    let best = -1;
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[i];
      if (lane === null || lane === undefined || lane.dead) this.lanes[i] = new Lane();
      if (best < 0 || this.lanes[i]!.pending.size < this.lanes[best]!.pending.size) best = i;
    }
    return this.lanes[best]!;
  }
}
