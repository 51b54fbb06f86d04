/**
 * Positions in the total order of reads (DESIGN Guarantee 5): timestamp, then stream id, then the
 * entry's place in Kafka (partition, offset, frame, index). Used to resume a read strictly after an entry.
 */
import { BadRequestError } from './errors';

/** Where an entry stands in the read order. */
export interface EntryPosition {
  ts: bigint;
  streamId: bigint;
  partition: number;
  offset: bigint;
  frame: number;
  index: number;
}

/** Compares two positions in forward order: negative when `a` comes first; ±Infinity work as bounds in the number fields. */
export function comparePositions(a: EntryPosition, b: EntryPosition): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.streamId !== b.streamId) return a.streamId < b.streamId ? -1 : 1;
  if (a.partition !== b.partition) return a.partition < b.partition ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  if (a.frame !== b.frame) return a.frame < b.frame ? -1 : 1;
  if (a.index !== b.index) return a.index < b.index ? -1 : 1;
  return 0;
}

/** Text form of a position, `ts:streamId:partition:offset:frame:index` in decimal. */
export function formatPosition(p: EntryPosition): string {
  return `${p.ts}:${p.streamId}:${p.partition}:${p.offset}:${p.frame}:${p.index}`;
}

/** Parses `formatPosition` output; anything else is a 400. */
export function parsePosition(text: string): EntryPosition {
  const m = /^(-?\d{1,19}):(\d{1,20}):(\d{1,6}):(\d{1,19}):(\d{1,5}):(\d{1,9})$/.exec(text);
  if (!m) throw new BadRequestError('SILT_BAD_POSITION', `invalid position "${text.slice(0, 100)}"`);
  return { ts: BigInt(m[1]!), streamId: BigInt(m[2]!), partition: Number(m[3]), offset: BigInt(m[4]!), frame: Number(m[5]), index: Number(m[6]) };
}

/** Text form of per-partition offsets (a read's snapshot), `p:offset,p:offset` in decimal. */
export function formatOffsets(offsets: ReadonlyMap<number, bigint>): string {
  return [...offsets].map(([p, o]) => `${p}:${o}`).join(',');
}

/** Parses `formatOffsets` output; `bad` names what was wrong, in the caller's error. */
export function parseOffsets(text: string, bad: (part: string) => Error): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const part of text.split(',').filter((s) => s !== '')) {
    const m = /^(\d{1,6}):(\d{1,19})$/.exec(part);
    if (!m) throw bad(part);
    out.set(Number(m[1]), BigInt(m[2]!));
  }
  return out;
}
