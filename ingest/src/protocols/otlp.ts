/**
 * OTLP/HTTP logs bodies (an `ExportLogsServiceRequest` in binary protobuf or OTLP/JSON) → validated
 * streams, mapped as Loki's OTLP ingestion maps them:
 *
 * - Stream labels: the resource attributes named in `otlpStreamAttributes`, under normalised
 *   names (`service.name` → `service_name`); a resource without a non-empty `service.name` gets
 *   `service_name="unknown_service"`. Empty values are left out (an empty label is an absent one).
 * - Attributes: the other resource attributes, then the scope's (`scope_name`, `scope_version`,
 *   `scope_dropped_attributes_count` and its attributes), then the record's attributes, then the
 *   record's own fields (`severity_text`, `severity_number`, `trace_id`, `span_id` as lowercase
 *   hex, `flags`, `dropped_attributes_count`, `event_name`, and `observed_timestamp` when the
 *   record has both timestamps); a later one of the same name wins. Map values flatten into
 *   `name_key` attributes; other values render as pdata's `AsString` does.
 * - Line: a string body as it is; any other body as its `AsString` text (maps and arrays as JSON).
 * - Timestamp: `timeUnixNano`, else `observedTimeUnixNano`, else the receive time (0 is absent).
 *
 * Rejection indices: stream = index in `resourceLogs`, entry = the record's index within that
 * resource, counting the `logRecords` of its `scopeLogs` in order. Whole-request problems (content
 * type, a body that does not decode, a malformed envelope, nesting past MAX_VALUE_DEPTH) throw a
 * SiltError. Pure logic on ingest's hot path: labels are validated once per resource and scope
 * attributes rendered once per scope.
 */
import { isUtf8 } from 'node:buffer';
import type { Labels } from '../../../core/src/labels';
import { BadRequestError, SiltError } from '../../../core/src/errors';
import { parseTimestamp, splitHalves, splitNs, type SecondsAndNanos } from '../../../core/src/time';
import { ByteSource } from '../../../core/src/byte-source';
import { PushBuilder, isJsonObject, kindOf, type ParsedPush, type PushLimits, type StreamSlot } from '../push/builder';
import { decodeUtf8Body, parseJson } from '../push/json';
import { parseMediaType, unsupportedType } from '../push/media-type';
import { decodeExportLogsRequest } from './otlp-proto';
import { walkLogsRequest, type LogsVisitor, type RecordWire } from './otlp-wire';
import { uint64Of } from './proto-reader';
import { addAttributes, idHex, isMessage, severityNumber, text, timestampNs, uint32, valueText, type OtlpMessage } from './otlp-value';

/** The two OTLP/HTTP encodings; an answer uses the encoding of its request. */
export type OtlpEncoding = 'protobuf' | 'json';

const SUPPORTED = 'application/x-protobuf or application/json';

/** The encoding a `Content-Type` names, or a 415 for any other type. */
export function otlpEncoding(contentType: string | string[] | undefined): OtlpEncoding {
  const { type } = parseMediaType(contentType, SUPPORTED);
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw unsupportedType(type, SUPPORTED);
}

/** The label a resource without a `service.name` gets, as in Loki. */
const UNKNOWN_SERVICE = 'unknown_service';
const NONE: readonly unknown[] = [];

function decodeRequest(body: Buffer, encoding: OtlpEncoding): OtlpMessage {
  if (encoding === 'protobuf') {
    try {
      return decodeExportLogsRequest(body) as OtlpMessage;
    } catch (err) {
      // protobufjs throws for truncated input, bad wire types and nesting past its recursion limit.
      throw new BadRequestError('SILT_MALFORMED_PROTOBUF', `request body is not a valid ExportLogsServiceRequest: ${(err as Error).message}`);
    }
  }
  const doc = parseJson(decodeUtf8Body(body));
  if (!isJsonObject(doc)) {
    throw new BadRequestError('SILT_BAD_PUSH_SHAPE', `request body must be a JSON object {"resourceLogs":[…]}, not ${kindOf(doc)}`, { field: '' });
  }
  return doc;
}

function badShape(path: string, message: string): BadRequestError {
  return new BadRequestError('SILT_BAD_PUSH_SHAPE', `${path} ${message}`, { field: path });
}

/** A repeated message field of the envelope, given as read by name (absent is empty). */
function listOf(v: unknown, path: () => string): readonly unknown[] {
  if (v === undefined || v === null) return NONE;
  if (!Array.isArray(v)) throw badShape(path(), `must be an array, not ${kindOf(v)}`);
  return v;
}

