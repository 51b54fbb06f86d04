/**
 * One batch of syslog messages for the distributor: each framed message parsed, given its stream
 * labels and attributes, and validated by the shared PushBuilder. Syslog cannot tell a sender that a
 * message was refused, so what the builder refuses is stored in a weaker form instead of dropped: at
 * the receive time (original in `syslog_timestamp`) when its timestamp is unusable or out of bounds,
 * as the raw line (`syslog_error: attrs_over_limit`) when its structured data is over the attribute
 * limits. Only a label set the limits refuse is rejected, and the distributor counts it.
 */
import { PushBuilder, type ParsedPush, type PushEntry, type PushLimits, type StreamSlot } from '../push/builder';
import type { Labels } from '../../../core/src/labels';
import type { SyslogError, SyslogParser } from './parse';

/** Builder codes after which the message is stored at its receive time. */
const TIMESTAMP_CODES = new Set(['SILT_BAD_TIMESTAMP', 'SILT_TOO_OLD', 'SILT_TOO_NEW']);

/** Messages of one connection (or of the UDP socket) on their way to one `distributor.push`. */
export class SyslogBatch {
  readonly builder: PushBuilder;
  /** Messages added, accepted or not. */
  messages = 0;
  /** Their bytes as framed (cut messages count what was kept). */
  bytes = 0;
  /** Messages cut to the line limit. */
  truncated = 0;
  /** Messages stored with a `syslog_error`, by reason. */
  readonly malformed = new Map<SyslogError, number>();
  private readonly slots = new Map<Labels, StreamSlot>();
  private lastLabels: Labels | null = null;
  private lastSlot: StreamSlot | null = null;

  constructor(
    private readonly parser: SyslogParser,
    limits: PushLimits,
    receivedNs: bigint,
  ) {
    this.builder = new PushBuilder(limits, receivedNs);
    parser.setReceiveTime(receivedNs);
  }

  /** Adds one message, bytes [start, end) of `buf` (see `FrameHandler` for `size` and `utf8`). */
  add(buf: Buffer, start: number, end: number, size: number, utf8: boolean): void {
    const parser = this.parser;
    const f = parser.parse(buf, start, end, size, utf8);
    if (f === null) return;
    const index = this.messages++;
    this.bytes += end - start;
    const slot = this.slotOf(parser.labels());
    const b = this.builder;
    if (slot.problem !== null) {
      b.reject(0, index, 'SILT_BAD_LABELS', slot.problem);
      return;
    }
    let attrs = f.attrs;
    if (f.ts === undefined && f.tsStart >= 0) (attrs ??= {}).syslog_timestamp = parser.timestampText(buf);
    let entry = b.entry(f.line, f.ts, withNotes(attrs, f.error, f.truncated, size));
    if (entry === null && TIMESTAMP_CODES.has(b.code)) {
      (attrs ??= {}).syslog_timestamp = parser.timestampText(buf);
      if (b.code === 'SILT_BAD_TIMESTAMP') f.error ??= 'bad_timestamp';
      entry = b.entry(f.line, undefined, withNotes(attrs, f.error, f.truncated, size));
    }
    if (entry === null && b.code === 'SILT_BAD_ATTRS') entry = this.asRaw(buf, start, end, size, utf8);
    if (entry === null) {
      b.reject(0, index, b.code, b.reason);
      return;
    }
    if (f.truncated) this.truncated++;
    if (f.error !== undefined) this.malformed.set(f.error, (this.malformed.get(f.error) ?? 0) + 1);
    b.add(slot, entry);
  }

  /** True once the batch holds `maxEntries` messages or `maxBytes` bytes. */
  full(maxEntries: number, maxBytes: number): boolean {
    return this.messages >= maxEntries || this.bytes >= maxBytes;
  }

  /** The push, for `distributor.push`. */
  result(): ParsedPush {
    return this.builder.result();
  }

  /** The message again, whole, as the line, under the same labels and at the receive time. */
  private asRaw(buf: Buffer, start: number, end: number, size: number, utf8: boolean): PushEntry | null {
    const f = this.parser.raw(buf, start, end, utf8, 'attrs_over_limit');
    return this.builder.entry(f.line, undefined, withNotes(undefined, f.error, f.truncated, size));
  }

  private slotOf(labels: Labels): StreamSlot {
    if (labels === this.lastLabels) return this.lastSlot!;
    let slot = this.slots.get(labels);
    if (slot === undefined) {
      slot = this.builder.slot(labels);
      this.slots.set(labels, slot);
    }
    this.lastLabels = labels;
    this.lastSlot = slot;
    return slot;
  }
}

/** `attrs` plus `syslog_error` and `syslog_truncated` (the message's size as received) where they apply. */
function withNotes(attrs: Record<string, string> | undefined, error: SyslogError | undefined, truncated: boolean, size: number): Record<string, string> | undefined {
  if (error === undefined && !truncated) return attrs;
  const out = attrs ?? {};
  if (error !== undefined) out.syslog_error = error;
  if (truncated) out.syslog_truncated = String(size);
  return out;
}
