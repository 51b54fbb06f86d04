/**
 * A streaming reader of a binary `ExportLogsServiceRequest`: it walks the request with protobufjs's
 * Reader (the strict-text one of proto-reader.ts) and hands each resource, scope and log record to
 * a visitor as it reaches them, instead of building the whole request as objects first. A record
 * is read into one reused object whose properties are named as protobufjs names them, so the
 * mapper reads both alike; its string body (most bodies) is not decoded: the visitor is told where
 * its bytes are, to copy them as they are. Resources, scopes, attributes and other bodies are
 * decoded by protobufjs itself, at the nesting depth it would give them.
 *
 * Every message is read as protobufjs's generated decoders read it: fields by number whatever
 * their wire type, the last of a repeated singular field winning, unknown fields skipped, the same
 * bounds checked. So the walk throws on every input the object decode throws on; a caller that
 * falls back to the object decode on any throw keeps its outcome for every input. A resource or
 * scope must be known before its records are mapped: one that the wire carries after them throws
 * LateField, for that fallback.
 */
import type protobuf from 'protobufjs';
import { AnyValue, InstrumentationScope, KeyValue, Resource } from './otlp-proto';
import { enter, leave, LateField, sameBytes, strictTextReader } from './proto-reader';
import type { OtlpMessage } from './otlp-value';

/** What a walk hands over, in wire order: a resource before its scopes, a scope before its records. */
export interface LogsVisitor {
  /** The start of `resourceLogs[index]`, with its resource (null when it has none). */
  resource(index: number, resource: OtlpMessage | null): void;
  /** The start of a ScopeLogs of the current resource, with its scope (null when it has none). */
  scope(scope: OtlpMessage | null): void;
  /**
   * A log record of the current scope, with what `wire` says of it: both objects are reused for
   * the next record, so they must not be kept. The record's timestamps are in `wire`, not in the
   * record; its body is in `record.body` unless `wire` says where its one string's bytes are.
   */
  record(record: OtlpMessage, wire: RecordWire): void;
}

/** What the walk reads of a record in place of protobufjs's objects, to spare a Long, a bigint or a string per record. */
export interface RecordWire {
  /**
   * True when the record has no fields but `time_unix_nano` or `observed_time_unix_nano` (not
   * both), `severity_number`, `severity_text` and a body of one string (unknown fields aside).
   */
  plain: boolean;
  /** Where the bytes of a body that is one string are in the walked body (unchecked: they may not be UTF-8); −1 when it is not one string. */
  bodyStart: number;
  bodyEnd: number;
  /** `time_unix_nano` as the low and high 32 bits of its fixed64 (both 0: absent, as 0 is in OTLP). */
  timeLow: number;
  timeHigh: number;
  /** `observed_time_unix_nano` likewise. */
  observedLow: number;
  observedHigh: number;
}

/** A log record as the walk reads it: the properties of a protobufjs LogRecord that are on the wire (undefined when absent), but for its timestamps (see RecordWire). */
interface RecordFields {
  severityNumber: number | undefined;
  severityText: unknown;
  body: OtlpMessage | undefined;
  attributes: unknown[];
  droppedAttributesCount: number | undefined;
  flags: number | undefined;
  traceId: Uint8Array | undefined;
  spanId: Uint8Array | undefined;
  eventName: unknown;
}

/** The LogRecord fields a plain record may have (see RecordWire.plain), as bits by field number; unknown fields 4 and 13–31 are skipped as they always are. */
const PLAIN_FIELDS = ~((1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 12));
/** time_unix_nano and observed_time_unix_nano. */
const BOTH_TIMES = (1 << 1) | (1 << 11);

/** A record without attributes: never written to, so records share it. */
const NO_ATTRIBUTES: unknown[] = [];

/** Reads requests; one walker per request (its record object is reused across records). */
class Walker {
  private readonly record: RecordFields = {
    severityNumber: undefined,
    severityText: undefined,
    body: undefined,
    attributes: [],
    droppedAttributesCount: undefined,
    flags: undefined,
    traceId: undefined,
    spanId: undefined,
    eventName: undefined,
  };
  private readonly wire: RecordWire = { plain: false, bodyStart: -1, bodyEnd: -1, timeLow: 0, timeHigh: 0, observedLow: 0, observedHigh: 0 };
  /** The AnyValue of a record whose body is one string_value (reused, as the record is; its text is left on the wire). */
  private readonly stringBody: { stringValue: unknown } = { stringValue: undefined };
  private readonly r: protobuf.Reader;
  /** The last text `repeatedText` decoded, and where its bytes are. */
  private lastText: unknown = undefined;
  private lastStart = 0;
  private lastLength = -1;

  constructor(
    private readonly bytes: Buffer,
    private readonly visit: LogsVisitor,
  ) {
    this.r = strictTextReader(bytes);
  }

