/**
 * Bulk documents mapped without JSON.parse. Shippers send documents of a few fixed shapes (the same
 * keys, nested the same way, holding the same kinds of values), and how a document maps to an
 * entry depends only on its shape: which value is the line, the timestamp, each stream label and
 * each attribute (under which name). So a document is scanned in place for its shape and the byte
 * ranges of its values; the mapping of a shape (its plan) is worked out once, by the bulk parser's
 * own mapper run on a stand-in document of that shape, and the document's entry is then built from
 * its ranges. The scan takes only what JSON.parse reads the same way a byte at a time: an object
 * whose values are strings without control characters, null, or such objects; keys likewise but
 * without escapes (and never `__proto__`, which JSON.parse stores as a key where assignment would
 * not). A value with escapes (a line quoting something, say) is decoded by JSON.parse alone, and
 * goes to the frame as that text instead of as its bytes. Anything else (numbers, booleans, arrays,
 * escaped keys, deep nesting, an escape JSON does not have) goes the JSON.parse way.
 */
import type { BulkMapping } from './elastic-mapping';

/** Kinds of a scanned token: a key with a non-empty string, an empty string, null, or an object (opened), and the end of an object. */
const STRING = 0;
const EMPTY = 1;
const NULL = 2;
const OPEN = 3;
const CLOSE = 4;

/** Most tokens and deepest nesting a scanned document may have; past them it goes the JSON.parse way. */
const MAX_TOKENS = 64;
const MAX_DEPTH = 16;

/** Longest text `repeatedText` shares, and how many it keeps per body before it starts over. */
const MAX_REPEATED_TEXT = 32;
const MAX_REPEATED = 1024;

/** A plan's reference to no value (absent), and to the empty string. */
export const ABSENT = -1;
export const EMPTY_TEXT = -2;

/** How the documents of one shape map: each a token index (its value's text), ABSENT or EMPTY_TEXT. */
export interface DocumentPlan {
  /** The line's value; ABSENT means the document's own text is the line. */
  line: number;
  /** The timestamp's value (before Elasticsearch's date completion), or ABSENT. */
  ts: number;
  /** Each stream field's value, in the mapping's order (ABSENT: no label). */
  values: Int32Array;
  /** The attributes, in the order the mapper sets them: their names and values. */
  attrNames: string[];
  attrTokens: Int32Array;
}

/** What the mapper made of a document: the line, the raw timestamp, the stream label values and the attrs. */
export interface Mapped {
  line: string | undefined;
  ts: unknown;
  values: readonly (string | undefined)[];
  attrs: Record<string, string> | null;
}

/** A shape's identity: its tokens' kinds and keys. */
interface Shape {
  kinds: Uint8Array;
  keys: Buffer;
  /** Where each token's key ends in `keys` (it starts where the previous one ended). */
  keyEnds: Int32Array;
  /** Null when the shape maps in a way a plan cannot say (an object as a label or line): its documents go the JSON.parse way. */
  plan: DocumentPlan | null;
}

/**
 * A scanned document's layout for the next ones: its plan, its string tokens (by index) and the
 * byte ranges in the body around their values (`gaps`: start/end pairs, one more than tokens).
 */
interface Template {
  plan: DocumentPlan;
  tokens: Int32Array;
  gaps: Int32Array;
}

/** Stand-in values: a document's own strings never hold a NUL (the scan refuses control characters). */
const MARKERS = Array.from({ length: MAX_TOKENS }, (_, t) => `\u0000${t}`);
const MARKER_INDEX = new Map(MARKERS.map((m, t) => [m, t]));

/** Shapes by signature, per mapping, kept across requests (a shipper sends the same few); bounded. */
const shapesByMapping = new WeakMap<BulkMapping, Map<string, Shape>>();
const MAX_SHAPES = 256;
/** Shapes compared byte by byte before a signature is built. */
const RECENT_SHAPES = 4;

