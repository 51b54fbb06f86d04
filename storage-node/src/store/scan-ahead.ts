/**
 * One read's use of the scan threads: the frames its streams fetch are offered as they arrive,
 * and scanned ahead of the merge, a bounded number at a time and the ones the merge reaches first
 * first (by their first entry in the read's direction), so that the threads decode the frames the
 * merge will reach while it merges others. docs/STORAGE.md, "Scans on worker threads".
 */
import { BinaryHeap } from '../../../core/src/binary-heap';
import type { BlockEntry } from '../../../core/src/block-format';
import type { LineFilter } from '../../../core/src/logql';
import * as K from './keys';
import type { FrameScan, KeptEntries, ScanPool } from './scan-pool';

// Frames smaller than this (raw bytes) are decoded on the main thread: posting one costs more.
const SCAN_MIN_RAW_BYTES = 16 * 1024;
// Frames of a read on the scan threads at once, per thread: enough that a thread never waits
// for the merge, bounded so that a read that stops early has not decoded far ahead.
const SCANS_PER_THREAD = 4;

/** A frame a read will merge, as the merge fetched it: its value and value header. */
export interface OfferedFrame {
  readonly value: Uint8Array;
  readonly h: K.FrameValueHeader;
}

/** The scans of one read with line filters. */
export class ScanAhead {
  /** Frames sent to the threads and not taken by the merge yet. */
  private ahead = 0;
  /** Fetched frames the read will merge, waiting for room on the threads. */
  private readonly waiting = new Set<Uint8Array>();
  /** The same, the first the merge reaches on top; a frame taken meanwhile stays until popped. */
  private readonly queue: BinaryHeap<OfferedFrame>;
  /** Scans started before the merge reached their frame, by the frame's value. */
  private readonly early = new Map<Uint8Array, Promise<FrameScan>>();

  constructor(
    private readonly pool: ScanPool,
    private readonly filters: readonly LineFilter[],
    private readonly start: bigint,
    private readonly end: bigint,
    forward: boolean,
  ) {
    this.queue = new BinaryHeap<OfferedFrame>(forward ? (a, b) => a.h.minTs < b.h.minTs : (a, b) => a.h.maxTs > b.h.maxTs);
  }

  /** Whether a frame goes to the threads (else the merge decodes it itself). */
  takes(h: K.FrameValueHeader): boolean {
    return h.rawLength >= SCAN_MIN_RAW_BYTES;
  }

  /** Offers fetched frames the read will merge; those the threads take are scanned as room allows. */
  offer(frames: readonly OfferedFrame[]): void {
    for (const frame of frames) {
      if (!this.takes(frame.h)) continue;
      this.waiting.add(frame.value);
      this.queue.push(frame);
    }
    this.pump();
  }

  /** What the threads kept of a frame the merge reached: its scan started ahead, or started now. */
  async take(value: Uint8Array, h: K.FrameValueHeader): Promise<FrameScan> {
    let scan = this.early.get(value);
    if (scan !== undefined) this.early.delete(value);
    else {
      this.waiting.delete(value);
      scan = this.launch(value, h);
    }
    try {
      return await scan;
    } finally {
      this.ahead--;
      this.pump();
    }
  }

  private launch(value: Uint8Array, h: K.FrameValueHeader): Promise<FrameScan> {
    this.ahead++;
    const { filters, start, end } = this;
    const done = this.pool.scan({ version: h.version, bytes: K.frameValueBytes(value), rawLength: h.rawLength, frameCrc: h.frameCrc, filters, start, end });
    // Taken when the merge reaches the frame, or never if the read stops first: never an unhandled rejection.
    done.catch(() => undefined);
    return done;
  }

  private pump(): void {
    const room = this.pool.threads * SCANS_PER_THREAD;
    while (this.ahead < room && this.queue.size > 0) {
      const { value, h } = this.queue.pop()!;
      if (!this.waiting.delete(value)) continue;
      this.early.set(value, this.launch(value, h));
    }
  }
}

/** The kept entries [from, to) of a scan, as entries. */
export function keptEntries(kept: KeptEntries, from: number, to: number): BlockEntry[] {
  const out: BlockEntry[] = new Array<BlockEntry>(to - from);
  for (let k = from; k < to; k++) {
    const e: BlockEntry = { ts: kept.ts[k]!, line: kept.lines[k]! };
    const attrs = kept.attrs?.[k];
    if (attrs !== undefined) e.attrs = attrs;
    out[k - from] = e;
  }
  return out;
}