  /** ExportLogsServiceRequest (depth 0): resource_logs = 1. */
  request(): void {
    const r = this.r;
    let index = 0;
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t >>> 3 === 1) this.resourceLogs(r.uint32(), index++);
      else r.skipType(t & 7, 0);
    }
  }

    /** ResourceLogs (depth 1): resource = 1, scope_logs = 2. */
  private resourceLogs(length: number, index: number): void {
    const r = this.r;
    const outer = enter(r, length);
    let resource: OtlpMessage | null = null;
    let mapped = false;
    while (r.pos < r.len) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 1) {
        if (mapped) throw new LateField('a resource after its scope_logs');
        resource = Resource.decode(r, r.uint32(), undefined, 2) as unknown as OtlpMessage;
      } else if (field === 2) {
        if (!mapped) this.visit.resource(index, resource);
        mapped = true;
        this.scopeLogs(r.uint32());
      } else {
        r.skipType(t & 7, 1);
      }
    }
    leave(r, outer);
    if (!mapped) this.visit.resource(index, resource);
  }

  /** ScopeLogs (depth 2): scope = 1, log_records = 2. */
  private scopeLogs(length: number): void {
    const r = this.r;
    const outer = enter(r, length);
    let scope: OtlpMessage | null = null;
    let mapped = false;
    while (r.pos < r.len) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 1) {
        if (mapped) throw new LateField('a scope after its log_records');
        scope = InstrumentationScope.decode(r, r.uint32(), undefined, 3) as unknown as OtlpMessage;
      } else if (field === 2) {
        if (!mapped) this.visit.scope(scope);
        mapped = true;
        this.logRecord(r.uint32());
      } else {
        r.skipType(t & 7, 2);
      }
    }
    leave(r, outer);
    if (!mapped) this.visit.scope(scope);
  }

  /** LogRecord (depth 3), by the field numbers of logs.proto, read into the reused record. */
  private logRecord(length: number): void {
    const r = this.r;
    const rec = this.record;
    const wire = this.wire;
    rec.severityNumber = undefined;
    rec.severityText = undefined;
    rec.body = undefined;
    wire.bodyStart = wire.bodyEnd = -1;
    wire.timeLow = wire.timeHigh = wire.observedLow = wire.observedHigh = 0;
    rec.attributes = NO_ATTRIBUTES;
    rec.droppedAttributesCount = undefined;
    rec.flags = undefined;
    rec.traceId = undefined;
    rec.spanId = undefined;
    rec.eventName = undefined;
    const outer = enter(r, length);
    // Bit n set: field n was on the wire (fields past 31 are unknown ones: skipped, never set).
    let seen = 0;
    while (r.pos < r.len) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field < 32) seen |= 1 << field;
      switch (field) {
        case 1:
          // fixed64 as protobufjs reads it (past the end, fixed32 throws), little-endian halves.
          wire.timeLow = r.fixed32();
          wire.timeHigh = r.fixed32();
          break;
        case 2:
          rec.severityNumber = r.int32();
          break;
        case 3:
          rec.severityText = this.repeatedText();
          break;
        case 5:
          rec.body = this.body(r.uint32());
          break;
        case 6:
          if (rec.attributes === NO_ATTRIBUTES) rec.attributes = [];
          rec.attributes.push(KeyValue.decode(r, r.uint32(), undefined, 4));
          break;
        case 7:
          rec.droppedAttributesCount = r.uint32();
          break;
        case 8:
          rec.flags = r.fixed32();
          break;
        case 9:
          rec.traceId = r.bytes();
          break;
        case 10:
          rec.spanId = r.bytes();
          break;
        case 11:
          wire.observedLow = r.fixed32();
          wire.observedHigh = r.fixed32();
          break;
        case 12:
          rec.eventName = r.string();
          break;
        default:
          r.skipType(t & 7, 3);
      }
    }
    leave(r, outer);
    wire.plain = (seen & ~PLAIN_FIELDS) === 0 && wire.bodyStart >= 0 && (seen & BOTH_TIMES) !== BOTH_TIMES;
    this.visit.record(rec as unknown as OtlpMessage, wire);
  }

  /** A short string field that mostly repeats (a scope's records mostly share one severity text): the same bytes as the last one give the same string, not a new one. */
  private repeatedText(): unknown {
    const r = this.r;
    const at = r.pos;
    const length = r.uint32();
    const start = r.pos;
    if (length === this.lastLength && start + length <= r.len && sameBytes(this.bytes, start, this.lastStart, length)) {
      r.pos = start + length;
      return this.lastText;
    }
    r.pos = at;
    this.lastText = r.string();
    this.lastStart = start;
    this.lastLength = length;
    return this.lastText;
  }

  /** A record's body (AnyValue, depth 4): one string_value is left in place (where it is is noted), anything else is read by protobufjs. */
  private body(length: number): OtlpMessage {
    const r = this.r;
    const start = r.pos;
    const outer = enter(r, length);
    if (r.pos < r.len && r.uint32() >>> 3 === 1) {
      const bytes = r.uint32();
      const at = r.pos;
      // Past the end, skip throws as protobufjs's string() would.
      r.skip(bytes);
      if (r.pos === r.len) {
        r.len = outer;
        this.wire.bodyStart = at;
        this.wire.bodyEnd = at + bytes;
        return this.stringBody;
      }
    }
    r.pos = start;
    r.len = outer;
    this.wire.bodyStart = this.wire.bodyEnd = -1;
    return AnyValue.decode(r, length, undefined, 4) as unknown as OtlpMessage;
  }
}

/** Walks a binary ExportLogsServiceRequest, calling `visit` as it goes (see the module comment); throws on malformed input. */
export function walkLogsRequest(body: Buffer, visit: LogsVisitor): void {
  new Walker(body, visit).request();
}
