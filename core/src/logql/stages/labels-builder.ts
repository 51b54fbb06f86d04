/**
 * The per-entry label state every pipeline stage reads and writes, as Loki's LabelsBuilder keeps it:
 * the stream labels (the base), structured metadata, labels the stages extracted ("parsed"), the
 * names deleted from the base, and the error and its details. A parsed label overrides metadata and
 * a stream label of the same name; metadata overrides a stream label. One builder serves every
 * entry of a pipeline: `reset` clears it, and nothing is allocated until the labels are asked for.
 */
import type { Labels } from '../../labels';
import { goTrimSpace } from './convert';

/** Label carrying a pipeline error (`JSONParserErr`, …). */
export const ERROR_LABEL = '__error__';
/** Label carrying the error's text. */
export const ERROR_DETAILS_LABEL = '__error_details__';
/** Label Loki sets when a metric query groups by `__error__`, so errors are kept rather than failing the query. */
export const PRESERVE_ERROR_LABEL = '__preserve_error__';
/** Suffix of an extracted label whose name is already a stream label or metadata name. */
export const DUPLICATE_SUFFIX = '_extracted';

/** The pipeline error names Loki uses. */
export const PipelineError = {
  json: 'JSONParserErr',
  logfmt: 'LogfmtParserErr',
  sampleExtraction: 'SampleExtractionErr',
  labelFilter: 'LabelFilterErr',
  templateFormat: 'TemplateFormatErr',
} as const;

/** A label filter as the hints run it while a parser extracts (true: keep the entry). */
export type LabelPredicate = (b: LabelsBuilder) => boolean;

/**
 * Loki's parser hints: which labels a metric query needs (so parsers skip the rest and stop early),
 * whether it needs none, and the first single-label filter per label name, which parsers apply the
 * moment they extract that label (an entry failing it is dropped then, on the value extracted).
 */
export class ParserHints {
  /** The builder whose entry the hints describe (set when the builder is made). */
  private b: LabelsBuilder | null = null;

  constructor(
    /** Labels to extract; empty means all. */
    private readonly required: readonly string[],
    private readonly noLabelsFlag: boolean,
    /** Whether `__error__` is among the required labels (errors are then kept as labels). */
    readonly preserveError: boolean,
    private readonly filters: ReadonlyMap<string, LabelPredicate>,
  ) {}

  /** Hints that ask nothing of the parsers but apply `filters` early. */
  static filtersOnly(filters: ReadonlyMap<string, LabelPredicate>): ParserHints {
    return new ParserHints([], false, false, filters);
  }

  /** Ties the hints to the one builder they serve. */
  attach(b: LabelsBuilder): void {
    if (this.b !== null && this.b !== b) throw new Error('parser hints serve one labels builder');
    this.b = b;
  }

  /** Whether a parser (or label_format) already extracted `key` for this entry. */
  extracted(key: string): boolean {
    return this.b!.wasExtracted(key);
  }

  /** Whether a parser should extract `key`. */
  shouldExtract(key: string): boolean {
    return this.required.length === 0 || this.required.includes(key);
  }

  /** Whether any required label starts with `prefix` (json descends into an object only then). */
  shouldExtractPrefix(prefix: string): boolean {
    if (this.required.length === 0) return true;
    for (const l of this.required) if (l.startsWith(prefix)) return true;
    return false;
  }

  /** Whether parsers may skip the entry: no labels needed, or all required ones already extracted. */
  noLabels(): boolean {
    return this.noLabelsFlag || this.allRequiredExtracted();
  }

  /** Whether every required label has been extracted. */
  allRequiredExtracted(): boolean {
    if (this.required.length === 0) return false;
    const b = this.b!;
    for (const l of this.required) if (!b.wasExtracted(l)) return false;
    return true;
  }

