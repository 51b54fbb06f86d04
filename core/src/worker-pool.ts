/**
 * Work beside the event loop: a fixed number of worker threads, each running one module that
 * answers jobs (`serveJobs`). A job goes to the least busy thread; a thread that dies fails the
 * jobs it holds and is replaced on next use, so one bad job costs its callers, not the process.
 * Ingest compresses frames on such a pool (zstd-pool.ts), storage nodes scan frames on one.
 */
import path from 'node:path';
import { parentPort, type ResourceLimits, Worker } from 'node:worker_threads';

/** What a pool posts to a thread. */
interface JobMessage<J> {
  id: number;
  job: J;
}

/** What a thread posts back: the job's result, or why it has none. */
type ReplyMessage<R> = { id: number; result: R } | { id: number; error: string };

/** A job's result and the buffers of it handed over to the pool instead of copied. */
export interface JobAnswer<R> {
  result: R;
  transfer?: ArrayBuffer[];
}

/**
 * The path of the worker module `name` beside `dir` (a caller's `__dirname`), whichever way this
 * process runs: compiled (`.js`), or from the TypeScript sources through ts-register (`.ts`).
 */
export function workerModule(dir: string, name: string): string {
  return path.join(dir, `${name}${path.extname(__filename)}`);
}

// Run from the TypeScript sources (tests, processes started with ts-register), a worker needs the
// same swc hook to load them; the compiled build needs nothing.
function execArgvFor(file: string): string[] | undefined {
  return file.endsWith('.ts') ? [...process.execArgv, '-r', path.resolve(__dirname, '../../test/support/ts-register.js')] : undefined;
}

interface Pending<R> {
  resolve: (result: R) => void;
  reject: (err: Error) => void;
}

/** One worker thread and the jobs it has not answered yet. */
class Lane<R> {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending<R>>();
  dead = false;

  constructor(file: string, what: string, limits: ResourceLimits | undefined) {
    this.worker = new Worker(file, { execArgv: execArgvFor(file), ...(limits ? { resourceLimits: limits } : {}) });
    // An idle pool must not keep a process alive that is otherwise done.
    this.worker.unref();
    this.worker.on('message', (reply: ReplyMessage<R>) => {
      const job = this.pending.get(reply.id);
      if (job === undefined) return;
      this.pending.delete(reply.id);
      if ('error' in reply) job.reject(new Error(`${what} failed: ${reply.error}`));
      else job.resolve(reply.result);
    });
    const fail = (why: string): void => {
      this.dead = true;
      for (const job of this.pending.values()) job.reject(new Error(`${what} thread ${why}`));
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(`failed: ${err.message}`));
    this.worker.on('exit', (code) => fail(`exited with code ${code}`));
  }
}

/** Worker threads running the module `file`, which answers jobs `J` with results `R` (see `serveJobs`). */
export class WorkerPool<J, R> {
  private readonly lanes: (Lane<R> | null)[];
  private nextId = 0;

  /** `what` names the work in errors ("frame compression failed: …"); `limits` bound each thread's heap. */
  constructor(
    private readonly file: string,
    threads: number,
    private readonly what: string,
    private readonly limits?: ResourceLimits,
  ) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`a ${what} pool needs at least one thread, not ${threads}`);
    this.lanes = new Array<Lane<R> | null>(threads).fill(null);
  }

  /** The threads the pool runs. */
  get threads(): number {
    return this.lanes.length;
  }

  /** Runs `job` on the least busy thread; the buffers in `transfer` are handed over and must not be used after. */
  run(job: J, transfer: ArrayBuffer[] = []): Promise<R> {
    const lane = this.leastBusy();
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      lane.pending.set(id, { resolve, reject });
      const message: JobMessage<J> = { id, job };
      lane.worker.postMessage(message, transfer);
    });
  }

  /** Stops the threads; jobs still running fail. */
  async close(): Promise<void> {
    const lanes = this.lanes.filter((l): l is Lane<R> => l !== null && !l.dead);
    this.lanes.fill(null);
    await Promise.all(lanes.map((l) => l.worker.terminate()));
  }

  private leastBusy(): Lane<R> {
    let best = -1;
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[i];
      if (lane === null || lane === undefined || lane.dead) this.lanes[i] = new Lane<R>(this.file, this.what, this.limits);
      if (best < 0 || this.lanes[i]!.pending.size < this.lanes[best]!.pending.size) best = i;
    }
    return this.lanes[best]!;
  }
}

/** The body of a pool's worker module: answers every job the pool posts with `handle`, or with the error it throws. */
export function serveJobs<J, R>(handle: (job: J) => JobAnswer<R>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveJobs runs in a worker thread');
  port.on('message', ({ id, job }: JobMessage<J>) => {
    let answer: JobAnswer<R>;
    try {
      answer = handle(job);
    } catch (err) {
      port.postMessage({ id, error: (err as Error).message } satisfies ReplyMessage<R>);
      return;
    }
    port.postMessage({ id, result: answer.result } satisfies ReplyMessage<R>, answer.transfer ?? []);
  });
}
