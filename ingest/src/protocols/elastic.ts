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
import { ByteSource } from '../../../core/src/byte-source';
import { BadRequestError } from '../../../core/src/errors';
import type { Labels } from '../../../core/src/labels';
import { PushBuilder, isJsonObject, kindOf, type ParsedPush, type PushLimits, type StreamSlot } from '../push/builder';
import { MAX_JSON_DEPTH, assertDepth, parseJson } from '../push/json';
import { parseMediaType, unsupportedType } from '../push/media-type';
import type { BulkMapping, NameNode } from './elastic-mapping';
import { ABSENT, DocumentScanner, EMPTY_TEXT, type DocumentPlan, type Mapped } from './elastic-scan';

/** Where the documents of a request go and how they are read. */
export interface BulkOptions {
  /** The `{index}` of `/{index}/_bulk`: the target of actions that name no `_index`. */
  pathIndex: string | undefined;
  mapping: BulkMapping;
}

/** What one action of a bulk body came to, for its item in the answer. */
export interface BulkItem {
  /** The action's own name (`index`, `create`, `delete`, `update`); `index` for a line that names no known action. */
  readonly action: string;
  /** The target index, or null when there is none. */
  readonly index: string | null;
  /** The action's `_id`, or null when it gave none. */
  readonly id: string | null;
  /** Null when the document was accepted; else the `SILT_…` code of its rejection (also listed in `push.rejected`). */
  readonly code: string | null;
  readonly reason: string;
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
  /** Its item while it is not refused: one object for every document of a repeated action line (`fail` replaces it). */
  item: BulkItem;
}

/** The timestamp `add` is given for a scanned document's: its bytes, at `tsStart` and `tsEnd` in the body. */
const TS_IN_BODY: unknown = Object.freeze({ inBody: true });

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

/**
 * A node of the tree that finds a label set by its index and stream field values, one step per
 * value: no key to build per document. An absent value (most stream fields of most documents) is a
 * field of the node, not a Map lookup.
 */
interface SlotNode {
  next: Map<string, SlotNode>;
  absent: SlotNode | undefined;
  slot: StreamSlot | undefined;
}

function slotNode(): SlotNode {
  return { next: new Map(), absent: undefined, slot: undefined };
}

/** The child of `node` for `value`, created on first use. */
function childOf(node: SlotNode, value: string | undefined): SlotNode {
  if (value === undefined) return (node.absent ??= slotNode());
  let child = node.next.get(value);
  if (child === undefined) {
    child = slotNode();
    node.next.set(value, child);
  }
  return child;
}

/** Parses and maps one bulk body; drive it with `step`, read it with `result`. */
class BulkParser {
  private readonly b: PushBuilder;
  private readonly items: BulkItem[] = [];
  private readonly valid: boolean;
  /** An ASCII body decodes as latin1, a plain byte copy (the same text, a little cheaper than UTF-8 decoding). */
  private readonly encoding: BufferEncoding;
  private readonly mapping: BulkMapping;
  /** Where the next line starts: after a leading UTF-8 BOM, if any, at first. */
  private offset: number;
  private expect = Expect.Action;
  /** Byte range of the last well-formed action line and what it said: identical lines (the usual case) are not parsed again. */
  private prevStart = -1;
  private prevEnd = -1;
  private prevAction: Action | null = null;
  /** Label sets seen in this body, by index and then each stream field value. */
  private readonly slots = slotNode();
  /** The index of the last document and its node in `slots`: a body's documents mostly share one index. */
  private lastIndex = '';
  private lastIndexNode: SlotNode | undefined;
  private readonly values: (string | undefined)[];
  /** The document's field values, as `BulkMapping.read` writes them. */
  private readonly found: unknown[];
  /** By field name number: the document whose line, timestamp or a label came from that field, which leaves it out of the document's attrs. */
  private readonly consumedIn: Int32Array;
  /** The number of the document being mapped (from 1: the marks start at 0). */
  private docNo = 0;
  /** The document being mapped, whether its nesting was checked yet, and its attrs (created with the first). */
  private docText = '';
  private depthChecked = false;
  private attrs: Record<string, string> | null = null;
  /** What `extract` made of the last document (one object, rewritten for each). */
  private readonly mapped: Mapped;
  /** Where the timestamp of a scanned document is in the body, when `add` is given TS_IN_BODY. */
  private tsStart = 0;
  private tsEnd = 0;
  /** Maps the documents of an ASCII body by their shape, without JSON.parse (null for other bodies). */
  private readonly scanner: DocumentScanner | null;
  /** The body, for lines copied from it as bytes. */
  private readonly source: ByteSource;

