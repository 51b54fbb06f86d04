/**
 * `| logfmt` as Loki runs it, with Loki's decoder (adapted go-logfmt): `key=value`, `key="quoted
 * \"value\""`, standalone keys (an empty value, kept only with `--keep-empty`), invalid pairs
 * skipped (`=oops`, `a=b=c`). With `--strict` decoding stops at the first invalid pair and the entry
 * gets `__error__="LogfmtParserErr"` with the decoder's message (byte positions, as in Go). With
 * params (`logfmt a, b="key"`) only those keys are read, each preset to "" and the last occurrence
 * winning, as Loki's expression parser does.
 */
import type { ExtractionParam } from '../ast';
import { DUPLICATE_SUFFIX, ERROR_LABEL, PipelineError, sanitizeLabelKey, type LabelsBuilder } from './labels-builder';
import type { Stage } from './stage';

const MAX_CACHED_KEYS = 1024;

/** Go's quoted-string decoding of logfmt values (encoding/json's rules plus `\'`); null when invalid. */
function unquote(s: string): string | null {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return null;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++i];
    switch (e) {
      case '"':
      case '\\':
      case '/':
      case "'":
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        const r = /^[0-9a-fA-F]{4}/.test(s.slice(i + 1, i + 5)) ? parseInt(s.slice(i + 1, i + 5), 16) : -1;
        if (r < 0) return null;
        i += 4;
        if (r >= 0xd800 && r <= 0xdfff) {
          const r2 = s[i + 1] === '\\' && s[i + 2] === 'u' && /^[0-9a-fA-F]{4}/.test(s.slice(i + 3, i + 7)) ? parseInt(s.slice(i + 3, i + 7), 16) : -1;
          if (r < 0xdc00 && r2 >= 0xdc00 && r2 <= 0xdfff) {
            out += String.fromCharCode(r, r2);
            i += 6;
          } else {
            out += '\ufffd';
          }
        } else {
          out += String.fromCharCode(r);
        }
        break;
      }
      default:
        return null;
    }
  }
  return out;
}

/** Loki's logfmt decoder over one line. */
export class LogfmtDecoder {
  private line = '';
  private pos = 0;
  /** The key of the last pair, or null. */
  key: string | null = null;
  /** The value of the last pair, or null (standalone key, empty value). */
  value: string | null = null;
  private errMsg: string | null = null;
  private errPos = 0;

  /** Starts a line. */
  reset(line: string): void {
    this.line = line;
    this.pos = 0;
    this.errMsg = null;
  }

  /** Whether the line is consumed. */
  eol(): boolean {
    return this.pos >= this.line.length;
  }

  /** The first error's text ("logfmt syntax error at pos N : …"), or null. */
  error(): string | null {
    if (this.errMsg === null) return null;
    const bytePos = Buffer.byteLength(this.line.slice(0, this.errPos)) + 1;
    return `logfmt syntax error at pos ${bytePos} : ${this.errMsg}`;
  }

  private syntaxError(msg: string): void {
    this.errMsg = msg;
    this.errPos = this.pos;
  }

  private unexpected(c: number): void {
    this.syntaxError(c === 61 ? "unexpected '='" : 'unexpected \'"\'');
  }

  private invalidKey(start: number, end: number, multibyte: boolean): boolean {
    return multibyte && this.line.slice(start, end).includes('\ufffd');
  }

  /** Reads the next pair; false when there is none or it is invalid (the decoder then skips to the next blank). */
  scan(): boolean {
    this.key = null;
    this.value = null;
    const line = this.line;
    const n = line.length;
    while (this.pos < n && line.charCodeAt(this.pos) <= 32) this.pos++;
    if (this.pos >= n) return false;
    const start = this.pos;
    let multibyte = false;
    for (let p = start; p < n; p++) {
      const c = line.charCodeAt(p);
      if (c === 61) {
        this.pos = p;
        if (p > start) {
          if (this.invalidKey(start, p, multibyte)) {
            this.syntaxError('invalid key');
            return this.skipValue();
          }
          this.key = line.slice(start, p);
        }
        if (this.key === null) {
          this.unexpected(c);
          return this.skipValue();
        }
        return this.afterEqual();
      }
      if (c === 34) {
        this.pos = p;
        this.unexpected(c);
        return this.skipValue();
      }
      if (c <= 32) {
        this.pos = p;
        if (p > start) {
          if (this.invalidKey(start, p, multibyte)) {
            this.syntaxError('invalid key');
            return false;
          }
          this.key = line.slice(start, p);
        }
        return true;
      }
      if (c >= 0x80) multibyte = true;
    }
    this.pos = n;
    if (this.invalidKey(start, n, multibyte)) {
      this.syntaxError('invalid key');
      return false;
    }
    this.key = line.slice(start, n);
    return true;
  }