/** An element of an envelope list, which must be an object. */
function messageAt(v: unknown, path: () => string): OtlpMessage {
  if (!isMessage(v)) throw badShape(path(), `must be an object, not ${kindOf(v)}`);
  return v;
}

/** An optional message field of the envelope (resource, scope): an object, or null when absent. */
function optionalMessage(m: OtlpMessage, name: string, path: () => string): OtlpMessage | null {
  const v = m[name];
  if (v === undefined || v === null) return null;
  return messageAt(v, path);
}

/** Why every record of a resource or scope is refused. */
class Refusal {
  constructor(
    readonly code: string,
    readonly reason: string,
  ) {}
}

/** The refusal a value's error means; anything else (a bug, or nesting too deep, a whole-request 400) is rethrown. */
function refusalOf(err: unknown): Refusal {
  if (!(err instanceof SiltError) || err.code === 'SILT_TOO_DEEP') throw err;
  return new Refusal(err.code, err.message);
}

/** The stream of a resource and the attributes it gives each of its records. */
interface MappedResource {
  slot: StreamSlot;
  attrs: Record<string, string>;
}

/** The stream and attributes of a resource, or why its records are refused. */
function mapResource(resource: OtlpMessage | null, streamAttributes: ReadonlySet<string>, b: PushBuilder): MappedResource | Refusal {
  const labels: Labels = {};
  const attrs: Record<string, string> = {};
  let hasServiceName = false;
  try {
    const list = resource === null ? undefined : resource.attributes;
    if (Array.isArray(list)) {
      const asLabels: unknown[] = [];
      const asAttrs: unknown[] = [];
      for (const kv of list) {
        const key = isMessage(kv) ? text(kv.key, 'a resource attribute key', 'SILT_BAD_ATTRS') : '';
        if (key === 'service.name' && valueText((kv as OtlpMessage).value, 'resource attribute "service.name"', 'SILT_BAD_LABELS') !== '') hasServiceName = true;
        (streamAttributes.has(key) ? asLabels : asAttrs).push(kv);
      }
      addAttributes(asLabels, labels, 'resource attributes', 'SILT_BAD_LABELS', true);
      addAttributes(asAttrs, attrs, 'resource attributes', 'SILT_BAD_ATTRS');
    } else {
      addAttributes(list, attrs, 'resource attributes', 'SILT_BAD_ATTRS');
    }
  } catch (err) {
    return refusalOf(err);
  }
  if (!hasServiceName) labels.service_name = UNKNOWN_SERVICE;
  const slot = b.slot(labels);
  if (slot.problem !== null) return new Refusal('SILT_BAD_LABELS', slot.problem);
  return { slot, attrs };
}

/** The attributes every record of a scope starts from: its resource's, then the scope's own. */
function scopeAttributes(scope: OtlpMessage | null, resourceAttrs: Record<string, string>): Record<string, string> | Refusal {
  const attrs: Record<string, string> = Object.assign({}, resourceAttrs);
  if (scope === null) return attrs;
  try {
    addAttributes(scope.attributes, attrs, 'scope attributes', 'SILT_BAD_ATTRS');
    const name = text(scope.name, 'scope name', 'SILT_BAD_ATTRS');
    if (name !== '') attrs.scope_name = name;
    const version = text(scope.version, 'scope version', 'SILT_BAD_ATTRS');
    if (version !== '') attrs.scope_version = version;
    const dropped = uint32(scope.droppedAttributesCount ?? scope.dropped_attributes_count, 'scope droppedAttributesCount', 'SILT_BAD_ATTRS');
    if (dropped !== 0) attrs.scope_dropped_attributes_count = String(dropped);
  } catch (err) {
    return refusalOf(err);
  }
  return attrs;
}

/** Decimal text of the severity numbers the enum defines (0 is left out), made once. */
const SEVERITY_TEXT = Array.from({ length: 25 }, (_, n) => String(n));

/** Sets a record's severity attributes, as the record's own fields after its attributes. */
function setSeverity(attrs: Record<string, string>, severity: number, severityText: string): void {
  if (severity !== 0) attrs.severity_number = SEVERITY_TEXT[severity] ?? String(severity);
  if (severityText !== '') attrs.severity_text = severityText;
}

