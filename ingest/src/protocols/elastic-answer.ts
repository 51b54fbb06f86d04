/**
 * The bulk answer in Elasticsearch's dialect: `{"took","errors","items"}` with one item per action
 * (201 `created`, or 400 with `error`), the error `type` Elasticsearch itself would give, and what a
 * `filter_path` keeps of it. Rendered straight into bytes: a 1,000-item answer is ~150 KB of JSON, ~26 KB under Filebeat's filter.
 */
import type { BulkItem } from './elastic';

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

/**
 * A bulk answer's `filter_path`: the paths it keeps, by segments, `*` matching any one name.
 * Logstash sends `errors,items.*.error,items.*.status`, Filebeat `errors,items.index.status,
 * items.index.error,items.create.status,…`: both read only those fields, so a filtered answer is a
 * tenth the size of the full one.
 */
export type AnswerFilter = readonly (readonly string[])[];

/**
 * The filter of a `filter_path` parameter, or null for the full answer: when there is none, or it
 * uses what Silt does not implement (exclusions `-…`, `**`, partial wildcards, escapes). The full
 * answer holds every field such a filter could keep, so a shipper reads it just as well.
 */
export function answerFilter(param: unknown): AnswerFilter | null {
  if (typeof param !== 'string') return null;
  const paths: string[][] = [];
  for (const raw of param.split(',')) {
    const path = raw.trim();
    if (path === '') continue;
    if (path.startsWith('-') || path.includes('\\')) return null;
    const parts = path.split('.');
    if (parts.some((part) => part === '' || (part.includes('*') && part !== '*'))) return null;
    paths.push(parts);
  }
  return paths.length === 0 ? null : paths;
}

/** What of a field named `key` the filter keeps: all of it (true), what the paths below it keep, or nothing (null). */
function keep(filter: AnswerFilter, key: string): AnswerFilter | true | null {
  let below: (readonly string[])[] | null = null;
  for (const path of filter) {
    if (path[0] !== '*' && path[0] !== key) continue;
    if (path.length === 1) return true;
    (below ??= []).push(path.slice(1));
  }
  return below;
}

/** The fields of a stored item and of a refused one, in Elasticsearch's order, and the subfields of the objects among them. */
const STORED_FIELDS = ['_index', '_id', '_version', 'result', '_shards', '_seq_no', '_primary_term', 'status'];
const REFUSED_FIELDS = ['_index', '_id', 'status', 'error'];
const SUBFIELDS = new Map([
  ['_shards', ['total', 'successful', 'failed']],
  ['error', ['type', 'reason']],
]);

/** A field an item plan keeps, and which of its subfields (null: the whole field). */
interface KeptField {
  field: string;
  sub: readonly string[] | null;
}

/**
 * The fields of one kind of item a filter keeps: true for the whole item, no fields to leave the item
 * out. `bytes` is the rendered item when the fields are the same for every item of the kind (as
 * `status` alone is for stored items, all Filebeat and Logstash keep of them): written as is.
 */
type ItemPlan = true | { fields: KeptField[]; bytes: Buffer | null };

/** The fields whose value differs from one item of a kind to the next. */
const ITEM_OWN_FIELDS = new Set(['_index', '_id', '_seq_no', 'error']);

/** The plan of the items of `item`'s kind (its action, stored or refused) under the filter of `items`. */
function itemPlan(filter: AnswerFilter, item: BulkItem): ItemPlan {
  const kept = keep(filter, item.action);
  if (kept === true) return true;
  const plan = kept === null ? [] : keptFields(kept, item.code === null);
  const same = plan.length > 0 && plan.every((f) => !ITEM_OWN_FIELDS.has(f.field));
  return { fields: plan, bytes: same ? Buffer.from(itemJson(item, 0, '', '', plan)) : null };
}

/** The fields of a stored or refused item that `kept` (what the filter keeps below the action) keeps. */
function keptFields(kept: AnswerFilter, stored: boolean): KeptField[] {
  const plan: KeptField[] = [];
  for (const field of stored ? STORED_FIELDS : REFUSED_FIELDS) {
    const f = keep(kept, field);
    const subfields = SUBFIELDS.get(field);
    if (f === true) plan.push({ field, sub: null });
    else if (f !== null && subfields !== undefined) {
      // A path below a scalar keeps nothing.
      const sub = subfields.filter((name) => keep(f, name) === true);
      if (sub.length > 0) plan.push({ field, sub });
    }
  }
  return plan;
}