  private afterEqual(): boolean {
    const line = this.line;
    const n = line.length;
    this.pos++;
    if (this.pos >= n) return true;
    const c0 = line.charCodeAt(this.pos);
    if (c0 <= 32) return true;
    if (c0 === 34) return this.quotedValue();
    const start = this.pos;
    for (let p = start; p < n; p++) {
      const c = line.charCodeAt(p);
      if (c === 61 || c === 34) {
        this.pos = p;
        this.unexpected(c);
        return this.skipValue();
      }
      if (c <= 32) {
        this.pos = p;
        if (p > start) this.value = line.slice(start, p);
        return true;
      }
    }
    this.pos = n;
    if (n > start) this.value = line.slice(start, n);
    return true;
  }

  private skipValue(): false {
    const line = this.line;
    for (let p = this.pos; p < line.length; p++) {
      if (line.charCodeAt(p) <= 32) {
        this.pos = p;
        return false;
      }
    }
    this.pos = line.length;
    return false;
  }

  private quotedValue(): boolean {
    const line = this.line;
    const start = this.pos;
    let hasEsc = false;
    let esc = false;
    for (let p = start + 1; p < line.length; p++) {
      const c = line.charCodeAt(p);
      if (esc) {
        esc = false;
      } else if (c === 92) {
        hasEsc = true;
        esc = true;
      } else if (c === 34) {
        this.pos = p + 1;
        if (hasEsc) {
          const v = unquote(line.slice(start + 1, p));
          if (v === null) {
            this.syntaxError('invalid quoted value');
            return false;
          }
          this.value = v;
        } else if (p > start + 1) {
          this.value = line.slice(start + 1, p);
        }
        return true;
      }
    }
    this.pos = line.length;
    this.syntaxError('unterminated quoted value');
    return false;
  }
}

function cleanValue(v: string | null): string {
  if (v === null) return '';
  return v.includes('\ufffd') ? v.replace(/\ufffd/g, ' ') : v;
}

/** `| logfmt [--strict] [--keep-empty]` with no params. */
export class LogfmtStage implements Stage {
  private readonly dec = new LogfmtDecoder();
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly strict: boolean,
    private readonly keepEmpty: boolean,
  ) {}

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    const hints = b.hints;
    if (hints.noLabels()) return line;
    const dec = this.dec;
    dec.reset(line);
    while (!dec.eol()) {
      if (!dec.scan()) {
        if (this.strict) break;
        continue;
      }
      const raw = dec.key!;
      let key = this.keys.get(raw);
      if (key === undefined) {
        key = sanitizeLabelKey(raw);
        if (this.keys.size < MAX_CACHED_KEYS) this.keys.set(raw, key);
      }
      if (key === '') continue;
      if (b.taken(key)) key += DUPLICATE_SUFFIX;
      if (!hints.shouldExtract(key) || hints.extracted(key)) continue;
      const val = cleanValue(dec.value);
      if (!this.keepEmpty && val.length === 0) continue;
      b.setParsed(key, val);
      if (!hints.shouldContinueParsingLine(key, b)) return null;
      if (hints.allRequiredExtracted()) break;
    }
    const err = this.strict ? dec.error() : null;
    if (err !== null) {
      b.addParserError(PipelineError.logfmt, err);
      if (!hints.shouldContinueParsingLine(ERROR_LABEL, b)) return null;
    }
    return line;
  }
}

/** `| logfmt [--strict] a, b="key"`. */
export class LogfmtParamsStage implements Stage {
  private readonly dec = new LogfmtDecoder();
  /** Label → the key it reads. */
  private readonly keysById = new Map<string, string>();

  constructor(
    params: readonly ExtractionParam[],
    private readonly strict: boolean,
  ) {
    for (const p of params) this.keysById.set(p.label, p.path ?? p.label);
  }

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    const hints = b.hints;
    if (hints.noLabels()) return line;
    const ids = this.keysById;
    for (const id of ids.keys()) if (!b.taken(id)) b.setParsed(id, '');
    const dec = this.dec;
    dec.reset(line);
    while (!dec.eol()) {
      if (!dec.scan()) {
        if (this.strict) break;
        continue;
      }
      let key = sanitizeLabelKey(dec.key!);
      const always = ids.has(key);
      if (key === '' || (!always && !hints.shouldExtract(key))) continue;
      if (!always && hints.extracted(key)) continue;
      const val = dec.value !== null && dec.value.includes('\ufffd') ? '' : (dec.value ?? '');
      for (const [id, orig] of ids) {
        if (key === orig) {
          key = id;
          break;
        }
      }
      if (!ids.has(key)) continue;
      if (b.taken(key)) {
        key += DUPLICATE_SUFFIX;
        if (hints.extracted(key) || !hints.shouldExtract(key)) break;
      }
      b.setParsed(key, val);
      if (hints.allRequiredExtracted()) break;
    }
    const err = this.strict ? dec.error() : null;
    if (err !== null) b.addParserError(PipelineError.logfmt, err);
    return line;
  }
}
