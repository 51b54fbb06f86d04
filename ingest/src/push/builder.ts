/**
 * The validating push builder every protocol fills: label rules, line and attribute limits, UTF-8
 * and timestamp bounds live here once, so a Loki, OTLP, Elasticsearch, syslog or native push is
 * refused for the same reasons with the same codes. Pure logic on ingest's hot path: labels are
 * validated once per distinct set, and an accepted entry costs one object.
 */
import { isUtf8 } from 'node:buffer';
import type { IngestSettings } from '../../../core/src/config';
import { isWellFormedString, labelsProblem } from '../../../core/src/label-set';
import { labelsKey, type Labels } from '../../../core/src/labels';
import { RunWriter, encodeAttrs, type PayloadRun } from '../../../core/src/payload-run';
import { LAST_SAFE_SECOND, parseTimestamp, rfc3339Bytes, splitNs, splitTimestamp, type SecondsAndNanos } from '../../../core/src/time';

/** Validation limits of a push (from `IngestSettings`, times in ns). */
export interface PushLimits {
  maxLineBytes: number;
  maxLabels: number;
  maxLabelValueBytes: number;
  maxLabelNameBytes: number;
  /** Oldest accepted timestamp, as a distance before the receive time. */
  maxPastNs: bigint;
  /** Newest accepted timestamp, as a distance after the receive time. */
  maxFutureNs: bigint;
  /** Attributes per entry. */
  maxAttrs: number;
  /** UTF-8 bytes of all attribute names and values of one entry together. */
  maxAttrBytes: number;
}

/** The push limits of an ingest configuration. */
export function pushLimits(s: IngestSettings): PushLimits {
  return {
    maxLineBytes: s.maxLineBytes,
    maxLabels: s.maxLabels,
    maxLabelNameBytes: s.maxLabelNameBytes,
    maxLabelValueBytes: s.maxLabelValueBytes,
    maxAttrs: s.maxAttrs,
    maxAttrBytes: s.maxAttrBytes,
    maxPastNs: BigInt(s.maxPastMs) * 1_000_000n,
    maxFutureNs: BigInt(s.maxFutureMs) * 1_000_000n,
  };
}

/** One accepted entry; structurally identical to `BlockEntry` of core/src/block-format. */
export interface PushEntry {
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}

/** Accepted entries of one label set, in push order: as objects, or (from protocols that read lines as bytes) as payload runs. */
export interface PushStream {
  labels: Labels;
  entries: PushEntry[];
  /** Entries written straight into the frame format (`addBytes`); a stream has these or `entries`, not both. */
  runs?: PayloadRun[];
}

/** One refused entry: `stream` and `entry` index it in the request (each protocol says how), `code` is a `SILT_…` code. */
export interface Rejection {
  stream: number;
  entry: number;
  code: string;
  reason: string;
}

/** The outcome of a push body: accepted entries grouped by label set (first-seen order) and the rejections, in request order. */
export interface ParsedPush {
  streams: PushStream[];
  accepted: number;
  rejected: Rejection[];
  /**
   * UTF-8 bytes of each stream's lines, in `streams` order, when the protocol knew them for every
   * entry (a wire length, a byte range): the batcher then need not read each entry again, which
   * costs most where a body interleaves streams and their entries lie far apart in memory.
   */
  lineBytes?: number[];
}

/** What a protocol's stream handle is before its first accepted entry: the verdict on its labels. */
export interface StreamSlot {
  /** Null when the labels are valid; else why not (a `SILT_BAD_LABELS` reason). */
  problem: string | null;
  key: string;
  labels: Labels;
  stream: PushStream | undefined;
  /** UTF-8 bytes of the lines `add` was told of for this stream. */
  lineBytes: number;
  /** Where `addBytes` writes this stream's entries. */
  runs?: RunWriter;
}

