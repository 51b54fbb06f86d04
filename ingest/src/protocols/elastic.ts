/**
 * Elasticsearch bulk bodies (`POST /_bulk`, `POST /{index}/_bulk`) → validated streams of entries
 * plus one outcome per action, in order, for the bulk answer. `index` and `create` documents are
 * stored; `delete` and `update` are refused item by item. A document's line, timestamp and stream
 * labels come from configured fields (dotted paths, matched flat or nested); every other field is
 * flattened with dots into attrs, as VictoriaLogs flattens. Pure logic on ingest's hot path: a
 * repeated action line is parsed once, a label set is built and validated once per distinct value
 * tuple, and the body is parsed in slices so one large request never holds the event loop long.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BadRequestError } from '../../../core/src/errors';
import type { Labels } from '../../../core/src/labels';
import { PushBuilder, isJsonObject, kindOf, type ParsedPush, type PushLimits, type StreamSlot } from '../push/builder';
import { MAX_JSON_DEPTH, assertDepth, eachLine, parseJson } from '../push/json';
import { parseMediaType, unsupportedType } from '../push/media-type';

/** A document field named by a dotted path: a flat key of that name wins, else the path through nested objects. */
export interface FieldPath {
  name: string;
  /** The path's segments; null when the name has no dot (a flat key is the only match). */
  parts: string[] | null;
}

/** A field that becomes a stream label, with the label's name. */
export interface StreamField extends FieldPath {
  label: string;
}

/** How bulk documents map to entries; compile once with `bulkMapping`, per request with `withStreamFields`. */
export interface BulkMapping {
  messageFields: readonly FieldPath[];
  timestampFields: readonly FieldPath[];
  streamFields: readonly StreamField[];
}

/** Where the documents of a request go and how they are read. */
export interface BulkOptions {
  /** The `{index}` of `/{index}/_bulk`: the target of actions that name no `_index`. */
  pathIndex: string | undefined;
  mapping: BulkMapping;
}

/** What one action of a bulk body came to, for its item in the answer. */
export interface BulkItem {
  /** The action's own name (`index`, `create`, `delete`, `update`); `index` for a line that names no known action. */
  action: string;
  /** The target index, or null when there is none. */
  index: string | null;
  /** The action's `_id`, or null when it gave none. */
  id: string | null;
  /** Null when the document was accepted; else the `SILT_…` code of its rejection (also listed in `push.rejected`). */
  code: string | null;
  reason: string;
}

/** A parsed bulk body: the push for the distributor and one item per action, in body order. */
export interface ParsedBulk {
  push: ParsedPush;
  items: BulkItem[];
}

/** The label every stored document carries: its index. */
const INDEX_LABEL = 'index';

/** Body bytes parsed between two yields to the event loop (a few ms of work). */
const SLICE_BYTES = 512 * 1024;

const BULK_TYPES = new Set(['application/json', 'application/x-ndjson', 'application/vnd.elasticsearch+json', 'application/vnd.elasticsearch+x-ndjson']);
const SUPPORTED = 'application/x-ndjson or application/json (or application/vnd.elasticsearch+x-ndjson; compatible-with=N)';

/** Refuses a `Content-Type` a bulk body cannot have (415 `SILT_UNSUPPORTED_CONTENT_TYPE`; a missing one too, as Elasticsearch refuses it). */
export function checkBulkContentType(header: string | string[] | undefined): void {
  const { type } = parseMediaType(header, SUPPORTED);
  if (!BULK_TYPES.has(type)) throw unsupportedType(type, SUPPORTED);
}

function fieldPath(name: string): FieldPath {
  return { name, parts: name.includes('.') ? name.split('.') : null };
}

/** A label name for a field: every character outside `[a-zA-Z0-9_]` (dots first of all) becomes `_`, as Loki names OTLP attributes. */
function labelName(field: string): string {
  return field.replace(/[^a-zA-Z0-9_]/g, '_');
}

