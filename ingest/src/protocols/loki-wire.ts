/**
 * A streaming reader of a binary `logproto.PushRequest`: it walks the request with protobufjs's
 * Reader (the strict-text one of proto-reader.ts) and hands each stream's labels and each entry to
 * a visitor as it reaches them, instead of building the whole request as objects first. An entry
 * is read into one reused object shaped as protobufjs decodes an `EntryAdapter`, so one mapper
 * reads both, except for its line: the walk gives where the line's bytes are, not a string (the
 * mapper copies them to the frame as they are); its timestamp is a reused object too.
 *
 * Every message is read as protobufjs's generated decoders read it (field numbers of Loki's
 * `push.proto`, see loki-proto.ts): fields by number whatever their wire type, the last of a
 * repeated singular field winning, unknown fields skipped at the same depth, the same bounds
 * checked. So the walk throws on every input the object decode throws on; a caller that falls
 * back to the object decode on any throw keeps its outcome for every input. A stream's labels must
 * come before its entries: labels the wire carries after them throw LateField, for that fallback.
 */
import type protobuf from 'protobufjs';
import type { Int64 } from './loki-proto';
import { enter, leave, LateField, sameBytes, strictTextReader } from './proto-reader';

/** A `google.protobuf.Timestamp` as the walk and protobufjs read it. */
export interface TimestampFields {
  seconds: Int64;
  nanos: number;
}

/** A structured-metadata pair: each text a string, or INVALID_TEXT where its bytes are not UTF-8. */
export interface PairFields {
  name: unknown;
  value: unknown;
}

/**
 * An `EntryAdapter` as the walk and protobufjs read it. protobufjs gives `line`, a string (or
 * INVALID_TEXT where its bytes are not UTF-8); the walk gives `lineStart` and `lineEnd`, where its
 * bytes are in the walked body, unchecked.
 */
export interface EntryFields {
  timestamp: TimestampFields | null;
  line?: unknown;
  lineStart?: number;
  lineEnd?: number;
  structuredMetadata: PairFields[];
}

/** What a walk hands over, in wire order. */
export interface PushVisitor {
  /** The labels text of `streams[index]` (a string, or INVALID_TEXT), before its entries. */
  stream(index: number, labels: unknown): void;
  /** Entry `index` of the current stream; the object is reused for the next entry. */
  entry(index: number, entry: EntryFields): void;
  /** The end of the current stream, which had `entries` entries. */
  end(entries: number): void;
}

/** An entry without structured metadata: never written to, so entries share it. */
const NO_PAIRS: PairFields[] = [];

/** Reads one request; the entry and timestamp objects are reused across entries. */
class Walker {
  private readonly r: protobuf.Reader;
  private readonly entryFields: EntryFields = { timestamp: null, lineStart: 0, lineEnd: 0, structuredMetadata: NO_PAIRS };
  private readonly timestampFields: TimestampFields = { seconds: 0, nanos: 0 };
  /** The last seconds varint read (where its bytes are, how many, and its value): a batch's entries mostly share their second. */
  private secondsStart = 0;
  private secondsLength = 0;
  private lastSeconds: Int64 = 0;

  constructor(
    private readonly body: Buffer,
    private readonly visit: PushVisitor,
  ) {
    this.r = strictTextReader(body);
  }

  /** PushRequest (depth 0): streams = 1. */
  request(): void {
    const r = this.r;
    let index = 0;
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t >>> 3 === 1) this.streamAdapter(r.uint32(), index++);
      else r.skipType(t & 7, 0);
    }
  }

  /** StreamAdapter (depth 1): labels = 1, entries = 2, hash = 3. */
  private streamAdapter(length: number, index: number): void {
    const r = this.r;
    const outer = enter(r, length);
    let labels: unknown = '';
    let entries = 0;
    while (r.pos < r.len) {
      const t = r.uint32();
      switch (t >>> 3) {
        case 1:
          if (entries > 0) throw new LateField('stream labels after its entries');
          labels = r.string();
          break;
        case 2:
          if (entries === 0) this.visit.stream(index, labels);
          this.entryAdapter(r.uint32(), entries++);
          break;
        case 3:
          r.uint64();
          break;
        default:
          r.skipType(t & 7, 1);
      }
    }
    leave(r, outer);
    if (entries === 0) this.visit.stream(index, labels);
    this.visit.end(entries);
  }

  /** EntryAdapter (depth 2): timestamp = 1, line = 2, structuredMetadata = 3. */
  private entryAdapter(length: number, index: number): void {
    const r = this.r;
    const e = this.entryFields;
    e.timestamp = null;
    e.lineStart = e.lineEnd = 0;
    e.structuredMetadata = NO_PAIRS;
    const outer = enter(r, length);
    while (r.pos < r.len) {
      const t = r.uint32();
      switch (t >>> 3) {
        case 1:
          e.timestamp = this.timestamp(r.uint32());
          break;
        case 2: {
          const length = r.uint32();
          e.lineStart = r.pos;
          r.skip(length);
          e.lineEnd = r.pos;
          break;
        }
        case 3:
          if (e.structuredMetadata === NO_PAIRS) e.structuredMetadata = [];
          e.structuredMetadata.push(this.pair(r.uint32()));
          break;
        default:
          r.skipType(t & 7, 2);
      }
    }
    leave(r, outer);
    this.visit.entry(index, e);
  }

  /** Timestamp (depth 3): seconds = 1, nanos = 2; a repeated one replaces the last, as in protobufjs. */
  private timestamp(length: number): TimestampFields {
    const r = this.r;
    const ts = this.timestampFields;
    ts.seconds = 0;
    ts.nanos = 0;
    const outer = enter(r, length);
    while (r.pos < r.len) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 1) ts.seconds = this.seconds();
      else if (field === 2) ts.nanos = r.int32();
      else r.skipType(t & 7, 3);
    }
    leave(r, outer);
    return ts;
  }

  /**
   * A Timestamp's seconds (int64): the same bytes as the last seconds read are the same whole
   * varint (those bytes ended one), so they give its value without a Long made per entry.
   */
  private seconds(): Int64 {
    const r = this.r;
    const at = r.pos;
    const n = this.secondsLength;
    if (n > 0 && at + n <= r.len && sameBytes(this.body, at, this.secondsStart, n)) {
      r.pos = at + n;
      return this.lastSeconds;
    }
    this.lastSeconds = r.int64() as unknown as Int64;
    this.secondsStart = at;
    this.secondsLength = r.pos - at;
    return this.lastSeconds;
  }

  /** LabelPairAdapter (depth 3): name = 1, value = 2. */
  private pair(length: number): PairFields {
    const r = this.r;
    const p: PairFields = { name: '', value: '' };
    const outer = enter(r, length);
    while (r.pos < r.len) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 1) p.name = r.string();
      else if (field === 2) p.value = r.string();
      else r.skipType(t & 7, 3);
    }
    leave(r, outer);
    return p;
  }
}

/** Walks a binary PushRequest, calling `visit` as it goes (see the module comment); throws on malformed input. */
export function walkPushRequest(body: Buffer, visit: PushVisitor): void {
  new Walker(body, visit).request();
}