  constructor(
    private readonly body: Buffer,
    private readonly options: BulkOptions,
    receivedNs: bigint,
    limits: PushLimits,
  ) {
    this.b = new PushBuilder(limits, receivedNs);
    this.offset = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
    this.valid = isUtf8(body);
    this.source = new ByteSource(body);
    this.encoding = isAscii(body) ? 'latin1' : 'utf8';
    this.mapping = options.mapping;
    this.values = new Array<string | undefined>(this.mapping.streamFields.length);
    const m = this.mapping;
    this.found = new Array<unknown>(m.messageFields.length + m.timestampFields.length + m.streamFields.length).fill(undefined);
    this.consumedIn = new Int32Array(this.mapping.nameCount);
    this.mapped = { line: undefined, ts: undefined, values: this.values, attrs: null };
    // An ASCII body's bytes are its text, so its documents can be read in place.
    this.scanner = this.encoding === 'latin1' ? new DocumentScanner(body, m, (doc) => this.extract(doc)) : null;
  }

  /**
   * Parses the lines of about `maxBytes` more of the body (whole lines, split on \n, one trailing \r
   * stripped; a final empty line after the last \n is not a line); true once the body is done.
   */
  step(maxBytes: number): boolean {
    const body = this.body;
    const n = body.length;
    const until = this.offset + maxBytes;
    let start = this.offset;
    while (start < n) {
      let nl = body.indexOf(10, start);
      if (nl < 0) nl = n;
      this.line(start, nl > start && body[nl - 1] === 13 ? nl - 1 : nl);
      start = nl + 1;
      if (nl >= until) break;
    }
    this.offset = start;
    return start >= n ? this.finish() : false;
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
    this.items[i] = { ...this.items[i]!, code, reason };
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
    const index = action.item.index;
    const i = this.items.length;
    this.items.push(action.item);
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
    const given = scalarText(meta._index);
    const raw = scalarText(meta._id);
    const id = raw === undefined || raw === '' ? null : raw;
    const index = (given === '' ? undefined : given) ?? this.options.pathIndex ?? null;
    return { name, item: { action: name, index, id, code: null, reason: '' } };
  }

  private document(i: number, start: number, end: number): void {
    const plan = this.scanner === null ? null : this.scanner.plan(start, end);
    if (plan !== null) return this.mapPlanned(i, plan, start, end);
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
    const { line, ts, values, attrs } = this.extract(doc);
    this.add(i, line ?? text, 0, 0, ts === undefined ? undefined : esDate(ts), attrs ?? undefined, values);
  }

  /** Maps a scanned document (see elastic-scan.ts) by its shape's plan, as `map` maps it parsed. */
  private mapPlanned(i: number, plan: DocumentPlan, start: number, end: number): void {
    const scanner = this.scanner!;
    // The body is ASCII: a line's bytes are its text, copied to the frame as they are, unless it has escapes.
    const lineStart = plan.line >= 0 ? scanner.start(plan.line) : start;
    const lineEnd = plan.line >= 0 ? scanner.end(plan.line) : plan.line === EMPTY_TEXT ? start : end;
    const lineText = plan.line >= 0 && scanner.isEscaped(plan.line) ? scanner.text(plan.line) : null;
    let ts: unknown = plan.ts === EMPTY_TEXT ? '' : undefined;
    if (plan.ts >= 0 && scanner.isEscaped(plan.ts)) ts = esDate(scanner.text(plan.ts));
    else if (plan.ts >= 0) {
      // Read from the body's bytes by `when`, or as text when they are not RFC 3339 with a zone.
      ts = TS_IN_BODY;
      this.tsStart = scanner.start(plan.ts);
      this.tsEnd = scanner.end(plan.ts);
    }
    let attrs: Record<string, string> | undefined;
    const names = plan.attrNames;
    if (names.length > 0) {
      attrs = {};
      for (let k = 0; k < names.length; k++) attrs[names[k]!] = scanner.text(plan.attrTokens[k]!);
    }
    const values = this.values;
    for (let k = 0; k < values.length; k++) {
      const t = plan.values[k]!;
      values[k] = t >= 0 ? scanner.repeatedText(t) : t === ABSENT ? undefined : '';
    }
    this.add(i, lineText, lineStart, lineEnd, ts, attrs, values);
  }

  /** The text of a timestamp left in the body (TS_IN_BODY), completed as Elasticsearch completes dates. */
  private tsText(): unknown {
    return esDate(this.body.toString('latin1', this.tsStart, this.tsEnd));
  }