function streamField(name: string): StreamField {
  return { ...fieldPath(name), label: labelName(name) };
}

/** Compiles the configured field lists (`ingest.elasticMessageFields`, `elasticTimestampFields`, `elasticStreamFields`). */
export function bulkMapping(messageFields: readonly string[], timestampFields: readonly string[], streamFields: readonly string[]): BulkMapping {
  return { messageFields: messageFields.map(fieldPath), timestampFields: timestampFields.map(fieldPath), streamFields: streamFields.map(streamField) };
}

/**
 * The mapping of a request with `?_stream_fields=a,b`: as in VictoriaLogs, the list replaces the
 * stream fields (it does not add to them); absent or empty, the configured ones stay.
 */
export function withStreamFields(mapping: BulkMapping, param: string | undefined): BulkMapping {
  if (param === undefined) return mapping;
  const names = param
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return names.length === 0 ? mapping : { ...mapping, streamFields: names.map(streamField) };
}

/** A field's value in a document: the flat key first, then the nested path. */
function lookup(doc: Record<string, unknown>, field: FieldPath): unknown {
  const flat = doc[field.name];
  if (flat !== undefined || field.parts === null) return flat;
  let cur: unknown = doc;
  for (const part of field.parts) {
    if (!isJsonObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** A scalar as text (strings as they are, numbers and booleans as their JSON text), else undefined. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** A field value as a label value: scalars as text, objects and arrays as their JSON; empty means absent. */
function labelValue(v: unknown): string | undefined {
  const text = typeof v === 'object' && v !== null ? JSON.stringify(v) : scalarText(v);
  return text === '' ? undefined : text;
}

/** True for `±hh:mm` or `Z` at the end of an RFC 3339 date-time. */
function hasZone(s: string): boolean {
  const last = s.charCodeAt(s.length - 1);
  if (last === 90 || last === 122) return true;
  const sign = s.charCodeAt(s.length - 6);
  return (sign === 43 || sign === 45) && s.charCodeAt(s.length - 3) === 58;
}

/** Elasticsearch's default date format takes a date alone (midnight) and a date-time without an offset (UTC): completes both for RFC 3339. */
function esDate(v: unknown): unknown {
  if (typeof v !== 'string' || v.length < 10 || v.charCodeAt(4) !== 45) return v;
  if (v.length === 10) return v + 'T00:00:00Z';
  return v.length >= 19 && !hasZone(v) ? v + 'Z' : v;
}

/**
 * True when `text` may nest past the depth bound: that takes more than MAX_JSON_DEPTH opening
 * brackets. Counting them with indexOf (native scans) is far cheaper than `assertDepth`'s walk.
 */
function mayBeDeep(text: string): boolean {
  let brackets = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i >= 0; i = text.indexOf(bracket, i + 1)) if (++brackets > MAX_JSON_DEPTH) return true;
  }
  return false;
}

/** A parsed action line. */
interface Action {
  name: string;
  index: string | undefined;
  id: string | null;
}

/** What the next line of the body is. */
const enum Expect {
  Action,
  /** The source of the last action, to store. */
  Document,
  /** The source of the last action, refused or not to be stored: consumed unread. */
  Skipped,
  /** After a malformed action line: the next line is its source unless it is itself an action. */
  SourceOrAction,
}

const ACTIONS = new Set(['index', 'create', 'delete', 'update']);

/** A node of the tree that finds a label set by its index and stream field values, one Map lookup per value: no key to build per document. */
interface SlotNode {
  next: Map<string | undefined, SlotNode>;
  slot: StreamSlot | undefined;
}

/** The child of `node` for `value`, created on first use. */
function childOf(node: SlotNode, value: string | undefined): SlotNode {
  let child = node.next.get(value);
  if (child === undefined) {
    child = { next: new Map(), slot: undefined };
    node.next.set(value, child);
  }
  return child;
}

/** True when `name` is among the first `used` entries of `consumed`. */
function isConsumed(name: string, consumed: readonly string[], used: number): boolean {
  for (let c = 0; c < used; c++) if (consumed[c] === name) return true;
  return false;
}

/** Parses and maps one bulk body; drive it with `step`, read it with `result`. */
class BulkParser {
  private readonly b: PushBuilder;
  private readonly items: BulkItem[] = [];
  private readonly valid: boolean;
  /** An ASCII body decodes as latin1, a plain byte copy (the same text, a little cheaper than UTF-8 decoding). */
  private readonly encoding: BufferEncoding;
  private readonly mapping: BulkMapping;
  private offset = 0;
  private expect = Expect.Action;
  /** Byte range of the last well-formed action line and what it said: identical lines (the usual case) are not parsed again. */
  private prevStart = -1;
  private prevEnd = -1;
  private prevAction: Action | null = null;
  /** Label sets seen in this body, by index and then each stream field value. */
  private readonly slots: SlotNode = { next: new Map(), slot: undefined };
  private readonly values: (string | undefined)[];
  /** Fields a document's line, timestamp and labels came from: left out of its attrs (scratch, reused per document). */
  private readonly consumed: string[] = [];
  /** The document being mapped, whether its nesting was checked yet, and its attrs (created with the first). */
  private docText = '';
  private depthChecked = false;
  private attrs: Record<string, string> | null = null;

  constructor(
    private readonly body: Buffer,
    private readonly options: BulkOptions,
    receivedNs: bigint,
    limits: PushLimits,
  ) {
    this.b = new PushBuilder(limits, receivedNs);
    this.valid = isUtf8(body);
    this.encoding = isAscii(body) ? 'latin1' : 'utf8';
    this.mapping = options.mapping;
    this.values = new Array<string | undefined>(this.mapping.streamFields.length);
  }

  /** Parses the lines of about `maxBytes` more of the body (whole lines); true once the body is done. */
  step(maxBytes: number): boolean {
    const body = this.body;
    const start = this.offset;
    if (start >= body.length) return this.finish();
    const nl = start + maxBytes >= body.length ? -1 : body.indexOf(10, start + maxBytes);
    const end = nl < 0 ? body.length : nl + 1;
    eachLine(body.subarray(start, end), (s, e) => this.line(start + s, start + e));
    this.offset = end;
    return end >= body.length ? this.finish() : false;
  }

  /** The outcome; call once `step` returned true. A body without a single action is refused as a whole (`SILT_EMPTY_BULK`, as Elasticsearch's "no requests added"). */
  result(): ParsedBulk {
    if (this.items.length === 0) throw new BadRequestError('SILT_EMPTY_BULK', 'Validation Failed: 1: no requests added;');
    return { push: this.b.result(), items: this.items };
  }

  private finish(): true {
    if (this.expect === Expect.Document || this.expect === Expect.Skipped) {
      const item = this.items[this.items.length - 1]!;
      if (item.code === null) this.fail(this.items.length - 1, 'SILT_BAD_ENTRY', 'the body ends after an action line: its document line is missing');
    }
    this.expect = Expect.Action;
    return true;
  }

  private fail(i: number, code: string, reason: string): void {
    const item = this.items[i]!;
    item.code = code;
    item.reason = reason;
    this.b.reject(i, 0, code, reason);
  }

  private text(start: number, end: number): string | null {
    if (!this.valid && !isUtf8(this.body.subarray(start, end))) return null;
    return this.body.toString(this.encoding, start, end);
  }

  /** True when the `len` bytes at `start` are those of the previous action line (a JS loop: short lines, cheaper than Buffer.compare's call). */
  private sameAsPrevious(start: number, len: number): boolean {
    const body = this.body;
    const prev = this.prevStart;
    for (let i = 0; i < len; i++) if (body[start + i] !== body[prev + i]) return false;
    return true;
  }

  private isBlank(start: number, end: number): boolean {
    const body = this.body;
    for (let i = start; i < end; i++) {
      const c = body[i];
      if (c !== 32 && c !== 9 && c !== 13) return false;
    }
    return true;
  }

  private line(start: number, end: number): void {
    switch (this.expect) {
      case Expect.Action:
        if (this.isBlank(start, end)) return;
        this.action(start, end, true);
        return;
      case Expect.SourceOrAction:
        this.expect = Expect.Action;
        this.action(start, end, false);
        return;
      case Expect.Skipped:
        this.expect = Expect.Action;
        return;
      case Expect.Document:
        this.expect = Expect.Action;
        this.document(this.items.length - 1, start, end);
        return;
    }
  }

  /**
   * Handles a line where an action is due. `required` false (after a malformed action): a line that
   * is not a well-formed action is that action's source, and is consumed without an item.
   */
  private action(start: number, end: number, required: boolean): void {
    const len = end - start;
    let action = this.prevAction;
    if (action === null || len !== this.prevEnd - this.prevStart || !this.sameAsPrevious(start, len)) {
      const parsed = this.parseAction(start, end);
      if (typeof parsed === 'string') {
        if (!required) return;
        this.items.push({ action: 'index', index: null, id: null, code: null, reason: '' });
        this.fail(this.items.length - 1, 'SILT_BAD_ACTION', parsed);
        this.expect = Expect.SourceOrAction;
        return;
      }
      action = parsed;
      this.prevAction = parsed;
      this.prevStart = start;
      this.prevEnd = end;
    }
    const index = action.index ?? this.options.pathIndex ?? null;
    const i = this.items.length;
    this.items.push({ action: action.name, index, id: action.id, code: null, reason: '' });
    if (action.name === 'delete' || action.name === 'update') {
      this.fail(i, 'SILT_UNSUPPORTED_ACTION', `the ${action.name} action is not supported: Silt stores logs append-only (use index or create)`);
      this.expect = action.name === 'delete' ? Expect.Action : Expect.Skipped;
    } else if (index === null) {
      this.fail(i, 'SILT_MISSING_INDEX', 'Validation Failed: 1: index is missing;');
      this.expect = Expect.Skipped;
    } else {
      this.expect = Expect.Document;
    }
  }

  /** An action line's meaning, or why it is malformed. */
  private parseAction(start: number, end: number): Action | string {
    const text = this.text(start, end);
    if (text === null) return 'action line is not valid UTF-8';
    let doc: unknown;
    try {
      doc = parseJson(text, 'action line');
    } catch (err) {
      return (err as BadRequestError).message;
    }
    if (!isJsonObject(doc)) return `action line must be a JSON object {"create":{…}}, not ${kindOf(doc)}`;
    let name: string | undefined;
    for (const key in doc) {
      if (name !== undefined) return 'action line must name exactly one action';
      name = key;
    }
    if (name === undefined || !ACTIONS.has(name)) {
      return `${name === undefined ? 'action line names no action' : `unknown action ${JSON.stringify(name)}`}: expected one of create, delete, index, update`;
    }
    const meta = doc[name];
    if (!isJsonObject(meta)) return `the ${name} action's metadata must be an object, not ${kindOf(meta)}`;
    const index = scalarText(meta._index);
    const id = scalarText(meta._id);
    return { name, index: index === '' ? undefined : index, id: id === undefined || id === '' ? null : id };
  }

  private document(i: number, start: number, end: number): void {
    const text = this.text(start, end);
    if (text === null) return this.fail(i, 'SILT_INVALID_UTF8', 'document is not valid UTF-8');
    let doc: unknown;
    try {
      doc = parseJson(text, 'document');
    } catch (err) {
      return this.fail(i, (err as BadRequestError).code, (err as BadRequestError).message);
    }
    if (!isJsonObject(doc)) return this.fail(i, 'SILT_BAD_ENTRY', `document must be a JSON object, not ${kindOf(doc)}`);
    this.docText = text;
    this.depthChecked = false;
    try {
      this.map(i, doc, text);
    } catch (err) {
      if (!(err instanceof BadRequestError)) throw err;
      this.fail(i, err.code, err.message);
    }
  }

  /**
   * Bounds the nesting of the current document (`assertDepth`, throwing SILT_TOO_DEEP) before a
   * recursive walk could go past it: called before stringifying an array or object, and before
   * flattening descends past MAX_JSON_DEPTH levels; runs once per document, and most never need it.
   */
  private checkDepth(): void {
    if (this.depthChecked) return;
    this.depthChecked = true;
    if (mayBeDeep(this.docText)) assertDepth(this.docText, 'document');
  }

  /** Maps a parsed document to its entry and label set, and adds it (or fails item `i`). */
  private map(i: number, doc: Record<string, unknown>, text: string): void {
    const m = this.mapping;
    const consumed = this.consumed;
    let used = 0;
    let line: string | undefined;
    for (const f of m.messageFields) {
      line = scalarText(lookup(doc, f));
      if (line !== undefined) {
        consumed[used++] = f.name;
        break;
      }
    }
    let ts: unknown;
    for (const f of m.timestampFields) {
      const v = lookup(doc, f);
      if (v !== undefined && v !== null) {
        ts = esDate(v);
        consumed[used++] = f.name;
        break;
      }
    }
    const values = this.values;
    for (let k = 0; k < m.streamFields.length; k++) {
      const f = m.streamFields[k]!;
      const found = lookup(doc, f);
      if (typeof found === 'object' && found !== null) this.checkDepth();
      const v = labelValue(found);
      values[k] = v;
      if (v !== undefined) consumed[used++] = f.name;
    }
    this.attrs = null;
    this.flatten(doc, '', 1, used);
    const b = this.b;
    const entry = b.entry(line ?? text, ts, this.attrs ?? undefined);
    if (entry === null) return this.fail(i, b.code, b.reason);
    const slot = this.slotOf(this.items[i]!.index!, values);
    if (slot.problem !== null) return this.fail(i, 'SILT_BAD_LABELS', slot.problem);
    b.add(slot, entry);
  }

  /**
   * Flattens `obj` (at nesting `depth`) into the document's `attrs` with dotted names, as
   * VictoriaLogs does: nested objects are walked, arrays, numbers and booleans become their JSON
   * text, nulls and empty strings are left out (an empty value means an absent one), and so are the
   * first `used` consumed fields. Recursive, so the depth is checked before an array is stringified
   * or a level past the bound is entered.
   */
  private flatten(obj: Record<string, unknown>, prefix: string, depth: number, used: number): void {
    const consumed = this.consumed;
    for (const k in obj) {
      const v = obj[k];
      if (v === null) continue;
      const name = prefix === '' ? k : `${prefix}.${k}`;
      if (used > 0 && isConsumed(name, consumed, used)) continue;
      let text: string;
      if (typeof v === 'string') {
        if (v === '') continue;
        text = v;
      } else if (typeof v === 'object') {
        if (Array.isArray(v)) {
          this.checkDepth();
          text = JSON.stringify(v);
        } else {
          if (depth >= MAX_JSON_DEPTH) this.checkDepth();
          this.flatten(v as Record<string, unknown>, name, depth + 1, used);
          continue;
        }
      } else {
        text = String(v);
      }
      const out = (this.attrs ??= {});
      // `out.__proto__ = …` would set the prototype, not a field.
      if (name === '__proto__') Object.defineProperty(out, name, { value: text, enumerable: true, writable: true, configurable: true });
      else out[name] = text;
    }
  }

  /** The slot of a document's label set, built and validated on first sight of its index and values. */
  private slotOf(index: string, values: (string | undefined)[]): StreamSlot {
    let node = childOf(this.slots, index);
    for (let k = 0; k < values.length; k++) node = childOf(node, values[k]);
    if (node.slot === undefined) {
      const labels: Labels = {};
      const fields = this.mapping.streamFields;
      for (let k = 0; k < values.length; k++) if (values[k] !== undefined) labels[fields[k]!.label] = values[k]!;
      labels[INDEX_LABEL] = index;
      node.slot = this.b.slot(labels);
    }
    return node.slot;
  }
}

/** Parses a whole decoded bulk body at once (for tests and small bodies). */
export function parseBulk(body: Buffer, options: BulkOptions, receivedNs: bigint, limits: PushLimits): ParsedBulk {
  const p = new BulkParser(body, options, receivedNs, limits);
  while (!p.step(Number.MAX_SAFE_INTEGER));
  return p.result();
}

/** Parses a decoded bulk body in slices of about `sliceBytes`, yielding to the event loop between them. */
export async function parseBulkInSlices(body: Buffer, options: BulkOptions, receivedNs: bigint, limits: PushLimits, sliceBytes = SLICE_BYTES): Promise<ParsedBulk> {
  const p = new BulkParser(body, options, receivedNs, limits);
  while (!p.step(sliceBytes)) await yieldToEventLoop();
  return p.result();
}

/** The Elasticsearch error `type` of a refused item or request, by Silt code (then HTTP status): the closest type ES itself uses. */
export function esErrorType(code: string, status = 400): string {
  switch (code) {
    case 'SILT_MALFORMED_JSON':
    case 'SILT_TOO_DEEP':
    case 'SILT_BAD_ENTRY':
    case 'SILT_INVALID_UTF8':
    case 'SILT_BAD_TIMESTAMP':
      return 'document_parsing_exception';
    case 'SILT_MISSING_INDEX':
    case 'SILT_EMPTY_BULK':
      return 'action_request_validation_exception';
    case 'SILT_EMPTY_BODY':
    case 'SILT_BAD_COMPRESSED_BODY':
      return 'parse_exception';
  }
  if (status === 401 || status === 403) return 'security_exception';
  if (status === 404) return 'resource_not_found_exception';
  if (status === 413) return 'content_too_long_exception';
  if (status === 429) return 'es_rejected_execution_exception';
  if (status === 503) return 'unavailable_shards_exception';
  return status < 500 ? 'illegal_argument_exception' : 'exception';
}

/** The constant parts of a stored item, around its `_seq_no`. */
const CREATED = ',"_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":';
const CREATED_TAIL = ',"_primary_term":1,"status":201}}';

/** An item's error reason: the Silt code, then the reason, so shippers' logs name both. */
function itemReason(item: BulkItem): string {
  return JSON.stringify(`${item.code}: ${item.reason}`);
}

/**
 * The bulk answer, `{"took","errors","items"}` with exactly one item per action in body order, as
 * Elasticsearch 8 shapes it: 201 `created` for a stored document (its `_id` as given, else
 * `idPrefix` and its position), 400 with `error` {type, reason} for a refused one.
 */
export function renderBulkAnswer(items: readonly BulkItem[], tookMs: number, idPrefix: string): string {
  const parts = new Array<string>(items.length);
  let errors = false;
  // The quoted index, and the head of a stored item, change only with the action and the index.
  let lastIndex: string | null = null;
  let lastAction = '';
  let quoted = 'null';
  let head = '';
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.index !== lastIndex || item.action !== lastAction) {
      if (item.index !== lastIndex) quoted = item.index === null ? 'null' : JSON.stringify(item.index);
      lastIndex = item.index;
      lastAction = item.action;
      head = `{"${item.action}":{"_index":${quoted},"_id":`;
    }
    const given = item.id === null ? null : JSON.stringify(item.id);
    if (item.code === null) {
      const seq = String(i);
      parts[i] = `${head}${given ?? `"${idPrefix}${seq}"`}${CREATED}${seq}${CREATED_TAIL}`;
    } else {
      errors = true;
      parts[i] = `${head}${given ?? 'null'},"status":400,"error":{"type":"${esErrorType(item.code)}","reason":${itemReason(item)}}}}`;
    }
  }
  return `{"took":${tookMs},"errors":${errors},"items":[${parts.join(',')}]}`;
}