/** The answer's bytes, written straight into a buffer that grows as needed: far cheaper than joining a string and encoding it. */
class AnswerWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  text(s: string): void {
    this.room(3 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer's digits. */
  int(v: number): void {
    let len = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) len++;
    this.room(len);
    for (let k = this.pos + len - 1; k >= this.pos; k--) {
      this.buf[k] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    this.pos += len;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** About the bytes of a full stored item, to size the answer's buffer. */
const ITEM_BYTES = 200;
const COMMA = 44;

/** The constant parts of a stored item, around its `_seq_no` (after a generated `_id`, then after a given one). */
const GENERATED_CREATED = Buffer.from('","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":');
const CREATED = GENERATED_CREATED.subarray(1);
const CREATED_TAIL = Buffer.from(',"_primary_term":1,"status":201}}');

/** An item's error reason: the Silt code, then the reason, so shippers' logs name both. */
function itemReason(item: BulkItem): string {
  return JSON.stringify(`${item.code}: ${item.reason}`);
}

/** The JSON of a field of item `seq` (subfields null: all of an object field); `quoted` is its index as JSON. */
function fieldJson(item: BulkItem, seq: number, idPrefix: string, quoted: string, field: string, sub: readonly string[] | null): string {
  switch (field) {
    case '_index':
      return quoted;
    case '_id':
      return item.id !== null ? JSON.stringify(item.id) : item.code === null ? `"${idPrefix}${seq}"` : 'null';
    case '_version':
    case '_primary_term':
      return '1';
    case 'result':
      return '"created"';
    case '_seq_no':
      return String(seq);
    case 'status':
      return item.code === null ? '201' : '400';
  }
  const parts = (sub ?? SUBFIELDS.get(field)!).map((name) => {
    if (field === '_shards') return `"${name}":${name === 'failed' ? 0 : 1}`;
    return `"${name}":${name === 'type' ? `"${esErrorType(item.code!)}"` : itemReason(item)}`;
  });
  return `{${parts.join(',')}}`;
}

/** The JSON of item `seq` with only the `fields` of a plan. */
function itemJson(item: BulkItem, seq: number, idPrefix: string, quoted: string, fields: readonly KeptField[]): string {
  const parts = fields.map((f) => `"${f.field}":${fieldJson(item, seq, idPrefix, quoted, f.field, f.sub)}`);
  return `{"${item.action}":{${parts.join(',')}}}`;
}

/**
 * Writes the items array (`opening` first, `]` last) with each item the filter of `items` keeps
 * (null: every item whole); writes nothing when it keeps none, as Elasticsearch leaves out a path
 * that keeps nothing.
 */
function writeItems(w: AnswerWriter, items: readonly BulkItem[], idPrefix: string, filter: AnswerFilter | null, opening: string): void {
  const plans = new Map<string, ItemPlan>();
  let written = 0;
  // The quoted index, and the heads of a whole item, change only with the action and the index.
  let lastIndex: string | null = null;
  let lastAction = '';
  let quoted = 'null';
  let head = Buffer.alloc(0);
  let generatedHead = head;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.index !== lastIndex || item.action !== lastAction) {
      if (item.index !== lastIndex) quoted = item.index === null ? 'null' : JSON.stringify(item.index);
      lastIndex = item.index;
      lastAction = item.action;
      const text = `{"${item.action}":{"_index":${quoted},"_id":`;
      head = Buffer.from(text);
      generatedHead = Buffer.from(`${text}"${idPrefix}`);
    }
    let plan: ItemPlan = true;
    if (filter !== null) {
      const key = `${item.code === null ? '+' : '-'}${item.action}`;
      let known = plans.get(key);
      if (known === undefined) plans.set(key, (known = itemPlan(filter, item)));
      plan = known;
      if (plan !== true && plan.fields.length === 0) continue;
    }
    if (written++ === 0) w.text(opening);
    else w.byte(COMMA);
    if (plan !== true) {
      if (plan.bytes !== null) w.bytes(plan.bytes);
      else w.text(itemJson(item, i, idPrefix, quoted, plan.fields));
    } else if (item.code !== null) {
      w.bytes(head);
      w.text(`${item.id === null ? 'null' : JSON.stringify(item.id)},"status":400,"error":{"type":"${esErrorType(item.code)}","reason":${itemReason(item)}}}}`);
    } else {
      if (item.id === null) {
        w.bytes(generatedHead);
        w.int(i);
        w.bytes(GENERATED_CREATED);
      } else {
        w.bytes(head);
        w.text(JSON.stringify(item.id));
        w.bytes(CREATED);
      }
      w.int(i);
      w.bytes(CREATED_TAIL);
    }
  }
  if (written > 0) w.text(']');
}

/**
 * The bulk answer, `{"took","errors","items"}` with exactly one item per action in body order, as
 * Elasticsearch 8 shapes it: 201 `created` for a stored document (its `_id` as given, else
 * `idPrefix` and its position), 400 with `error` {type, reason} for a refused one. With a filter,
 * only what it keeps: fields, items and keys that keep nothing are left out, as Elasticsearch does.
 */
export function renderBulkAnswer(items: readonly BulkItem[], tookMs: number, idPrefix: string, filter: AnswerFilter | null = null): Buffer {
  let errors = false;
  for (const item of items) if (item.code !== null) errors = true;
  if (filter === null) {
    const w = new AnswerWriter(64 + items.length * ITEM_BYTES);
    w.text(`{"took":${tookMs},"errors":${errors},`);
    writeItems(w, items, idPrefix, null, '"items":[');
    w.text(items.length === 0 ? '"items":[]}' : '}');
    return w.result();
  }
  const keys: string[] = [];
  if (keep(filter, 'took') === true) keys.push(`"took":${tookMs}`);
  if (keep(filter, 'errors') === true) keys.push(`"errors":${errors}`);
  const kept = keep(filter, 'items');
  const w = new AnswerWriter(64 + (kept === null ? 0 : items.length * 32));
  w.text(`{${keys.join(',')}`);
  if (kept !== null) writeItems(w, items, idPrefix, kept === true ? null : kept, `${keys.length > 0 ? ',' : ''}"items":[`);
  w.text('}');
  return w.result();
}