/** The characters after a backslash that JSON has besides `u`: " \ / b f n r t. */
const SIMPLE_ESCAPES = [0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74];

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Latin1 text of a byte range (an ASCII body's text), without `toString`'s argument handling. */
interface Latin1Slicing {
  latin1Slice(start: number, end: number): string;
}

/** Scans documents of one ASCII body and finds their plans; see the module comment. */
export class DocumentScanner {
  /** The last document's tokens: kind, key range, value range (strings: inside the quotes). */
  private count = 0;
  private readonly kinds = new Uint8Array(MAX_TOKENS);
  private readonly keyStart = new Int32Array(MAX_TOKENS);
  private readonly keyEnd = new Int32Array(MAX_TOKENS);
  private readonly valueStart = new Int32Array(MAX_TOKENS);
  private readonly valueEnd = new Int32Array(MAX_TOKENS);
  /** 1 for a string value with escapes: its text is JSON.parse's decoding of it, not its bytes. */
  private readonly escaped = new Uint8Array(MAX_TOKENS);
  private readonly recent: Shape[] = [];
  /** The last planned document's layout, which the next one is tried against before a scan. */
  private template: Template | null = null;
  private readonly shapes: Map<string, Shape>;
  /** Texts `repeatedText` made, by a hash of their bytes. */
  private readonly repeated = new Map<number, string>();
  /** The body's memory as 32-bit words (aligned on its buffer), for `stringEnd`. */
  private readonly words: Int32Array;

  constructor(
    private readonly body: Buffer,
    mapping: BulkMapping,
    /** Maps a document as the bulk parser maps a parsed one (used on stand-ins, once per shape). */
    private readonly map: (doc: Record<string, unknown>) => Mapped,
  ) {
    this.words = new Int32Array(body.buffer, 0, body.buffer.byteLength >>> 2);
    let shapes = shapesByMapping.get(mapping);
    if (shapes === undefined) shapesByMapping.set(mapping, (shapes = new Map()));
    this.shapes = shapes;
  }

  /** The text of token `t`'s value in the last scanned document. */
  text(t: number): string {
    const body = this.body as unknown as Latin1Slicing;
    // With its quotes, an escaped value is a JSON string whose every escape the scan checked.
    if (this.escaped[t] === 1) return JSON.parse(body.latin1Slice(this.valueStart[t]! - 1, this.valueEnd[t]! + 1)) as string;
    return body.latin1Slice(this.valueStart[t]!, this.valueEnd[t]!);
  }

  /** True when token `t`'s value has escapes: its bytes are not its text (see `text`). */
  isEscaped(t: number): boolean {
    return this.escaped[t] === 1;
  }

  /**
   * The text of token `t`'s value when it is short and likely to repeat (a label value): the string
   * made for the same bytes before, found by a hash of them, so that documents of one stream share
   * one string (no garbage, and its hash is known to the maps that look it up).
   */
  repeatedText(t: number): string {
    const start = this.valueStart[t]!;
    const end = this.valueEnd[t]!;
    if (end - start > MAX_REPEATED_TEXT || this.escaped[t] === 1) return this.text(t);
    const body = this.body;
    let hash = end - start;
    for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + body[i]!) | 0;
    const known = this.repeated.get(hash);
    if (known !== undefined && known.length === end - start) {
      let same = true;
      for (let k = 0; k < known.length; k++) {
        if (known.charCodeAt(k) !== body[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return known;
    }
    const text = this.text(t);
    if (this.repeated.size >= MAX_REPEATED) this.repeated.clear();
    this.repeated.set(hash, text);
    return text;
  }

  /** Where token `t`'s value starts in the body, in the last scanned document (ASCII: its bytes are its text). */
  start(t: number): number {
    return this.valueStart[t]!;
  }

  /** Where token `t`'s value ends in the body, in the last scanned document. */
  end(t: number): number {
    return this.valueEnd[t]!;
  }

  /** The text of bytes [start, end). */
  private slice(start: number, end: number): string {
    return (this.body as unknown as Latin1Slicing).latin1Slice(start, end);
  }

  /** The plan of the document at [start, end), or null when it must go the JSON.parse way. */
  plan(start: number, end: number): DocumentPlan | null {
    const template = this.template;
    if (template !== null && this.fits(template, start, end)) return template.plan;
    if (!this.scan(start, end)) return null;
    let shape: Shape | undefined;
    for (let k = 0; k < this.recent.length && shape === undefined; k++) if (this.isShape(this.recent[k]!)) shape = this.recent[k]!;
    if (shape === undefined) {
      shape = this.shapeOf();
      this.recent.unshift(shape);
      if (this.recent.length > RECENT_SHAPES) this.recent.pop();
    }
    this.template = shape.plan === null ? null : this.templateOf(start, end, shape.plan);
    return shape.plan;
  }

  /** The last scanned document as a template: the bytes around its non-empty string values, which the next documents likely repeat. */
  private templateOf(start: number, end: number, plan: DocumentPlan): Template {
    const tokens: number[] = [];
    const gaps: number[] = [start];
    for (let t = 0; t < this.count; t++) {
      if (this.kinds[t] !== STRING) continue;
      tokens.push(t);
      gaps.push(this.valueStart[t]!, this.valueEnd[t]!);
    }
    gaps.push(end);
    return { plan, tokens: Int32Array.from(tokens), gaps: Int32Array.from(gaps) };
  }

  /**
   * True when the document at [start, end) is the template's bytes with other non-empty string
   * values (each ending where the scan would end it): then the scan would find the template's
   * tokens, so its shape and plan, with these values, whose ranges are set.
   */
  private fits(template: Template, start: number, end: number): boolean {
    const body = this.body;
    const { tokens, gaps } = template;
    let p = start;
    for (let k = 0; k <= tokens.length; k++) {
      const from = gaps[2 * k]!;
      const length = gaps[2 * k + 1]! - from;
      if (p + length > end) return false;
      for (let j = 0; j < length; j++) if (body[p + j] !== body[from + j]) return false;
      p += length;
      if (k === tokens.length) break;
      const q = this.valueStringEnd(p, end, tokens[k]!);
      if (q <= p) return false;
      this.valueStart[tokens[k]!] = p;
      this.valueEnd[tokens[k]!] = q;
      p = q;
    }
    return p === end;
  }

  /** Tokenizes [start, end) into the token arrays; false when it is not of the scanned subset. */
  private scan(start: number, end: number): boolean {
    const body = this.body;
    let i = start;
    while (i < end && isSpace(body[i]!)) i++;
    if (i >= end || body[i] !== 0x7b) return false;
    i++;
    let depth = 1;
    let count = 0;
    // Right after `{`: a key or `}`; after a value: `,` or `}`.
    let opened = true;
    while (depth > 0) {
      while (i < end && isSpace(body[i]!)) i++;
      if (i >= end) return false;
      let c = body[i]!;
      if (c === 0x7d) {
        i++;
        if (--depth > 0) {
          if (count === MAX_TOKENS) return false;
          this.kinds[count++] = CLOSE;
        }
        opened = false;
        continue;
      }
      if (!opened) {
        if (c !== 0x2c) return false;
        i++;
        while (i < end && isSpace(body[i]!)) i++;
        if (i >= end) return false;
        c = body[i]!;
      }
      if (c !== 0x22 || count === MAX_TOKENS) return false;
      const keyStart = i + 1;
      i = this.stringEnd(keyStart, end);
      if (i < 0 || (i - keyStart === 9 && this.isProto(keyStart))) return false;
      this.keyStart[count] = keyStart;
      this.keyEnd[count] = i;
      i++;
      while (i < end && isSpace(body[i]!)) i++;
      if (i >= end || body[i] !== 0x3a) return false;
      i++;
      while (i < end && isSpace(body[i]!)) i++;
      if (i >= end) return false;
      c = body[i]!;
      if (c === 0x22) {
        const valueStart = i + 1;
        i = this.valueStringEnd(valueStart, end, count);
        if (i < 0) return false;
        this.kinds[count] = i === valueStart ? EMPTY : STRING;
        this.valueStart[count] = valueStart;
        this.valueEnd[count] = i;
        i++;
        opened = false;
      } else if (c === 0x7b) {
        if (++depth > MAX_DEPTH) return false;
        this.kinds[count] = OPEN;
        i++;
        opened = true;
      } else if (c === 0x6e && i + 4 <= end && body[i + 1] === 0x75 && body[i + 2] === 0x6c && body[i + 3] === 0x6c) {
        this.kinds[count] = NULL;
        i += 4;
        opened = false;
      } else {
        return false;
      }
      count++;
    }
    while (i < end && isSpace(body[i]!)) i++;
    this.count = count;
    return i === end;
  }

  /**
   * Index of the quote that ends a string whose text starts at `i`, or -1 when it holds an escape
   * or a control character, or does not end before `end`. Long strings (lines) are skipped four
   * bytes at a time: a word holds none of those bytes when no byte is below 0x20 and none equals
   * `"` or `\` (exact tests for bytes below 0x80, which an ASCII body's all are).
   */
  private stringEnd(i: number, end: number): number {
    const body = this.body;
    const base = body.byteOffset;
    const words = this.words;
    let w = (base + i + 3) >>> 2;
    const wordEnd = (base + end) >>> 2;
    if (w < wordEnd) {
      for (; i < w * 4 - base; i++) {
        const c = body[i]!;
        if (c === 0x22) return i;
        if (c < 0x20 || c === 0x5c) return -1;
      }
      for (; w < wordEnd; w++) {
        const x = words[w]!;
        const quote = x ^ 0x22222222;
        const backslash = x ^ 0x5c5c5c5c;
        if ((((x - 0x20202020) & ~x) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) & 0x80808080) break;
      }
      i = w * 4 - base;
    }
    for (; i < end; i++) {
      const c = body[i]!;
      if (c === 0x22) return i;
      if (c < 0x20 || c === 0x5c) return -1;
    }
    return -1;
  }

  /** `stringEnd` for the value of token `t`, which may have escapes (noted in `escaped`); -1 when it has a control character or an escape JSON does not have. */
  private valueStringEnd(i: number, end: number, t: number): number {
    const plain = this.stringEnd(i, end);
    this.escaped[t] = 0;
    if (plain >= 0) return plain;
    const escaped = this.escapedEnd(i, end);
    if (escaped >= 0) this.escaped[t] = 1;
    return escaped;
  }

  /** Index of the quote that ends a string with escapes whose text starts at `i` (each escape one JSON has), or -1. */
  private escapedEnd(i: number, end: number): number {
    const body = this.body;
    while (i < end) {
      const c = body[i]!;
      if (c === 0x22) return i;
      if (c < 0x20) return -1;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      if (i + 1 >= end) return -1;
      const e = body[i + 1]!;
      if (e === 0x75) {
        if (i + 6 > end) return -1;
        for (let k = i + 2; k < i + 6; k++) if (!isHexDigit(body[k]!)) return -1;
        i += 6;
      } else if (SIMPLE_ESCAPES.includes(e)) {
        i += 2;
      } else {
        return -1;
      }
    }
    return -1;
  }

  private isProto(at: number): boolean {
    return this.slice(at, at + 9) === '__proto__';
  }

  /** True when the last scanned document has `shape`'s kinds and keys. */
  private isShape(shape: Shape): boolean {
    const n = this.count;
    if (shape.kinds.length !== n) return false;
    const body = this.body;
    const keys = shape.keys;
    let from = 0;
    for (let t = 0; t < n; t++) {
      const kind = this.kinds[t]!;
      if (shape.kinds[t] !== kind) return false;
      if (kind === CLOSE) continue;
      const to = shape.keyEnds[t]!;
      const start = this.keyStart[t]!;
      if (this.keyEnd[t]! - start !== to - from) return false;
      for (let k = from; k < to; k++) if (keys[k] !== body[start + k - from]) return false;
      from = to;
    }
    return true;
  }

  /** The shape of the last scanned document, found by its signature or made (and planned) now. */
  private shapeOf(): Shape {
    const n = this.count;
    const kinds = this.kinds.slice(0, n);
    const keyEnds = new Int32Array(n);
    const parts: string[] = [];
    let length = 0;
    for (let t = 0; t < n; t++) {
      if (kinds[t] !== CLOSE) {
        const key = this.slice(this.keyStart[t]!, this.keyEnd[t]!);
        parts.push(key);
        length += key.length;
      }
      keyEnds[t] = length;
    }
    const signature = `${Array.from(kinds).join('')}\u0000${parts.join('\u0000')}`;
    let shape = this.shapes.get(signature);
    if (shape === undefined) {
      shape = { kinds, keys: Buffer.from(parts.join(''), 'latin1'), keyEnds, plan: this.planShape(kinds, parts) };
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      this.shapes.set(signature, shape);
    }
    return shape;
  }

  /** Maps a stand-in of the shape (each string a marker of its token) and reads the plan off the outcome. */
  private planShape(kinds: Uint8Array, keys: string[]): DocumentPlan | null {
    const root: Record<string, unknown> = {};
    const stack = [root];
    let k = 0;
    for (let t = 0; t < kinds.length; t++) {
      const kind = kinds[t]!;
      if (kind === CLOSE) {
        stack.pop();
        continue;
      }
      const into = stack[stack.length - 1]!;
      const key = keys[k++]!;
      if (kind === OPEN) {
        const child: Record<string, unknown> = {};
        into[key] = child;
        stack.push(child);
      } else {
        into[key] = kind === STRING ? MARKERS[t] : kind === EMPTY ? '' : null;
      }
    }
    let mapped: Mapped;
    try {
      mapped = this.map(root);
    } catch {
      return null;
    }
    const line = reference(mapped.line);
    const ts = reference(mapped.ts);
    const values = Int32Array.from(mapped.values, reference);
    const attrNames = mapped.attrs === null ? [] : Object.keys(mapped.attrs);
    const attrTokens = Int32Array.from(attrNames, (name) => reference(mapped.attrs![name]));
    if (line === NO_PLAN || ts === NO_PLAN || values.includes(NO_PLAN) || attrTokens.includes(NO_PLAN)) return null;
    return { line, ts, values, attrNames, attrTokens };
  }
}

/** What `reference` answers for a value no plan can name. */
const NO_PLAN = -3;

/** The plan's reference to what the mapper made of a stand-in: a token (its marker), ABSENT, EMPTY_TEXT, or NO_PLAN for anything else. */
function reference(v: unknown): number {
  if (v === undefined) return ABSENT;
  if (v === '') return EMPTY_TEXT;
  return (typeof v === 'string' ? MARKER_INDEX.get(v) : undefined) ?? NO_PLAN;
}