/** JSON.parse only makes plain objects and arrays, so this is `isPlainObject` for parsed JSON, cheaper. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "an object", "a string", "null": what a value is, for messages. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A duration for people: "7 days", "1 hour", "2.5 minutes", "0.001 seconds". */
function formatDuration(ns: bigint): string {
  const s = Number(ns) / 1e9;
  const [amount, unit] = s >= 86400 ? [s / 86400, 'day'] : s >= 3600 ? [s / 3600, 'hour'] : s >= 60 ? [s / 60, 'minute'] : [s, 'second'];
  const rounded = +amount.toFixed(s >= 60 ? 2 : 3);
  return `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
}

function isoOf(ns: bigint): string {
  const ms = ns / 1_000_000n;
  return new Date(Number(ms)).toISOString().replace(/\.\d+Z$/, '.' + (ns % 1_000_000_000n).toString().padStart(9, '0') + 'Z');
}

/** A name quoted for a message, cut to 64 characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? name.slice(0, 64) + '…' : name);
}

const LONE_SURROGATE = 'line is not valid UTF-8: it holds a lone surrogate (a \\ud800–\\udfff escape without its pair)';

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Accumulates the outcome of one push; see the module comment. */
export class PushBuilder {
  readonly streams: PushStream[] = [];
  readonly rejected: Rejection[] = [];
  accepted = 0;
  /** Canonical labels key → its stream in `streams`. */
  private readonly groups = new Map<string, PushStream>();
  /** Verdicts on label sets already seen, by canonical key. */
  private readonly slots = new Map<string, StreamSlot>();
  private readonly minTs: bigint;
  private readonly maxTs: bigint;
  /** minTs and maxTs in whole seconds and nanoseconds, as `addBytes` compares them. */
  private readonly minSeconds: number;
  private readonly minNanos: number;
  private readonly maxSeconds: number;
  private readonly maxNanos: number;
  /** The last attrs object `entry()` accepted, and how many attributes it has. */
  private lastAttrs: unknown = undefined;
  private lastAttrsCount = 0;
  /** The frame-format bytes of `lastAttrs`, once `addBytes` needed them. */
  private lastAttrsBytes: Uint8Array | undefined = undefined;
  /** Entries added with their line's length. */
  private counted = 0;
  /** The timestamp the last successful `when` read. */
  readonly at: SecondsAndNanos = { seconds: 0, nanos: 0 };
  /** Why the last `entry()` call returned null. */
  code = '';
  reason = '';

  constructor(
    readonly limits: PushLimits,
    readonly receivedNs: bigint,
  ) {
    this.minTs = receivedNs - limits.maxPastNs;
    this.maxTs = receivedNs + limits.maxFutureNs;
    this.minSeconds = Number(this.minTs / 1_000_000_000n);
    this.minNanos = Number(this.minTs % 1_000_000_000n);
    this.maxSeconds = Number(this.maxTs / 1_000_000_000n);
    this.maxNanos = Number(this.maxTs % 1_000_000_000n);
  }

  /** Records one refused entry (or, with `entry` −1, a refused stream). */
  reject(stream: number, entry: number, code: string, reason: string): void {
    this.rejected.push({ stream, entry, code, reason });
  }

  /** The stream of a (valid) label set, created on first use; `key` is its `labelsKey`. */
  group(key: string, labels: Labels): PushStream {
    let s = this.groups.get(key);
    if (s === undefined) {
      s = { labels, entries: [] };
      this.groups.set(key, s);
      this.streams.push(s);
    }
    return s;
  }

  /**
   * The slot of a label set a protocol built itself (a plain object of strings): validated once per
   * distinct set, whatever order its names came in. Add entries with `add(slot, entry)`.
   */
  slot(labels: Labels): StreamSlot {
    const problem = labelsProblem(labels, this.limits);
    if (problem !== null) return { problem, key: '', labels, stream: undefined, lineBytes: 0 };
    const key = labelsKey(labels);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { problem: null, key, labels, stream: undefined, lineBytes: 0 };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** Adds an accepted entry to a slot whose labels are valid; `lineBytes` is its line's UTF-8 length when the protocol knows it (else −1). */
  add(slot: StreamSlot, entry: PushEntry, lineBytes = -1): void {
    (slot.stream ??= this.group(slot.key, slot.labels)).entries.push(entry);
    this.accepted++;
    if (lineBytes >= 0) {
      slot.lineBytes += lineBytes;
      this.counted++;
    }
  }

  private fail(code: string, reason: string): null {
    this.code = code;
    this.reason = reason;
    return null;
  }

  private refuse(code: string, reason: string): false {
    this.fail(code, reason);
    return false;
  }

  /** The timestamp an entry's `ts` gives (absent: the receive time), or null with `code`/`reason` set. */
  private timeOf(ts: unknown): bigint | null {
    if (ts === undefined || ts === null) return this.receivedNs;
    let t: bigint;
    try {
      t = parseTimestamp(ts);
    } catch (err) {
      return this.fail('SILT_BAD_TIMESTAMP', (err as Error).message);
    }
    return t < this.minTs || t > this.maxTs ? this.outOfRange(t) : t;
  }

  /**
   * Reads an entry's `ts` as `entry` reads it, for `addBytes` or `addText`: true with `at` set to
   * its seconds and nanoseconds, or false with `code`/`reason` set.
   */
  when(ts: unknown): boolean {
    const at = this.at;
    if (ts === undefined || ts === null) {
      splitNs(this.receivedNs, at);
      return true;
    }
    try {
      splitTimestamp(ts, at);
    } catch (err) {
      return this.refuse('SILT_BAD_TIMESTAMP', (err as Error).message);
    }
    return this.within(at.seconds, at.nanos);
  }

  /**
   * `when` for a timestamp given as the bytes src[start, end) of an RFC 3339 time with its zone
   * (an Elasticsearch document read in place): true with `at` set, false with `code`/`reason` set,
   * as `when` answers their text; null when the bytes are not of that shape (or outside the range
   * the bytes are read in), for the caller to read them as text.
   */
  whenRfc3339(src: Uint8Array, start: number, end: number): boolean | null {
    const at = this.at;
    try {
      if (!rfc3339Bytes(src, start, end, at) || at.seconds < 0 || at.seconds > LAST_SAFE_SECOND) return null;
    } catch (err) {
      return this.refuse('SILT_BAD_TIMESTAMP', (err as Error).message);
    }
    return this.within(at.seconds, at.nanos);
  }

  /** True when a timestamp of `seconds` and `nanos` is inside the accepted range; else false, with `code`/`reason` saying how far outside. */
  private within(seconds: number, nanos: number): boolean {
    if (seconds < this.minSeconds || (seconds === this.minSeconds && nanos < this.minNanos) || seconds > this.maxSeconds || (seconds === this.maxSeconds && nanos > this.maxNanos)) {
      this.outOfRange(BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
      return false;
    }
    return true;
  }

  /** Null, with `code`/`reason` saying how far `t` is outside the accepted range. */
  private outOfRange(t: bigint): null {
    if (t < this.minTs) {
      return this.fail(
        'SILT_TOO_OLD',
        `timestamp ${isoOf(t)} is ${formatDuration(this.receivedNs - t)} before the receive time, older than the ${formatDuration(this.limits.maxPastNs)} limit`,
      );
    }
    return this.fail(
      'SILT_TOO_NEW',
      `timestamp ${isoOf(t)} is ${formatDuration(t - this.receivedNs)} after the receive time, beyond the ${formatDuration(this.limits.maxFutureNs)} limit`,
    );
  }

  /**
   * Validates one entry read as bytes — its line (a view of the request body's bytes), its timestamp in whole seconds
   * and nanoseconds (nanos in [0, 1e9)) — and writes it into the slot's runs, with no object per
   * entry; false, with `code`/`reason` set, when refused (for the reasons, in the order, `entry`
   * has; `utf8Checked` when the caller has checked the line's UTF-8 already). A slot takes entries
   * this way (or `addText`) or through `add`, not both.
   */
  addBytes(slot: StreamSlot, seconds: number, nanos: number, line: Uint8Array, attrs?: Record<string, string>, utf8Checked = false): boolean {
    if (!utf8Checked && !isUtf8(line)) return this.refuse('SILT_INVALID_UTF8', 'line is not valid UTF-8');
    const length = line.length;
    const max = this.limits.maxLineBytes;
    if (length > max) return this.refuse('SILT_LINE_TOO_LONG', `line is ${length} bytes, over the ${max}-byte limit`);
    return this.toRun(slot, seconds, nanos, line, attrs);
  }

  /** `addBytes` for a line that is a string (a structured body rendered as JSON, say), among entries added as bytes. */
  addText(slot: StreamSlot, seconds: number, nanos: number, line: string, attrs?: Record<string, string>): boolean {
    const max = this.limits.maxLineBytes;
    const length = byteLength(line);
    if (length > max) return this.refuse('SILT_LINE_TOO_LONG', `line is ${length} bytes, over the ${max}-byte limit`);
    if (!isWellFormedString(line)) return this.refuse('SILT_INVALID_UTF8', LONE_SURROGATE);
    return this.toRun(slot, seconds, nanos, Buffer.from(line), attrs);
  }

  private toRun(slot: StreamSlot, seconds: number, nanos: number, line: Uint8Array, attrs: Record<string, string> | undefined): boolean {
    if (!this.within(seconds, nanos)) return false;
    let encoded = RunWriter.NO_ATTRS;
    if (attrs !== undefined) {
      // As in `entry`: entries that share one attrs object share one check, and here its bytes.
      if (attrs !== this.lastAttrs) {
        const n = this.attrsCount(attrs);
        if (n < 0) return false;
        this.lastAttrs = attrs;
        this.lastAttrsCount = n;
        this.lastAttrsBytes = undefined;
      }
      encoded = this.lastAttrsBytes ??= this.lastAttrsCount === 0 ? RunWriter.NO_ATTRS : encodeAttrs(attrs);
    }
    slot.stream ??= this.group(slot.key, slot.labels);
    (slot.runs ??= new RunWriter()).append(seconds, nanos, line, encoded);
    this.accepted++;
    this.counted++;
    slot.lineBytes += line.length;
    return true;
  }

  /** Validates one entry's fields; returns the entry, or null with `code`/`reason` set. `ts` absent (undefined or null) means the receive time. */
  entry(line: unknown, ts: unknown, attrs: unknown): PushEntry | null {
    if (typeof line !== 'string') {
      return this.fail('SILT_BAD_ENTRY', line === undefined ? 'entry has no "line"' : `"line" must be a string, not ${kindOf(line)}`);
    }
    const max = this.limits.maxLineBytes;
    // A UTF-16 length bounds the UTF-8 length from below (×1) and above (×3): count bytes only when it matters.
    if (line.length * 3 > max) {
      const bytes = byteLength(line);
      if (bytes > max) return this.fail('SILT_LINE_TOO_LONG', `line is ${bytes} bytes, over the ${max}-byte limit`);
    }
    if (!isWellFormedString(line)) {
      return this.fail('SILT_INVALID_UTF8', LONE_SURROGATE);
    }
    const t = this.timeOf(ts);
    if (t === null) return null;
    if (attrs === undefined || attrs === null) return { ts: t, line };
    // Protocols share one attrs object across entries (OTLP: per scope and severity); entries never change it, so one check holds for all.
    let n: number;
    if (attrs === this.lastAttrs) n = this.lastAttrsCount;
    else {
      n = this.attrsCount(attrs);
      if (n < 0) return null;
      this.lastAttrs = attrs;
      this.lastAttrsCount = n;
      this.lastAttrsBytes = undefined;
    }
    return n === 0 ? { ts: t, line } : { ts: t, line, attrs: attrs as Record<string, string> };
  }

  /** Number of valid attributes, or -1 with `code`/`reason` set. */
  private attrsCount(attrs: unknown): number {
    if (!isJsonObject(attrs)) {
      this.fail('SILT_BAD_ATTRS', `"attrs" must be an object of string values, not ${kindOf(attrs)}`);
      return -1;
    }
    const { maxAttrs, maxAttrBytes } = this.limits;
    const names = Object.keys(attrs);
    if (names.length > maxAttrs) {
      this.fail('SILT_BAD_ATTRS', `entry has ${names.length} attributes, over the limit of ${maxAttrs}`);
      return -1;
    }
    let units = 0;
    for (const name of names) {
      const value = attrs[name];
      if (name.length === 0) {
        this.fail('SILT_BAD_ATTRS', 'attribute names must not be empty');
        return -1;
      }
      if (typeof value !== 'string') {
        this.fail('SILT_BAD_ATTRS', `attribute ${quote(name)} must have a string value, not ${kindOf(value)}`);
        return -1;
      }
      if (!isWellFormedString(name) || !isWellFormedString(value)) {
        this.fail('SILT_BAD_ATTRS', `attribute ${quote(name)} is not valid UTF-8: it holds a lone surrogate`);
        return -1;
      }
      units += name.length + value.length;
    }
    if (units * 3 > maxAttrBytes) {
      let bytes = 0;
      for (const name of names) bytes += byteLength(name) + byteLength(attrs[name] as string);
      if (bytes > maxAttrBytes) {
        this.fail('SILT_BAD_ATTRS', `attributes are ${bytes} bytes, over the ${maxAttrBytes}-byte limit`);
        return -1;
      }
    }
    return names.length;
  }

  /** The outcome so far; with `lineBytes` when every entry came through `add` with its length. */
  result(): ParsedPush {
    for (const slot of this.slots.values()) if (slot.runs !== undefined) slot.stream!.runs = slot.runs.finish();
    const out: ParsedPush = { streams: this.streams, accepted: this.accepted, rejected: this.rejected };
    if (this.accepted > 0 && this.counted === this.accepted) {
      // Streams with entries come from slots of the same key, in the same order.
      out.lineBytes = [];
      for (const key of this.groups.keys()) out.lineBytes.push(this.slots.get(key)!.lineBytes);
    }
    return out;
  }
}