  /** Runs the early filter on `name`, if any: false drops the entry. */
  shouldContinueParsingLine(name: string, b: LabelsBuilder): boolean {
    if (this.filters.size === 0) return true;
    const f = this.filters.get(name);
    return f === undefined || f(b);
  }
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A small ordered label list, reused from entry to entry without reallocating (a Map would be
 * cleared and regrown for every entry). Names are compared with ===, which is cheap for the
 * interned names stages use.
 */
export class LabelList {
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  /** Number of labels. */
  size = 0;

  /** Empties the list. */
  clear(): void {
    this.size = 0;
  }

  private indexOf(name: string): number {
    const names = this.names;
    for (let i = 0; i < this.size; i++) if (names[i] === name) return i;
    return -1;
  }

  /** The value of `name`, or undefined. */
  get(name: string): string | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.values[i];
  }

  /** Whether `name` is in the list. */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** Sets `name`, in place when present, else at the end. */
  set(name: string, value: string): void {
    const i = this.indexOf(name);
    if (i >= 0) {
      this.values[i] = value;
      return;
    }
    this.names[this.size] = name;
    this.values[this.size] = value;
    this.size++;
  }

  /** Removes `name`; whether it was there. */
  delete(name: string): boolean {
    const i = this.indexOf(name);
    if (i < 0) return false;
    for (let k = i + 1; k < this.size; k++) {
      this.names[k - 1] = this.names[k]!;
      this.values[k - 1] = this.values[k]!;
    }
    this.size--;
    return true;
  }

  /** The name at position `i`. */
  name(i: number): string {
    return this.names[i]!;
  }

  /** The value at position `i`. */
  value(i: number): string {
    return this.values[i]!;
  }
}

/** Label state of one entry through a pipeline. */
export class LabelsBuilder {
  /** The entry's stream labels. */
  stream: Labels = {};
  /** Structured metadata, after renaming names that collide with stream labels. */
  readonly metadata = new LabelList();
  /** Labels set by stages. */
  readonly parsed = new LabelList();
  /** Names deleted (drop, keep, label_format renames). */
  readonly deleted: string[] = [];
  /** The current error (`__error__`), '' when none. */
  err = '';
  /** The current error's details (`__error_details__`), '' when none. */
  errDetails = '';

  /** Extracted names deleted since (an extracted name stays "extracted" for the parsers). */
  private readonly droppedParsed: string[] = [];

  constructor(readonly hints: ParserHints) {
    hints.attach(this);
  }

  /** Starts an entry: the stream labels and its structured metadata (names taken by stream labels get `_extracted`). */
  reset(stream: Labels, metadata: Labels | undefined): void {
    this.stream = stream;
    if (this.metadata.size > 0) this.metadata.clear();
    if (this.parsed.size > 0) this.parsed.clear();
    if (this.deleted.length > 0) this.deleted.length = 0;
    if (this.droppedParsed.length > 0) this.droppedParsed.length = 0;
    this.err = '';
    this.errDetails = '';
    if (metadata === undefined) return;
    for (const name in metadata) {
      if (!hasOwn.call(metadata, name)) continue;
      const value = metadata[name]!;
      const n = hasOwn.call(stream, name) ? name + DUPLICATE_SUFFIX : name;
      if (n === ERROR_LABEL) this.err = value;
      else if (n === ERROR_DETAILS_LABEL) this.errDetails = value;
      else this.metadata.set(n, value);
    }
  }

  /** Whether `name` is a name an extracted label must not take: a stream label or a metadata name. */
  taken(name: string): boolean {
    return hasOwn.call(this.stream, name) || (this.metadata.size > 0 && this.metadata.has(name));
  }

  /** Whether a stage set `name` as an extracted label during this entry (even if it was deleted since). */
  wasExtracted(name: string): boolean {
    return this.parsed.has(name) || (this.droppedParsed.length > 0 && this.droppedParsed.includes(name));
  }

  /** The label's current value; undefined when absent (a stream label with an empty value counts as absent, as in Loki). */
  get(name: string): string | undefined {
    const m = this.metadata.get(name);
    if (m !== undefined) return m;
    const p = this.parsed.get(name);
    if (p !== undefined) return p;
    if (this.deleted.length > 0 && this.deleted.includes(name)) return undefined;
    if (!hasOwn.call(this.stream, name)) return undefined;
    const v = this.stream[name]!;
    return v === '' ? undefined : v;
  }

