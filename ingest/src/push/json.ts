/**
 * JSON bodies for every protocol: strict UTF-8, JSON.parse with a position (line and column) in
 * the message, and a nesting bound checked on the text before anything recursive (stringify,
 * flattening) walks the parsed value, so deep input is a 400 instead of a stack overflow.
 */
import { isUtf8 } from 'node:buffer';
import { BadRequestError } from '../../../core/src/errors';

/** Deepest nesting of arrays and objects any push body may have (real shippers send a handful of levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * Whole body as a string, or SILT_INVALID_UTF8 for any invalid sequence (overlong, surrogate,
 * truncated); a leading BOM is dropped. isUtf8 + toString is about twice as fast as a fatal TextDecoder.
 */
export function decodeUtf8Body(body: Buffer): string {
  if (!isUtf8(body)) throw new BadRequestError('SILT_INVALID_UTF8', 'request body is not valid UTF-8');
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** UTF-16 offset of the first syntax error in `s` (its length when it ends early), or -1 if it is valid JSON; iterative, so nesting depth cannot overflow the stack. */
function jsonErrorOffset(s: string): number {
  const n = s.length;
  let i = 0;
  const stack: boolean[] = []; // true = object, false = array
  const ws = (): void => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      i++;
    }
  };
  const str = (): boolean => {
    if (s.charCodeAt(i) !== 34) return false;
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 92) {
        const e = s[++i];
        if (e === 'u') {
          for (let k = 0; k < 4; k++) if (!isHexDigit(s.charCodeAt(++i))) return false;
          i++;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i++;
        } else {
          return false;
        }
        continue;
      }
      i++;
    }
    return false;
  };
  const digits = (): boolean => {
    const start = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    return i > start;
  };
  const num = (): boolean => {
    if (s.charCodeAt(i) === 45) i++;
    if (s.charCodeAt(i) === 48) i++;
    else if (!digits()) return false;
    if (s.charCodeAt(i) === 46) {
      i++;
      if (!digits()) return false;
    }
    const e = s.charCodeAt(i);
    if (e === 101 || e === 69) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 43 || sign === 45) i++;
      if (!digits()) return false;
    }
    return true;
  };
  const key = (): boolean => {
    ws();
    if (!str()) return false;
    ws();
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    return true;
  };
  let expectValue = true;
  while (true) {
    ws();
    if (i >= n) return stack.length === 0 && !expectValue ? -1 : n;
    const c = s.charCodeAt(i);
    if (expectValue) {
      if (c === 123 || c === 91) {
        i++;
        ws();
        if (s.charCodeAt(i) === (c === 123 ? 125 : 93)) {
          i++;
          expectValue = false;
          continue;
        }
        stack.push(c === 123);
        if (c === 123 && !key()) return i;
        continue;
      }
      if (c === 34) {
        if (!str()) return i;
      } else if (c === 116 || c === 102 || c === 110) {
        const literal = c === 116 ? 'true' : c === 102 ? 'false' : 'null';
        for (let k = 0; k < literal.length; k++, i++) if (s[i] !== literal[k]) return i;
      } else if (!num()) {
        return i;
      }
      expectValue = false;
      continue;
    }
    if (stack.length === 0) return i;
    const inObject = stack[stack.length - 1]!;
    if (c === 44) {
      i++;
      if (inObject && !key()) return i;
      expectValue = true;
    } else if (c === (inObject ? 125 : 93)) {
      i++;
      stack.pop();
    } else {
      return i;
    }
  }
}

/** JSON.parse's message, with a position (and line and column) added when V8 left it out. */
function jsonError(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = / at position (\d+)/.exec(message);
  const at = m ? Number(m[1]) : jsonErrorOffset(text);
  if (at < 0) return message;
  let line = 1;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < at; nl = text.indexOf('\n', nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  return `${m ? message : `${message} at position ${at}`} (line ${line}, column ${at - lineStart + 1})`;
}

/** Offset of the bracket that takes `text` past `max` levels of nesting (brackets inside strings do not count), or -1. */
function depthExceededAt(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      if (++depth > max) return i;
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
  return -1;
}

/**
 * Parses one JSON document (`what` names it in messages: "request body", "line 3"); a syntax error
 * is SILT_MALFORMED_JSON with its position. Throws BadRequestError; callers that reject per line
 * catch it. JSON.parse itself is iterative: only code that walks the value recursively needs
 * `assertDepth` first.
 */
export function parseJson(text: string, what = 'request body'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError('SILT_MALFORMED_JSON', `${what} is not valid JSON: ${jsonError(err, text)}`);
  }
}

/** Throws SILT_TOO_DEEP when `text` nests arrays and objects past `max` levels: call it before walking a parsed value recursively. */
export function assertDepth(text: string, what = 'request body', max = MAX_JSON_DEPTH): void {
  const at = depthExceededAt(text, max);
  if (at >= 0) throw new BadRequestError('SILT_TOO_DEEP', `${what} nests arrays and objects more than ${max} levels deep (at position ${at})`, { maxDepth: max });
}

/** Calls `each(start, end, index)` for every line of a body split on \n, one trailing \r stripped; a leading BOM is skipped; a final empty line after the last \n is not a line. */
export function eachLine(body: Buffer, each: (start: number, end: number, index: number) => void): void {
  const n = body.length;
  let start = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  let index = 0;
  while (start < n) {
    let nl = body.indexOf(10, start);
    if (nl < 0) nl = n;
    const end = nl > start && body[nl - 1] === 13 ? nl - 1 : nl;
    each(start, end, index++);
    start = nl + 1;
  }
}
