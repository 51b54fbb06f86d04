/**
 * How Elasticsearch bulk documents map to entries: the configured (or per request) message,
 * timestamp and stream fields, compiled once into the tree of their dotted names (which flattening
 * walks) and into a reader of their values. Each field is a dotted path: a flat key of that name
 * wins, else the path through nested objects.
 */

/** A document field named by a dotted path: a flat key of that name wins, else the path through nested objects. */
export interface FieldPath {
  name: string;
  /** The path's segments; null when the name has no dot (a flat key is the only match). */
  parts: string[] | null;
  /** The number of its name among the mapping's distinct field names: the slot that marks it consumed in a document. */
  id: number;
}

/** A field that becomes a stream label, with the label's name. */
export interface StreamField extends FieldPath {
  label: string;
}

/**
 * A node of the tree of the mapping's field names by the keys a document may nest them under
 * (`a.b.c` is reached by `a.b.c`, by `a` then `b.c`, by `a.b` then `c`, by `a` then `b` then `c`):
 * flattening finds whether a key's dotted name is a field's by one Map lookup, without building the name.
 */
export interface NameNode {
  /** The dotted name this node stands for. */
  name: string;
  /** The field name's number (`FieldPath.id`), or -1 when the name is only a prefix of field names. */
  id: number;
  next: Map<string, NameNode>;
}

/** Writes the value of every field of a mapping in a document to `out`, in the order `BulkMapping.read` gives. */
export type FieldReader = (doc: Record<string, unknown>, out: unknown[]) => void;

/** How bulk documents map to entries; compile once with `bulkMapping`, per request with `withStreamFields`. */
export interface BulkMapping {
  messageFields: readonly FieldPath[];
  timestampFields: readonly FieldPath[];
  streamFields: readonly StreamField[];
  /**
   * Reads every field's value, as property access reads it (the flat key, else the nested path;
   * undefined when absent): the message fields' first, then the timestamp fields', then the stream fields'.
   */
  read: FieldReader;
  /** The root of the field names' tree (the name '' of the document itself). */
  names: NameNode;
  /** How many distinct field names the tree holds. */
  nameCount: number;
}

/**
 * Builds the names' tree and numbers the distinct names. A node stands for a name or a prefix of
 * one that ends before a dot, shared by every way of reaching it; its children are keyed by every
 * run of segments that continues it. Flattening names what a top-level `""` key holds as top-level
 * keys, so no node continues that key.
 */
function nameTree(names: readonly string[]): { root: NameNode; ids: number[]; count: number } {
  const root: NameNode = { name: '', id: -1, next: new Map() };
  const byName = new Map<string, NameNode>();
  const nodeOf = (name: string): NameNode => {
    let node = byName.get(name);
    if (node === undefined) {
      node = { name, id: -1, next: new Map() };
      byName.set(name, node);
    }
    return node;
  };
  const ids: number[] = [];
  let count = 0;
  for (const name of names) {
    const parts = name.split('.');
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('.');
      if (i > 0 && prefix === '') continue;
      const from = i === 0 ? root : nodeOf(prefix);
      for (let j = i + 1; j <= parts.length; j++) from.next.set(parts.slice(i, j).join('.'), nodeOf(parts.slice(0, j).join('.')));
    }
    const node = nodeOf(name);
    if (node.id < 0) node.id = count++;
    ids.push(node.id);
  }
  return { root, ids, count };
}

function fieldPath(name: string, id: number): FieldPath {
  return { name, parts: name.includes('.') ? name.split('.') : null, id };
}

/** A label name for a field: every character outside `[a-zA-Z0-9_]` (dots first of all) becomes `_`, as Loki names OTLP attributes. */
function labelName(field: string): string {
  return field.replace(/[^a-zA-Z0-9_]/g, '_');
}

function streamField(name: string, id: number): StreamField {
  return { ...fieldPath(name, id), label: labelName(name) };
}

/**
 * Compiles the reader of `fields`: straight-line code with each name and segment as a constant key.
 * Each read then has an inline cache of its own, which the documents of one shipper (one shape)
 * keep monomorphic, where one generic `doc[field.name]` for every field is a megamorphic lookup that
 * costs several times more per document. Names enter the code only as JSON string literals.
 */
function compileReader(fields: readonly FieldPath[]): FieldReader {
  const key = (s: string): string => JSON.stringify(s);
  const code = ['let v;'];
  fields.forEach((f, i) => {
    code.push(`v = doc[${key(f.name)}];`);
    if (f.parts !== null) {
      // The nested path only when the flat key is absent, each step into a JSON object (not an array).
      code.push('if (v === undefined) {', `v = doc[${key(f.parts[0]!)}];`);
      for (const part of f.parts.slice(1)) code.push(`v = typeof v === 'object' && v !== null && !Array.isArray(v) ? v[${key(part)}] : undefined;`);
      code.push('}');
    }
    code.push(`out[${i}] = v;`);
  });
  return new Function('doc', 'out', code.join('\n')) as FieldReader;
}

/** Compiles the configured field lists (`ingest.elasticMessageFields`, `elasticTimestampFields`, `elasticStreamFields`). */
export function bulkMapping(messageFields: readonly string[], timestampFields: readonly string[], streamFields: readonly string[]): BulkMapping {
  const { root, ids, count } = nameTree([...messageFields, ...timestampFields, ...streamFields]);
  const t = messageFields.length;
  const k = t + timestampFields.length;
  const mapping = {
    messageFields: messageFields.map((name, i) => fieldPath(name, ids[i]!)),
    timestampFields: timestampFields.map((name, i) => fieldPath(name, ids[t + i]!)),
    streamFields: streamFields.map((name, i) => streamField(name, ids[k + i]!)),
    names: root,
    nameCount: count,
  };
  return { ...mapping, read: compileReader([...mapping.messageFields, ...mapping.timestampFields, ...mapping.streamFields]) };
}

/**
 * Request mappings by `_stream_fields` value, per configured mapping: a shipper that sends the
 * parameter sends the same list with every request, so its mapping is compiled once and its reader
 * stays warm in the JIT. Bounded (it starts over past MAX_REQUEST_MAPPINGS distinct values).
 */
const requestMappings = new WeakMap<BulkMapping, Map<string, BulkMapping>>();
const MAX_REQUEST_MAPPINGS = 64;

/**
 * The mapping of a request with `?_stream_fields=a,b`: as in VictoriaLogs, the list replaces the
 * stream fields (it does not add to them); absent or empty, the configured ones stay.
 */
export function withStreamFields(mapping: BulkMapping, param: string | undefined): BulkMapping {
  if (param === undefined) return mapping;
  let cache = requestMappings.get(mapping);
  const cached = cache?.get(param);
  if (cached !== undefined) return cached;
  const names = param
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const result =
    names.length === 0
      ? mapping
      : bulkMapping(
          mapping.messageFields.map((f) => f.name),
          mapping.timestampFields.map((f) => f.name),
          names,
        );
  if (cache === undefined) requestMappings.set(mapping, (cache = new Map()));
  if (cache.size >= MAX_REQUEST_MAPPINGS) cache.clear();
  cache.set(param, result);
  return result;
}