/**
 * The attributes of a scope's records that carry nothing of their own but a severity, which is
 * most records: one object per severity is shared by all of them, where a copy per record would
 * cost an object (and its severity text) held until Kafka acknowledges the push, and GC time to
 * copy it. Nothing downstream of the builder writes to an entry's attributes.
 */
class SharedAttributes {
  private severity = 0;
  private severityText = '';
  private attrs: Record<string, string> | undefined;

  constructor(private readonly base: Record<string, string>) {}

  /** The shared attributes of records with this severity (the last one's, if it matches: a scope's records mostly share one). */
  of(severity: number, severityText: string): Record<string, string> {
    if (this.attrs === undefined || severity !== this.severity || severityText !== this.severityText) {
      this.severity = severity;
      this.severityText = severityText;
      this.attrs = copyOf(this.base);
      setSeverity(this.attrs, severity, severityText);
    }
    return this.attrs;
  }
}

/** A fresh copy of a scope's attributes for one record to add to. */
function copyOf(base: Record<string, string>): Record<string, string> {
  // Object.assign, not spread: V8 clones a spread-made object with many dynamic names far slower.
  return Object.assign({}, base);
}

/** A walked record's body and what the walk read of it in place of the record's own fields. */
interface Walked {
  src: ByteSource;
  wire: RecordWire;
}

/**
 * Maps one log record and adds it to `slot`, or records why it is refused. A walked record
 * (`walked` set) goes into the slot's payload runs, its string body copied from the wire as bytes
 * and its timestamps split from their fixed64 halves; a decoded one becomes an entry object.
 */
function addRecord(b: PushBuilder, slot: StreamSlot, shared: SharedAttributes, base: Record<string, string>, record: unknown, stream: number, entry: number, walked: Walked | null): void {
  if (!isMessage(record)) {
    b.reject(stream, entry, 'SILT_BAD_ENTRY', `log record must be an object, not ${kindOf(record)}`);
    return;
  }
  const r = record;
  let line = '';
  let bytes: Uint8Array | null = null;
  let ts: bigint | undefined;
  let attrs: Record<string, string> | undefined;
  // Properties are read by name (lowerCamelCase, else the proto name JSON may use): protobufjs
  // records share one shape, so each read stays monomorphic on the protobuf path. Fields are
  // checked in the order they become attributes, so a record's first bad field is the one named.
  try {
    // The time, else the observed time, and the observed time as an attribute when both are set.
    // A walked record's stay halves (split below): a bigint is made only for that attribute.
    let observed: bigint | undefined;
    if (walked === null) {
      ts = timestampNs(r.timeUnixNano ?? r.time_unix_nano, 'timeUnixNano');
      observed = timestampNs(r.observedTimeUnixNano ?? r.observed_time_unix_nano, 'observedTimeUnixNano');
      if (ts === undefined) {
        ts = observed;
        observed = undefined;
      }
    } else if ((walked.wire.timeLow | walked.wire.timeHigh) !== 0 && (walked.wire.observedLow | walked.wire.observedHigh) !== 0) {
      observed = uint64Of(walked.wire.observedLow, walked.wire.observedHigh);
    }
    const list = r.attributes;
    if (!(list === undefined || list === null || (Array.isArray(list) && list.length === 0))) {
      attrs = copyOf(base);
      addAttributes(list, attrs, 'log record attributes', 'SILT_BAD_ATTRS');
    }
    const severity = severityNumber(r.severityNumber ?? r.severity_number);
    const severityText = text(r.severityText ?? r.severity_text, 'severityText', 'SILT_BAD_ENTRY');
    const dropped = uint32(r.droppedAttributesCount ?? r.dropped_attributes_count, 'droppedAttributesCount', 'SILT_BAD_ENTRY');
    const flags = uint32(r.flags, 'flags', 'SILT_BAD_ENTRY');
    const traceId = idHex(r.traceId ?? r.trace_id, 16, 'traceId');
    const spanId = idHex(r.spanId ?? r.span_id, 8, 'spanId');
    const eventName = text(r.eventName ?? r.event_name, 'eventName', 'SILT_BAD_ENTRY');
    if (walked !== null && walked.wire.bodyStart >= 0) {
      bytes = bodyBytes(walked);
    } else {
      line = valueText(r.body, 'body', 'SILT_BAD_ENTRY');
    }
    if (attrs === undefined && observed === undefined && dropped === 0 && flags === 0 && traceId === undefined && spanId === undefined && eventName === '') {
      attrs = shared.of(severity, severityText);
    } else {
      attrs ??= copyOf(base);
      if (observed !== undefined) attrs.observed_timestamp = observed.toString();
      setSeverity(attrs, severity, severityText);
      if (dropped !== 0) attrs.dropped_attributes_count = String(dropped);
      if (flags !== 0) attrs.flags = String(flags);
      if (traceId !== undefined) attrs.trace_id = traceId;
      if (spanId !== undefined) attrs.span_id = spanId;
      if (eventName !== '') attrs.event_name = eventName;
    }
  } catch (err) {
    const refusal = refusalOf(err);
    b.reject(stream, entry, refusal.code, refusal.reason);
    return;
  }
  if (walked === null) {
    const e = b.entry(line, ts, attrs);
    if (e === null) b.reject(stream, entry, b.code, b.reason);
    else b.add(slot, e);
    return;
  }
  addWalked(b, slot, walked.wire, bytes, line, attrs, stream, entry);
}

