/** Messages between the harness and its load-generator process (see load-worker.ts). */
import type { Clock } from './bodies';
import type { PushProtocol } from './protocol-bodies';

/** One load to generate: closed loop (as fast as acks come back) unless `ratePerS` is set. */
export interface LoadJob {
  /** Base URL of the ingest service. */
  url: string;
  tenant: string;
  connections: number;
  clock: Clock;
  /** Global sequence number of the first entry (a multiple of the batch size). */
  firstSeq: number;
  /** Stop once this many entries were acknowledged… */
  entries?: number;
  /** …or once this long has passed (whichever comes first). */
  durationMs?: number;
  /** Open loop: batches are scheduled evenly at this many entries per second; latency counts from the scheduled time. */
  ratePerS?: number;
  /**
   * Push in this protocol, every body encoded once when the job starts (protocol-bodies.ts). Absent:
   * native JSON stamped at each send, so that every entry pushed has a timestamp of its own (the
   * cluster phases' queries count entries in time windows).
   */
  protocol?: PushProtocol;
  /** More request headers (an API key). */
  headers?: Record<string, string>;
}

/** What a load achieved. */
export interface LoadResult {
  entries: number;
  lineBytes: number;
  /** Bytes of the acknowledged request bodies, as sent (encoded, compressed). */
  bodyBytes: number;
  requests: number;
  /** Answers other than 2xx by status (503 and 429 are retried; others are not). */
  errors: Record<string, number>;
  /** Per acknowledged request: ms from send (closed loop) or from its scheduled time (open loop) to the answer. */
  latenciesMs: number[];
  /** Wall-clock ms of the first send and of the last acknowledgement. */
  startedAt: number;
  endedAt: number;
  /** Merged write token of every push: per partition, the highest offset written. */
  token: string;
  /** The next unused global sequence number. */
  nextSeq: number;
}

/** Harness → worker. */
export type ToWorker = { type: 'job'; job: LoadJob } | { type: 'exit' };

/** Worker → harness. */
export type FromWorker = { type: 'ready'; batch: number } | { type: 'result'; result: LoadResult } | { type: 'failed'; message: string };
