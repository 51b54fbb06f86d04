/**
 * Loki's push bodies (`POST /loki/api/v1/push`) → validated streams of entries, as Loki reads them
 * (its `pkg/loghttp/push`):
 *
 * - `Content-Type: application/json`: `{"streams":[{"stream":{labels},"values":[["<ns>","line"],
 *   ["<ns>","line",{structured metadata}]]}]}`. Any other type, or none, is a snappy-compressed
 *   (block format) `logproto.PushRequest`, as Loki reads every body that is not JSON.
 * - Label values that are empty are dropped, as Loki's parser drops them; a stream left with no
 *   label is refused. Structured metadata becomes the entry's `attrs`, names kept as given.
 * - Timestamps: Loki takes a decimal string of nanoseconds (a leading `+` allowed, as Go's
 *   ParseInt allows it); Silt also takes every form its native API takes (RFC 3339, s/ms/µs told
 *   apart by magnitude, JSON numbers). In protobuf, a google.protobuf.Timestamp; an absent one is
 *   the epoch, as in Loki (so it is refused as too old).
 *
 * Rejection indices: the stream's index in `streams` and the entry's in `values` (`entries`);
 * entry −1 for a stream refused as a whole when it has no entries to name.
 */
import protobuf from 'protobufjs';
import { uncompress, uncompressSync } from 'snappy';
import { ByteSource } from '../../../core/src/byte-source';
import { BadRequestError, PayloadTooLargeError } from '../../../core/src/errors';
import { parseLabelSet } from '../../../core/src/label-set';
import type { Labels } from '../../../core/src/labels';
import { PushBuilder, isJsonObject, kindOf, type ParsedPush, type PushLimits, type StreamSlot } from '../push/builder';
import { decodeUtf8Body, parseJson } from '../push/json';
import { parseMediaType } from '../push/media-type';
import { PushRequestText, type Int64, type PushRequestMessage } from './loki-proto';
import { walkPushRequest, type EntryFields, type PairFields, type PushVisitor } from './loki-wire';
import { strictTextReader } from './proto-reader';

/**
 * Decompressed sizes up to this are decompressed on the event loop, where the hop to libuv's thread
 * pool would cost more than the work; larger ones there, which keeps a core's worth of snappy off
 * the event loop under load (snappy costs a fifth of a protobuf push's parsing).
 */
const SYNC_SNAPPY_BYTES = 64 * 1024;
/** The default external output buffer costs about six times the decompression itself; a copy is cheaper. */
const SNAPPY_OPTIONS = { asBuffer: true, copyOutputData: true };
const SUPPORTED = 'application/json or application/x-protobuf (snappy-compressed)';
const TWO_POW_32 = 4294967296;