/** The string body of a walked record as a view of the wire, once its UTF-8 is checked. */
function bodyBytes(walked: Walked): Uint8Array {
  const bytes = walked.src.range(walked.wire.bodyStart, walked.wire.bodyEnd);
  if (!isUtf8(bytes)) throw new BadRequestError('SILT_INVALID_UTF8', 'body is not valid UTF-8');
  return bytes;
}

/**
 * `addRecord` for a walked record that holds nothing but a timestamp, a severity and a string
 * body (RecordWire.plain), which is most records: the same checks in the same order, less the
 * ones for fields it does not have.
 */
function addPlainRecord(b: PushBuilder, slot: StreamSlot, shared: SharedAttributes, r: OtlpMessage, stream: number, entry: number, walked: Walked): void {
  let attrs: Record<string, string>;
  let bytes: Uint8Array;
  try {
    // From the wire, a severity number is an int32 already and its text a string, INVALID_TEXT or absent.
    const severityText = text(r.severityText, 'severityText', 'SILT_BAD_ENTRY');
    bytes = bodyBytes(walked);
    attrs = shared.of((r.severityNumber as number | undefined) ?? 0, severityText);
  } catch (err) {
    const refusal = refusalOf(err);
    b.reject(stream, entry, refusal.code, refusal.reason);
    return;
  }
  addWalked(b, slot, walked.wire, bytes, '', attrs, stream, entry);
}

/** Adds a walked record's entry to the slot's runs: `bytes` its body off the wire, else `line`. */
function addWalked(b: PushBuilder, slot: StreamSlot, w: RecordWire, bytes: Uint8Array | null, line: string, attrs: Record<string, string> | undefined, stream: number, entry: number): void {
  // The record's time, else its observed time, else the receive time (0 is absent).
  const timed = (w.timeLow | w.timeHigh) !== 0;
  const low = timed ? w.timeLow : w.observedLow;
  const high = timed ? w.timeHigh : w.observedHigh;
  if ((low | high) === 0) splitNs(b.receivedNs, SPLIT);
  else if (high > MAX_HIGH_HALF) {
    b.reject(stream, entry, 'SILT_BAD_TIMESTAMP', badTimestampReason(uint64Of(low, high)));
    return;
  } else splitHalves(low, high, SPLIT);
  const ok = bytes !== null ? b.addBytes(slot, SPLIT.seconds, SPLIT.nanos, bytes, attrs, true) : b.addText(slot, SPLIT.seconds, SPLIT.nanos, line, attrs);
  if (!ok) b.reject(stream, entry, b.code, b.reason);
}

/** The wire of no record yet. */
const NO_WIRE: RecordWire = { plain: false, bodyStart: -1, bodyEnd: -1, timeLow: 0, timeHigh: 0, observedLow: 0, observedHigh: 0 };

/** The high 32 bits of MAX_TIMESTAMP_NS (2^63 − 1): a fixed64 whose high half is above it is out of range. */
const MAX_HIGH_HALF = 0x7fffffff;

/** One record's timestamp as seconds and nanoseconds (reused: records are mapped one at a time). */
const SPLIT: SecondsAndNanos = { seconds: 0, nanos: 0 };

/** Why `parseTimestamp` refuses `t` (past its range), in its words. */
function badTimestampReason(t: bigint): string {
  try {
    parseTimestamp(t);
  } catch (err) {
    return (err as Error).message;
  }
  return `timestamp ${t} is out of range`;
}