  /**
   * Adds item `i`'s entry to the stream of its index and label values, or fails the item: its line
   * as text, or (`text` null) the bytes [`from`, `to`) of an ASCII body (valid UTF-8 as they are);
   * its timestamp as found, or TS_IN_BODY.
   * Every entry of a body goes into payload runs, so a stream's entries keep their order whichever
   * way each was read.
   */
  private add(i: number, text: string | null, from: number, to: number, ts: unknown, attrs: Record<string, string> | undefined, values: readonly (string | undefined)[]): void {
    const b = this.b;
    const slot = this.slotOf(this.items[i]!.index!, values);
    if (slot.problem !== null) {
      // An entry's own problems are named before its labels', as for every protocol.
      if (b.entry(text ?? this.body.toString('latin1', from, to), ts === TS_IN_BODY ? this.tsText() : ts, attrs) === null) return this.fail(i, b.code, b.reason);
      return this.fail(i, 'SILT_BAD_LABELS', slot.problem);
    }
    if (!(ts === TS_IN_BODY ? (b.whenRfc3339(this.body, this.tsStart, this.tsEnd) ?? b.when(this.tsText())) : b.when(ts))) return this.fail(i, b.code, b.reason);
    const { seconds, nanos } = b.at;
    const ok = text !== null ? b.addText(slot, seconds, nanos, text, attrs) : b.addBytes(slot, seconds, nanos, this.source.range(from, to), attrs, true);
    if (!ok) this.fail(i, b.code, b.reason);
  }

  /**
   * What a document maps to: its line, its timestamp as found (before `esDate`), its stream label
   * values (in `values`) and its attrs; throws SILT_TOO_DEEP (a BadRequestError) for nesting past the bound.
   */
  private extract(doc: Record<string, unknown>): Mapped {
    const m = this.mapping;
    const consumedIn = this.consumedIn;
    const docNo = ++this.docNo;
    const found = this.found;
    m.read(doc, found);
    const { messageFields, timestampFields, streamFields } = m;
    let line: string | undefined;
    for (let k = 0; k < messageFields.length; k++) {
      line = scalarText(found[k]);
      if (line !== undefined) {
        consumedIn[messageFields[k]!.id] = docNo;
        break;
      }
    }
    let ts: unknown;
    const t0 = messageFields.length;
    for (let k = 0; k < timestampFields.length; k++) {
      const v = found[t0 + k];
      if (v !== undefined && v !== null) {
        ts = v;
        consumedIn[timestampFields[k]!.id] = docNo;
        break;
      }
    }
    const values = this.values;
    const s0 = t0 + timestampFields.length;
    for (let k = 0; k < streamFields.length; k++) {
      const f = found[s0 + k];
      if (typeof f === 'object' && f !== null) this.checkDepth();
      const v = labelValue(f);
      values[k] = v;
      if (v !== undefined) consumedIn[streamFields[k]!.id] = docNo;
    }
    this.attrs = null;
    this.flatten(doc, '', m.names, 1);
    const mapped = this.mapped;
    mapped.line = line;
    mapped.ts = ts;
    mapped.attrs = this.attrs;
    return mapped;
  }

  /**
   * Flattens `obj` (at nesting `depth`) into the document's `attrs` with dotted names, as
   * VictoriaLogs does: nested objects are walked, arrays, numbers and booleans become their JSON
   * text, nulls and empty strings are left out (an empty value means an absent one), and so are the
   * fields consumed by this document. `node` is the names' tree node of `prefix` (null off the tree):
   * a key's node gives its name, and whether it was consumed, without building the name. Recursive,
   * so the depth is checked before an array is stringified or a level past the bound is entered.
   */
  private flatten(obj: Record<string, unknown>, prefix: string, node: NameNode | null, depth: number): void {
    for (const k in obj) {
      const v = obj[k];
      if (v === null) continue;
      const known = node === null ? undefined : node.next.get(k);
      let name: string;
      if (known === undefined) {
        name = prefix === '' ? k : `${prefix}.${k}`;
      } else {
        if (known.id >= 0 && this.consumedIn[known.id] === this.docNo) continue;
        name = known.name;
      }
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
          this.flatten(v as Record<string, unknown>, name, name === '' ? this.mapping.names : (known ?? null), depth + 1);
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
  private slotOf(index: string, values: readonly (string | undefined)[]): StreamSlot {
    if (index !== this.lastIndex || this.lastIndexNode === undefined) {
      this.lastIndexNode = childOf(this.slots, index);
      this.lastIndex = index;
    }
    let node = this.lastIndexNode;
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