/** `labels[name] = value`, also for a name such as `__proto__` that plain assignment would not store. */
function setOwn(target: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/** The labels without those whose value is empty (Loki's parser drops them: an empty value means absent); the same object when none is. */
function withoutEmptyValues(labels: Record<string, unknown>): Record<string, unknown> {
  let empty = false;
  for (const name in labels) {
    if (labels[name] === '') {
      empty = true;
      break;
    }
  }
  if (!empty) return labels;
  const out: Record<string, string> = {};
  for (const name in labels) {
    const value = labels[name];
    if (value !== '') setOwn(out, name, value as string);
  }
  return out;
}

function isNameChar(c: number, first: boolean): boolean {
  return c === 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (!first && c >= 48 && c <= 57);
}

/** Index just past the label name that starts at `i`, or `i` when none does. */
function nameEnd(text: string, i: number): number {
  if (!isNameChar(text.charCodeAt(i), true)) return i;
  let j = i + 1;
  while (j < text.length && isNameChar(text.charCodeAt(j), false)) j++;
  return j;
}

function skipSpaces(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** True when a quote at `at` can close a loose value: what follows is `}` and the end, or `,` and then `}` or another `name=` and a quote. */
function closesLooseValue(text: string, at: number): boolean {
  let i = skipSpaces(text, at + 1);
  if (text[i] === '}') return skipSpaces(text, i + 1) === text.length;
  if (text[i] !== ',') return false;
  i = skipSpaces(text, i + 1);
  if (text[i] === '}') return skipSpaces(text, i + 1) === text.length;
  const end = nameEnd(text, i);
  if (end === i) return false;
  i = skipSpaces(text, end);
  if (text[i] !== '=') return false;
  i = skipSpaces(text, i + 1);
  return text[i] === '"' || text[i] === "'";
}

/**
 * Reads a label set whose values are written raw between quotes, as winston-loki writes them
 * (`{app="say "hi"",path="C:\dir"}`): no escapes, and a quote closes a value only where the text
 * can go on as a label set. Null when even that reading fails.
 */
function parseLooseLabels(text: string): Labels | null {
  const labels: Labels = {};
  let i = skipSpaces(text, 0);
  if (text[i] !== '{') return null;
  i = skipSpaces(text, i + 1);
  if (text[i] === '}') return skipSpaces(text, i + 1) === text.length ? labels : null;
  while (true) {
    const end = nameEnd(text, i);
    if (end === i) return null;
    const name = text.slice(i, end);
    if (Object.prototype.hasOwnProperty.call(labels, name)) return null;
    i = skipSpaces(text, end);
    if (text[i] !== '=') return null;
    i = skipSpaces(text, i + 1);
    const quote = text[i];
    if (quote !== '"' && quote !== "'") return null;
    let close = text.indexOf(quote, i + 1);
    while (close >= 0 && !closesLooseValue(text, close)) close = text.indexOf(quote, close + 1);
    if (close < 0) return null;
    setOwn(labels, name, text.slice(i + 1, close));
    i = skipSpaces(text, close + 1);
    if (text[i] === ',') i = skipSpaces(text, i + 1);
    if (text[i] === '}') return labels;
  }
}

/**
 * A stream's labels string (`{app="api", host="h1"}`): read as Loki reads it (selector syntax with
 * Go escapes, via the shared label-set parser); when that fails, read loosely (`parseLooseLabels`)
 * so the unescaped values some clients send are kept as they meant them. Returns the labels, or
 * the strict parser's reason.
 */
function parseLokiLabels(text: string): Labels | string {
  try {
    return parseLabelSet(text);
  } catch (err) {
    return parseLooseLabels(text) ?? (err as BadRequestError).message;
  }
}

/** Rejects every entry of stream `i` (or the stream itself, entry −1, when it has none) for the same reason. */
function rejectStream(b: PushBuilder, i: number, entries: number, code: string, reason: string): void {
  if (entries === 0) b.reject(i, -1, code, reason);
  for (let j = 0; j < entries; j++) b.reject(i, j, code, reason);
}

function parseJsonBody(body: Buffer, b: PushBuilder): void {
  const doc = parseJson(decodeUtf8Body(body));
  if (!isJsonObject(doc)) {
    throw new BadRequestError('SILT_BAD_PUSH_SHAPE', `request body must be a JSON object {"streams":[…]}, not ${kindOf(doc)}`, { field: '' });
  }
  const streams = doc.streams;
  // Loki reads a body without "streams" as a push of nothing.
  if (streams === undefined || streams === null) return;
  if (!Array.isArray(streams)) {
    throw new BadRequestError('SILT_BAD_PUSH_SHAPE', `field "streams" must be an array, not ${kindOf(streams)}`, { field: 'streams' });
  }
  for (let i = 0; i < streams.length; i++) {
    const s: unknown = streams[i];
    if (!isJsonObject(s)) {
      b.reject(i, -1, 'SILT_BAD_PUSH_SHAPE', `stream must be an object {"stream":{…},"values":[…]}, not ${kindOf(s)}`);
      continue;
    }
    const values = s.values ?? [];
    if (!Array.isArray(values)) {
      b.reject(i, -1, 'SILT_BAD_PUSH_SHAPE', `"values" must be an array of ["<ns>","line"] pairs, not ${kindOf(values)}`);
      continue;
    }
    const labels = s.stream ?? {};
    const slot = b.slot((isJsonObject(labels) ? withoutEmptyValues(labels) : labels) as Labels);
    if (slot.problem !== null) {
      rejectStream(b, i, values.length, 'SILT_BAD_LABELS', slot.problem);
      continue;
    }
    for (let j = 0; j < values.length; j++) {
      const v: unknown = values[j];
      if (!Array.isArray(v) || v.length < 2 || v.length > 3) {
        b.reject(i, j, 'SILT_BAD_ENTRY', `value must be ["<ns>","line"] or ["<ns>","line",{structured metadata}], not ${Array.isArray(v) ? `an array of ${v.length}` : kindOf(v)}`);
        continue;
      }
      let ts: unknown = v[0];
      if (typeof ts === 'string') {
        if (ts.charCodeAt(0) === 43) ts = ts.slice(1);
      } else if (typeof ts !== 'number') {
        b.reject(i, j, 'SILT_BAD_TIMESTAMP', `timestamp must be a string of nanoseconds since the epoch, not ${kindOf(ts)}`);
        continue;
      }
      const entry = b.entry(v[1], ts, v[2]);
      if (entry === null) b.reject(i, j, b.code, b.reason);
      else b.add(slot, entry);
    }
  }
}

/** Verdict on one labels string of a protobuf body: a slot, or a refusal. */
interface LabelsVerdict {
  slot: StreamSlot | null;
  code: string;
  problem: string;
}

const INVALID_LABELS: LabelsVerdict = { slot: null, code: 'SILT_INVALID_UTF8', problem: 'stream labels are not valid UTF-8' };

function labelsVerdict(text: string, b: PushBuilder): LabelsVerdict {
  const labels = parseLokiLabels(text);
  if (typeof labels === 'string') return { slot: null, code: 'SILT_BAD_LABELS', problem: labels };
  const slot = b.slot(withoutEmptyValues(labels) as Labels);
  return slot.problem === null ? { slot, code: '', problem: '' } : { slot: null, code: 'SILT_BAD_LABELS', problem: slot.problem };
}

/** Structured metadata as attrs, or null when a name or value is not valid UTF-8. */
function attrsOf(pairs: PairFields[]): Record<string, string> | null {
  const attrs: Record<string, string> = {};
  for (let k = 0; k < pairs.length; k++) {
    const { name, value } = pairs[k]!;
    if (typeof name !== 'string' || typeof value !== 'string') return null;
    setOwn(attrs, name, value);
  }
  return attrs;
}

function secondsOf(s: Int64): number {
  return typeof s === 'number' ? s : s.high * TWO_POW_32 + (s.low >>> 0);
}

/** Maps a PushRequest into the builder as it is walked, or from its decoded objects: one set of rules for both. */
class ProtobufMapper implements PushVisitor {
  // Clients send one StreamAdapter per label set and batch, but nothing stops repeats: parse each labels string once.
  private readonly verdicts = new Map<string, LabelsVerdict>();
  private verdict = INVALID_LABELS;
  private index = 0;
  private lastSeconds = -1;
  private secondsNs = 0n;

  /** The request the walk reads (where its line ranges point). */
  private readonly source: ByteSource;

  /** `body` is the request the walk reads. */
  constructor(
    private readonly b: PushBuilder,
    body: Buffer,
  ) {
    this.source = new ByteSource(body);
  }

  stream(index: number, labels: unknown): void {
    this.index = index;
    let verdict = INVALID_LABELS;
    if (typeof labels === 'string') {
      const known = this.verdicts.get(labels);
      if (known === undefined) this.verdicts.set(labels, (verdict = labelsVerdict(labels, this.b)));
      else verdict = known;
    }
    this.verdict = verdict;
  }

  entry(j: number, e: EntryFields): void {
    const b = this.b;
    const i = this.index;
    const slot = this.verdict.slot;
    if (slot === null) {
      b.reject(i, j, this.verdict.code, this.verdict.problem);
      return;
    }
    const walked = e.lineStart !== undefined;
    if (!walked && typeof e.line !== 'string') {
      b.reject(i, j, 'SILT_INVALID_UTF8', 'line is not valid UTF-8');
      return;
    }
    let attrs: Record<string, string> | null | undefined;
    if (e.structuredMetadata.length > 0) {
      attrs = attrsOf(e.structuredMetadata);
      if (attrs === null) {
        b.reject(i, j, 'SILT_INVALID_UTF8', 'structured metadata is not valid UTF-8');
        return;
      }
    }
    const seconds = e.timestamp ? secondsOf(e.timestamp.seconds) : 0;
    const nanos = e.timestamp ? e.timestamp.nanos : 0;
    if (seconds < 0 || !Number.isSafeInteger(seconds) || nanos < 0 || nanos > 999_999_999) {
      b.reject(i, j, 'SILT_BAD_TIMESTAMP', `timestamp {seconds: ${seconds}, nanos: ${nanos}} is not a valid google.protobuf.Timestamp at or after 1970`);
      return;
    }
    // A walked line goes from the body to the frame as bytes: no string, entry or BigInt for it.
    if (walked) {
      if (!b.addBytes(slot, seconds, nanos, this.source.range(e.lineStart!, e.lineEnd!), attrs ?? undefined)) b.reject(i, j, b.code, b.reason);
      return;
    }
    // Entries of a batch mostly share their second: its nanosecond base is computed once.
    if (seconds !== this.lastSeconds) {
      this.lastSeconds = seconds;
      this.secondsNs = BigInt(seconds) * 1_000_000_000n;
    }
    const entry = b.entry(e.line, this.secondsNs + BigInt(nanos), attrs);
    if (entry === null) b.reject(i, j, b.code, b.reason);
    else b.add(slot, entry);
  }

  end(entries: number): void {
    if (entries === 0 && this.verdict.slot === null) this.b.reject(this.index, -1, this.verdict.code, this.verdict.problem);
  }
}

/** Decodes a whole PushRequest into objects with strict text; a malformed body is a 400. */
function decodeRequest(body: Buffer): PushRequestMessage<unknown> {
  try {
    return PushRequestText.decode(strictTextReader(body)) as unknown as PushRequestMessage<unknown>;
  } catch (err) {
    throw new BadRequestError('SILT_MALFORMED_PROTOBUF', `request body is not a valid logproto.PushRequest: ${(err as Error).message}`);
  }
}

/** Maps a decoded PushRequest through the same mapper the walk feeds. */
function mapObjects(request: PushRequestMessage<unknown>, m: ProtobufMapper): void {
  for (let i = 0; i < request.streams.length; i++) {
    const s = request.streams[i]!;
    m.stream(i, s.labels);
    for (let j = 0; j < s.entries.length; j++) m.entry(j, s.entries[j] as EntryFields);
    m.end(s.entries.length);
  }
}

function corruptSnappy(why: string, type: string): BadRequestError {
  const hint = type === 'application/x-protobuf' ? '' : ` (a body of Content-Type "${type}" is read as snappy-compressed protobuf, as Loki reads every body that is not application/json)`;
  return new BadRequestError('SILT_BAD_COMPRESSED_BODY', `request body is not valid snappy data: ${why}${hint}`);
}

/**
 * Undoes the snappy block compression of a protobuf body. The block starts with its decompressed
 * length (a varint): a length over `cap` is refused with 413 before anything is decompressed.
 */
async function unsnappy(body: Buffer, cap: number, type: string): Promise<Buffer> {
  let length: number;
  try {
    length = protobuf.Reader.create(body).uint32();
  } catch {
    throw corruptSnappy('its length preamble is truncated', type);
  }
  if (length > cap) {
    throw new PayloadTooLargeError(`request body is over the ${cap}-byte limit once decompressed (its snappy preamble announces ${length} bytes)`, {
      limit: cap,
    });
  }
  try {
    return (length <= SYNC_SNAPPY_BYTES ? uncompressSync(body, SNAPPY_OPTIONS) : await uncompress(body, SNAPPY_OPTIONS)) as Buffer;
  } catch (err) {
    throw corruptSnappy((err as Error).message, type);
  }
}

/**
 * Parses and validates a Loki push body whose Content-Encoding is undone: JSON, or (any other
 * Content-Type, or none) snappy-compressed protobuf, decompressed under `maxDecompressedBytes`.
 * Whole-request problems (empty body, JSON syntax or shape, snappy, protobuf framing, a charset
 * other than UTF-8) throw a SiltError; everything else is a rejection (see the module comment).
 */
export async function parseLokiPush(
  body: Buffer,
  contentType: string | undefined,
  receivedNs: bigint,
  limits: PushLimits,
  maxDecompressedBytes: number,
): Promise<ParsedPush> {
  const { type } = parseMediaType(contentType, SUPPORTED, 'application/x-protobuf');
  // Loki answers an empty body with 400 too (JSON: EOF; protobuf: corrupt snappy input).
  if (body.length === 0) throw new BadRequestError('SILT_EMPTY_BODY', 'request body is empty');
  const b = new PushBuilder(limits, receivedNs);
  if (type === 'application/json') {
    parseJsonBody(body, b);
    return b.result();
  }
  const proto = await unsnappy(body, maxDecompressedBytes, type);
  try {
    walkPushRequest(proto, new ProtobufMapper(b, proto));
    return b.result();
  } catch {
    // The whole decode below throws the error this body has always been answered with.
  }
  const decoded = new PushBuilder(limits, receivedNs);
  mapObjects(decodeRequest(proto), new ProtobufMapper(decoded, proto));
  return decoded.result();
}
