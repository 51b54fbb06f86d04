/**
 * Label sets as clients write them (`{app="api",host="h1"}`) and the rules a stream's labels must
 * follow (data model: names `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, at most 15 labels,
 * non-empty values up to 1 KiB).
 */
import { BadRequestError } from './errors';
import { LABEL_NAME_RE, type Labels } from './labels';

const utf8 = new TextDecoder('utf-8', { fatal: true });

class LabelSetParser {
  pos = 0;

  constructor(
    readonly text: string,
    /** Reports a problem instead of the label-set error when another grammar (LogQL) borrows the string lexer; must throw. */
    readonly onFail?: (message: string, position: number) => never,
  ) {}

  fail(message: string, at = this.pos): never {
    if (this.onFail) this.onFail(message, at);
    throw new BadRequestError('SILT_BAD_LABELS', `label set ${quote(this.text)}: ${message} at position ${at}`, {
      position: at,
    });
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      this.pos++;
    }
  }

  expect(ch: string, what: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== ch) this.fail(`expected ${what}${this.found()}`);
    this.pos++;
  }

  found(): string {
    return this.pos >= this.text.length ? ', found the end' : `, found ${JSON.stringify(this.text[this.pos])}`;
  }

  name(): string {
    this.skipSpace();
    const t = this.text;
    const start = this.pos;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      const ok = c === 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (this.pos > start && c >= 48 && c <= 57);
      if (!ok) break;
      this.pos++;
    }
    if (this.pos === start) this.fail(`expected a label name${this.found()}`);
    return t.slice(start, this.pos);
  }

  value(): string {
    this.skipSpace();
    const t = this.text;
    const open = t[this.pos];
    if (open === '`') {
      const end = t.indexOf('`', this.pos + 1);
      if (end < 0) this.fail('unterminated raw string');
      const v = t.slice(this.pos + 1, end);
      this.pos = end + 1;
      return v;
    }
    if (open !== '"') this.fail(`expected a double-quoted or backtick string${this.found()}`);
    const start = ++this.pos;
    // Fast path: no escapes.
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 34) {
        this.pos++;
        return t.slice(start, this.pos - 1);
      }
      if (c === 92 || c === 10) break;
      this.pos++;
    }
    return this.escaped(t.slice(start, this.pos));
  }

  /** Continues a double-quoted string with Go escapes; `\x` and octal escapes are bytes that must form UTF-8. */
  escaped(prefix: string): string {
    const t = this.text;
    let out = prefix;
    let bytes: number[] = [];
    let bytesAt = 0;
    const flush = (): void => {
      if (bytes.length === 0) return;
      try {
        out += utf8.decode(Uint8Array.from(bytes));
      } catch {
        this.fail('byte escapes do not form valid UTF-8', bytesAt);
      }
      bytes = [];
    };
    while (true) {
      if (this.pos >= t.length) this.fail('unterminated string');
      const c = t[this.pos]!;
      if (c === '"') {
        flush();
        this.pos++;
        return out;
      }
      if (c === '\n') this.fail('newline in string');
      if (c !== '\\') {
        flush();
        out += c;
        this.pos++;
        continue;
      }
      const at = this.pos;
      const e = t[this.pos + 1];
      this.pos += 2;
      const simple = e === undefined ? undefined : SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        flush();
        out += simple;
      } else if (e === 'x') {
        if (bytes.length === 0) bytesAt = at;
        bytes.push(this.hex(2, at));
      } else if (e !== undefined && e >= '0' && e <= '7') {
        const oct = t.slice(at + 1, at + 4);
        if (!/^[0-7]{3}$/.test(oct)) this.fail('octal escape needs three digits', at);
        const v = parseInt(oct, 8);
        if (v > 255) this.fail('octal escape above \\377', at);
        if (bytes.length === 0) bytesAt = at;
        bytes.push(v);
        this.pos = at + 4;
      } else if (e === 'u' || e === 'U') {
        flush();
        const cp = this.hex(e === 'u' ? 4 : 8, at);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('escape is not a valid Unicode code point', at);
        out += String.fromCodePoint(cp);
      } else {
        this.fail(`unknown escape \\${e ?? ''}`, at);
      }
    }
  }

  hex(n: number, at: number): number {
    const h = this.text.slice(this.pos, this.pos + n);
    if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) this.fail(`escape needs ${n} hex digits`, at);
    this.pos += n;
    return parseInt(h, 16);
  }

  parse(): Labels {
    const labels: Labels = {};
    this.expect('{', '"{"');
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
    } else {
      while (true) {
        const at = (this.skipSpace(), this.pos);
        const name = this.name();
        if (Object.prototype.hasOwnProperty.call(labels, name)) this.fail(`duplicate label ${quote(name)}`, at);
        this.skipSpace();
        const op = this.pos;
        if (this.text[op] === '!' || (this.text[op] === '=' && this.text[op + 1] === '~')) this.fail('only = matchers are allowed in a label set', op);
        this.expect('=', '"="');
        Object.defineProperty(labels, name, { value: this.value(), enumerable: true, writable: true, configurable: true });
        this.skipSpace();
        const c = this.text[this.pos];
        if (c === ',') {
          this.pos++;
          this.skipSpace();
          if (this.text[this.pos] === '}') {
            this.pos++;
            break;
          }
          continue;
        }
        if (c === '}') {
          this.pos++;
          break;
        }
        this.fail(`expected "," or "}"${this.found()}`);
      }
    }
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected text after "}"`);
    return labels;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** Parses a label set in selector syntax `{app="api",host="h1"}` (only `=` matchers; double-quoted or backtick strings with Go/LogQL escapes) into Labels. */
export function parseLabelSet(text: string): Labels {
  return new LabelSetParser(text).parse();
}

/**
 * Reads the LogQL string literal that starts at `start` in `text` (a double-quoted string with
 * Go escapes, or a backtick raw string) and returns its value and the index just past its closing
 * quote. A malformed literal is reported through `fail` (message, 0-based position in `text`),
 * which must throw.
 */
export function readStringLiteral(
  text: string,
  start: number,
  fail: (message: string, position: number) => never,
): { value: string; end: number } {
  const parser = new LabelSetParser(text, fail);
  parser.pos = start;
  const value = parser.value();
  return { value, end: parser.pos };
}

/** Limits a stream's labels must respect. */
export interface LabelLimits {
  maxLabels: number;
  maxLabelValueBytes: number;
  maxLabelNameBytes: number;
}

/** True for `{}`-style objects (as JSON.parse makes), not arrays, null, class instances or primitives. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

type WellFormed = { isWellFormed?: () => boolean };
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when a string has no lone surrogate, so it encodes to UTF-8 without loss (String.prototype.isWellFormed, in Node 20; a regex where missing). */
export const isWellFormedString: (s: string) => boolean =
  typeof ('' as WellFormed).isWellFormed === 'function'
    ? (s) => (s as WellFormed).isWellFormed!()
    : (s) => !LONE_SURROGATE_RE.test(s);

/** Text quoted for a message, cut to 64 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? text.slice(0, 64) + '…' : text);
}

/** Returns null when labels are valid for a stream, else a reason (names the label). */
export function labelsProblem(labels: unknown, limits: LabelLimits): string | null {
  if (!isPlainObject(labels)) return 'labels must be an object of label names to string values';
  const names = Object.keys(labels);
  if (names.length === 0) return 'labels are empty: a stream needs at least one label';
  if (names.length > limits.maxLabels) return `stream has ${names.length} labels, over the limit of ${limits.maxLabels}`;
  for (const name of names) {
    if (!LABEL_NAME_RE.test(name)) return `label name ${quote(name)} is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*`;
    if (name.startsWith('__')) return `label name ${quote(name)} is reserved: names starting with "__" are internal`;
    if (name.length > limits.maxLabelNameBytes) {
      return `label name ${quote(name)} is ${name.length} bytes, over the ${limits.maxLabelNameBytes}-byte limit`;
    }
    const value = labels[name];
    if (typeof value !== 'string') return `label ${quote(name)} must have a string value, not ${value === null ? 'null' : typeof value}`;
    if (value.length === 0) return `label ${quote(name)} has an empty value (an empty value means the label is absent: leave it out)`;
    if (value.length * 3 > limits.maxLabelValueBytes) {
      const bytes = Buffer.byteLength(value, 'utf8');
      if (bytes > limits.maxLabelValueBytes) {
        return `label ${quote(name)} has a value of ${bytes} bytes, over the ${limits.maxLabelValueBytes}-byte limit`;
      }
    }
    if (!isWellFormedString(value)) return `label ${quote(name)} has a value that is not valid UTF-8 (a lone surrogate)`;
  }
  return null;
}