  /** Sets an extracted label: it overrides metadata and stream labels of the same name. */
  setParsed(name: string, value: string): void {
    if (this.metadata.size > 0) this.metadata.delete(name);
    this.parsed.set(name, value);
  }

  /** Deletes a label, whatever its origin. */
  del(name: string): void {
    this.metadata.delete(name);
    if (this.parsed.delete(name)) this.droppedParsed.push(name);
    this.deleted.push(name);
  }

  /** Sets the error, and its details when given. */
  setError(err: string, details: string | null): void {
    this.err = err;
    if (details !== null) this.errDetails = details;
  }

  /** Marks a parser error as Loki's parsers do (with `__preserve_error__` when the query groups by `__error__`). */
  addParserError(err: string, details: string | null): void {
    this.setError(err, details);
    if (this.hints.preserveError) this.setParsed(PRESERVE_ERROR_LABEL, 'true');
  }

  /** True when no stage changed the labels and there is no metadata or error: the stream labels are the answer. */
  unchanged(): boolean {
    return this.deleted.length === 0 && this.metadata.size === 0 && this.parsed.size === 0 && this.err === '' && this.errDetails === '';
  }

  /** Calls `fn` for every current label but the error labels (stream, metadata, then extracted labels). */
  forEach(fn: (name: string, value: string) => void): void {
    const stream = this.stream;
    const dels = this.deleted;
    for (const name in stream) {
      if (!hasOwn.call(stream, name)) continue;
      if (dels.length > 0 && dels.includes(name)) continue;
      if (this.metadata.has(name) || this.parsed.has(name)) continue;
      fn(name, stream[name]!);
    }
    const m = this.metadata;
    for (let i = 0; i < m.size; i++) fn(m.name(i), m.value(i));
    const p = this.parsed;
    for (let i = 0; i < p.size; i++) fn(p.name(i), p.value(i));
  }

  /** The entry's full labels: stream labels, metadata, extracted labels, `__error__` and `__error_details__`. */
  labels(): Labels {
    if (this.unchanged()) return this.stream;
    const out: Labels = {};
    const stream = this.stream;
    const dels = this.deleted;
    const m = this.metadata;
    const p = this.parsed;
    for (const name in stream) {
      if (!hasOwn.call(stream, name)) continue;
      if (dels.length > 0 && dels.includes(name)) continue;
      if ((m.size > 0 && m.has(name)) || p.has(name)) continue;
      out[name] = stream[name]!;
    }
    for (let i = 0; i < m.size; i++) out[m.name(i)] = m.value(i);
    for (let i = 0; i < p.size; i++) out[p.name(i)] = p.value(i);
    if (this.err !== '') out[ERROR_LABEL] = this.err;
    if (this.errDetails !== '') out[ERROR_DETAILS_LABEL] = this.errDetails;
    return out;
  }
}

/**
 * Loki's sanitizeLabelKey for extracted names: trimmed, `_` before a leading digit, every
 * character outside [a-zA-Z0-9_] replaced by `_`.
 */
export function sanitizeLabelKey(key: string): string {
  return appendSanitized('', key);
}

const SANITIZED_RE = /^[A-Za-z0-9_]*$/;

/** Appends `key` (trimmed) to `to` with sanitized characters; `_` first when `to` is empty and `key` starts with a digit. */
export function appendSanitized(to: string, key: string): string {
  const k = goTrimSpace(key);
  if (k === '') return to;
  let out = to;
  const c0 = k.charCodeAt(0);
  if (out === '' && c0 >= 48 && c0 <= 57) out = '_';
  if (SANITIZED_RE.test(k)) return out + k;
  for (const ch of k) {
    const c = ch.charCodeAt(0);
    const ok = ch.length === 1 && ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57));
    out += ok ? ch : '_';
  }
  return out;
}