/** Maps a protobuf request as `walkLogsRequest` reads it, exactly as `mapObjects` maps the same request decoded whole. */
class RecordMapper implements LogsVisitor {
  private mapped: MappedResource | Refusal | null = null;
  private base: Record<string, string> | Refusal | null = null;
  private shared: SharedAttributes | null = null;
  private index = -1;
  private entry = 0;

  /** The walked request, and what the walk read of the current record (reused, as the record is). */
  private readonly walked: Walked;

  constructor(
    private readonly b: PushBuilder,
    private readonly streamAttributes: ReadonlySet<string>,
    body: Buffer,
  ) {
    this.walked = { src: new ByteSource(body), wire: NO_WIRE };
  }

  resource(index: number, resource: OtlpMessage | null): void {
    this.index = index;
    this.entry = 0;
    this.mapped = mapResource(resource, this.streamAttributes, this.b);
  }

  scope(scope: OtlpMessage | null): void {
    const mapped = this.mapped!;
    this.base = mapped instanceof Refusal ? mapped : scopeAttributes(scope, mapped.attrs);
    this.shared = this.base instanceof Refusal ? null : new SharedAttributes(this.base);
  }

  record(record: OtlpMessage, wire: RecordWire): void {
    const base = this.base!;
    if (base instanceof Refusal) {
      this.b.reject(this.index, this.entry++, base.code, base.reason);
      return;
    }
    this.walked.wire = wire;
    const slot = (this.mapped as MappedResource).slot;
    if (wire.plain) addPlainRecord(this.b, slot, this.shared!, record, this.index, this.entry++, this.walked);
    else addRecord(this.b, slot, this.shared!, base, record, this.index, this.entry++, this.walked);
  }
}

/** Maps a request decoded whole (OTLP/JSON, or protobuf the walk refused) into `b`. */
function mapObjects(request: OtlpMessage, b: PushBuilder, streamAttributes: ReadonlySet<string>): void {
  const resources = listOf(request.resourceLogs ?? request.resource_logs, () => 'resourceLogs');
  for (let r = 0; r < resources.length; r++) {
    const rl = messageAt(resources[r], () => `resourceLogs[${r}]`);
    const scopes = listOf(rl.scopeLogs ?? rl.scope_logs, () => `resourceLogs[${r}].scopeLogs`);
    const resource = mapResource(optionalMessage(rl, 'resource', () => `resourceLogs[${r}].resource`), streamAttributes, b);
    let entry = 0;
    for (let s = 0; s < scopes.length; s++) {
      const sl = messageAt(scopes[s], () => `resourceLogs[${r}].scopeLogs[${s}]`);
      const records = listOf(sl.logRecords ?? sl.log_records, () => `resourceLogs[${r}].scopeLogs[${s}].logRecords`);
      const scope = optionalMessage(sl, 'scope', () => `resourceLogs[${r}].scopeLogs[${s}].scope`);
      const base = resource instanceof Refusal ? resource : scopeAttributes(scope, resource.attrs);
      if (base instanceof Refusal) {
        for (let i = 0; i < records.length; i++) b.reject(r, entry++, base.code, base.reason);
        continue;
      }
      const slot = (resource as MappedResource).slot;
      const shared = new SharedAttributes(base);
      for (let i = 0; i < records.length; i++) addRecord(b, slot, shared, base, records[i], r, entry++, null);
    }
  }
}

/**
 * Parses and maps a decoded OTLP/HTTP logs body (see the module comment); `streamAttributes` are
 * the resource attribute names that become stream labels. A protobuf body is mapped as it is
 * walked, with no object per record; should the walk throw, the body is decoded whole and mapped
 * again, which gives every malformed or refused body its usual answer.
 */
export function parseOtlpLogs(
  body: Buffer,
  encoding: OtlpEncoding,
  receivedNs: bigint,
  limits: PushLimits,
  streamAttributes: ReadonlySet<string>,
): ParsedPush {
  if (encoding === 'protobuf') {
    const walked = new PushBuilder(limits, receivedNs);
    try {
      walkLogsRequest(body, new RecordMapper(walked, streamAttributes, body));
      return walked.result();
    } catch {
      // The whole decode below throws the error this body has always been answered with.
    }
  }
  const b = new PushBuilder(limits, receivedNs);
  mapObjects(decodeRequest(body, encoding), b, streamAttributes);
  return b.result();
}
