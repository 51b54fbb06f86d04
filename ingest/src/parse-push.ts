/**
 * The native push API's bodies (`POST /api/v1/push`) → validated streams of entries plus one
 * rejection, with a reason, per invalid entry. Pure logic on the hot path of ingest: one JSON.parse
 * per body (or per NDJSON line), labels validated once per stream, and no per-entry allocation
 * beyond the entry itself.
 */
import { isUtf8 } from 'node:buffer';
import { BadRequestError, UnsupportedMediaTypeError } from '../../core/src/errors';
import { isWellFormedString, labelsProblem, parseLabelSet } from '../../core/src/label-set';
import { labelsKey, type Labels } from '../../core/src/labels';
import { parseTimestamp } from '../../core/src/time';

/** Validation limits of a push (from `IngestSettings`, times in ns). */
export interface PushLimits {
  maxLineBytes: number;
  maxLabels: number;
  maxLabelValueBytes: number;
  maxLabelNameBytes: number;
  /** Oldest accepted timestamp, as a distance before the receive time. */
  maxPastNs: bigint;
  /** Newest accepted timestamp, as a distance after the receive time. */
  maxFutureNs: bigint;
  /** Attributes per entry. */
  maxAttrs: number;
  /** UTF-8 bytes of all attribute names and values of one entry together. */
  maxAttrBytes: number;
}

/** One accepted entry; structurally identical to `BlockEntry` of core/src/block-format. */
export interface PushEntry {
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}

/** Accepted entries of one label set, in push order. */
export interface PushStream {
  labels: Labels;
  entries: PushEntry[];
}

/** One refused entry: `stream` and `entry` index it in the request (see `parsePush`), `code` is a `SILT_…` code. */
export interface Rejection {
  stream: number;
  entry: number;
  code: string;
  reason: string;
}

/** The outcome of a push body: accepted entries grouped by label set (first-seen order) and the rejections, sorted by stream then entry. */
export interface ParsedPush {
  streams: PushStream[];
  accepted: number;
  rejected: Rejection[];
}

type Kind = 'json' | 'ndjson' | 'text';

const MEDIA_TYPES = new Map<string, Kind>([
  ['application/json', 'json'],
  ['application/x-ndjson', 'ndjson'],
  ['application/ndjson', 'ndjson'],
  ['application/jsonlines', 'ndjson'],
  ['application/x-jsonlines', 'ndjson'],
  ['text/plain', 'text'],
]);

const SUPPORTED = 'application/json, application/x-ndjson or text/plain';

function contentKind(contentType: string | undefined): Kind {
  if (contentType === undefined || contentType.trim() === '') {
    throw new UnsupportedMediaTypeError('SILT_UNSUPPORTED_CONTENT_TYPE', `Content-Type is missing: send ${SUPPORTED}`, { contentType: null });
  }
  const semi = contentType.indexOf(';');
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const kind = MEDIA_TYPES.get(media);
  if (kind === undefined) {
    throw new UnsupportedMediaTypeError('SILT_UNSUPPORTED_CONTENT_TYPE', `Content-Type "${media}" is not supported here: send ${SUPPORTED}`, {
      contentType,
    });
  }
  if (semi >= 0) {
    for (const param of contentType.slice(semi + 1).split(';')) {
      const eq = param.indexOf('=');
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
      const charset = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
      if (charset !== 'utf-8' && charset !== 'utf8') {
        throw new UnsupportedMediaTypeError('SILT_UNSUPPORTED_CONTENT_TYPE', `charset "${charset}" is not supported: send UTF-8`, { contentType });
      }
    }
  }
  return kind;
}

/** JSON.parse only makes plain objects and arrays, so this is `isPlainObject` for parsed JSON, cheaper. */
function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A duration for people: "7 days", "1 hour", "2.5 minutes", "0.001 seconds". */
function formatDuration(ns: bigint): string {
  const s = Number(ns) / 1e9;
  const [amount, unit] = s >= 86400 ? [s / 86400, 'day'] : s >= 3600 ? [s / 3600, 'hour'] : s >= 60 ? [s / 60, 'minute'] : [s, 'second'];
  const rounded = +amount.toFixed(s >= 60 ? 2 : 3);
  return `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
}

function isoOf(ns: bigint): string {
  const ms = ns / 1_000_000n;
  return new Date(Number(ms)).toISOString().replace(/\.\d+Z$/, '.' + (ns % 1_000_000_000n).toString().padStart(9, '0') + 'Z');
}

/** A name quoted for a message, cut to 64 characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? name.slice(0, 64) + '…' : name);
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Accumulates the outcome of one push. */
class PushBuilder {
  readonly streams: PushStream[] = [];
  readonly rejected: Rejection[] = [];
  accepted = 0;
  /** Canonical labels key → its stream in `streams`. */
  private readonly groups = new Map<string, PushStream>();
  private readonly minTs: bigint;
  private readonly maxTs: bigint;
  /** Why the last `entry()` call returned null. */
  code = '';
  reason = '';

  constructor(
    readonly limits: PushLimits,
    readonly receivedNs: bigint,
  ) {
    this.minTs = receivedNs - limits.maxPastNs;
    this.maxTs = receivedNs + limits.maxFutureNs;
  }

  reject(stream: number, entry: number, code: string, reason: string): void {
    this.rejected.push({ stream, entry, code, reason });
  }

  /** The stream of a (valid) label set, created on first use; `key` is its `labelsKey`. */
  group(key: string, labels: Labels): PushStream {
    let s = this.groups.get(key);
    if (s === undefined) {
      s = { labels, entries: [] };
      this.groups.set(key, s);
      this.streams.push(s);
    }
    return s;
  }

  private fail(code: string, reason: string): null {
    this.code = code;
    this.reason = reason;
    return null;
  }

  /** Validates one entry's fields; returns the entry, or null with `code`/`reason` set. */
  entry(line: unknown, ts: unknown, attrs: unknown): PushEntry | null {
    if (typeof line !== 'string') {
      return this.fail('SILT_BAD_ENTRY', line === undefined ? 'entry has no "line"' : `"line" must be a string, not ${kindOf(line)}`);
    }
    const max = this.limits.maxLineBytes;
    // A UTF-16 length bounds the UTF-8 length from below (×1) and above (×3): count bytes only when it matters.
    if (line.length * 3 > max) {
      const bytes = byteLength(line);
      if (bytes > max) return this.fail('SILT_LINE_TOO_LONG', `line is ${bytes} bytes, over the ${max}-byte limit`);
    }
    if (!isWellFormedString(line)) {
      return this.fail('SILT_INVALID_UTF8', 'line is not valid UTF-8: it holds a lone surrogate (a \\ud800–\\udfff escape without its pair)');
    }
    let t: bigint;
    if (ts === undefined || ts === null) {
      t = this.receivedNs;
    } else {
      try {
        t = parseTimestamp(ts);
      } catch (err) {
        return this.fail('SILT_BAD_TIMESTAMP', (err as Error).message);
      }
      if (t < this.minTs) {
        return this.fail(
          'SILT_TOO_OLD',
          `timestamp ${isoOf(t)} is ${formatDuration(this.receivedNs - t)} before the receive time, older than the ${formatDuration(this.limits.maxPastNs)} limit`,
        );
      }
      if (t > this.maxTs) {
        return this.fail(
          'SILT_TOO_NEW',
          `timestamp ${isoOf(t)} is ${formatDuration(t - this.receivedNs)} after the receive time, beyond the ${formatDuration(this.limits.maxFutureNs)} limit`,
        );
      }
    }
    if (attrs === undefined || attrs === null) return { ts: t, line };
    const n = this.attrsCount(attrs);
    if (n < 0) return null;
    return n === 0 ? { ts: t, line } : { ts: t, line, attrs: attrs as Record<string, string> };
  }

  /** Number of valid attributes, or -1 with `code`/`reason` set. */
  private attrsCount(attrs: unknown): number {
    if (!isJsonObject(attrs)) {
      this.fail('SILT_BAD_ATTRS', `"attrs" must be an object of string values, not ${kindOf(attrs)}`);
      return -1;
    }
    const { maxAttrs, maxAttrBytes } = this.limits;
    const names = Object.keys(attrs);
    if (names.length > maxAttrs) {
      this.fail('SILT_BAD_ATTRS', `entry has ${names.length} attributes, over the limit of ${maxAttrs}`);
      return -1;
    }
    let units = 0;
    for (const name of names) {
      const value = attrs[name];
      if (name.length === 0) {
        this.fail('SILT_BAD_ATTRS', 'attribute names must not be empty');
        return -1;
      }
      if (typeof value !== 'string') {
        this.fail('SILT_BAD_ATTRS', `attribute ${quote(name)} must have a string value, not ${kindOf(value)}`);
        return -1;
      }
      if (!isWellFormedString(name) || !isWellFormedString(value)) {
        this.fail('SILT_BAD_ATTRS', `attribute ${quote(name)} is not valid UTF-8: it holds a lone surrogate`);
        return -1;
      }
      units += name.length + value.length;
    }
    if (units * 3 > maxAttrBytes) {
      let bytes = 0;
      for (const name of names) bytes += byteLength(name) + byteLength(attrs[name] as string);
      if (bytes > maxAttrBytes) {
        this.fail('SILT_BAD_ATTRS', `attributes are ${bytes} bytes, over the ${maxAttrBytes}-byte limit`);
        return -1;
      }
    }
    return names.length;
  }

  result(): ParsedPush {
    return { streams: this.streams, accepted: this.accepted, rejected: this.rejected };
  }
}

/**
 * Whole body as a string, or SILT_INVALID_UTF8 for any invalid sequence (overlong, surrogate,
 * truncated); a leading BOM is dropped. isUtf8 + toString is about twice as fast as a fatal TextDecoder.
 */
function decodeUtf8Body(body: Buffer): string {
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

function parseJsonBody(body: Buffer, b: PushBuilder): void {
  const text = decodeUtf8Body(body);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BadRequestError('SILT_MALFORMED_JSON', `request body is not valid JSON: ${jsonError(err, text)}`);
  }
  if (!isJsonObject(doc)) {
    throw new BadRequestError('SILT_BAD_PUSH_SHAPE', `request body must be a JSON object {"streams":[…]}, not ${kindOf(doc)}`, { field: '' });
  }
  const streams = doc.streams;
  if (!Array.isArray(streams)) {
    throw new BadRequestError(
      'SILT_BAD_PUSH_SHAPE',
      streams === undefined ? 'field "streams" is missing: expected {"streams":[…]}' : `field "streams" must be an array, not ${kindOf(streams)}`,
      { field: 'streams' },
    );
  }
  const limits = b.limits;
  for (let i = 0; i < streams.length; i++) {
    const s: unknown = streams[i];
    if (!isJsonObject(s)) {
      b.reject(i, -1, 'SILT_BAD_PUSH_SHAPE', `stream must be an object {"labels":{…},"entries":[…]}, not ${kindOf(s)}`);
      continue;
    }
    const entries = s.entries;
    const problem = labelsProblem(s.labels, limits);
    if (problem !== null) {
      if (!Array.isArray(entries)) b.reject(i, -1, 'SILT_BAD_LABELS', problem);
      else for (let j = 0; j < entries.length; j++) b.reject(i, j, 'SILT_BAD_LABELS', problem);
      continue;
    }
    if (!Array.isArray(entries)) {
      b.reject(
        i,
        -1,
        'SILT_BAD_PUSH_SHAPE',
        entries === undefined ? 'stream has no "entries" array' : `"entries" must be an array, not ${kindOf(entries)}`,
      );
      continue;
    }
    if (entries.length === 0) continue;
    const labels = s.labels as Labels;
    const key = labelsKey(labels);
    let out: PushEntry[] | undefined;
    for (let j = 0; j < entries.length; j++) {
      const e: unknown = entries[j];
      if (!isJsonObject(e)) {
        b.reject(i, j, 'SILT_BAD_ENTRY', `entry must be an object {"ts":…,"line":"…"}, not ${kindOf(e)}`);
        continue;
      }
      const entry = b.entry(e.line, e.ts, e.attrs);
      if (entry === null) {
        b.reject(i, j, b.code, b.reason);
        continue;
      }
      (out ??= b.group(key, labels).entries).push(entry);
      b.accepted++;
    }
  }
}

/** Calls `each(line, index)` for every line of a body split on \n, one trailing \r stripped; a final empty line after the last \n is not a line. */
function eachLine(body: Buffer, each: (start: number, end: number, index: number) => void): void {
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

/** Label-set validation of one distinct `labels` object within an NDJSON body, and its stream once it has one. */
interface LabelsVerdict {
  problem: string | null;
  key: string;
  stream: PushStream | undefined;
}

/** True when two parsed `labels` objects hold the same names and values (in any order). */
function sameLabels(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  let n = 0;
  for (const k in a) {
    if (b[k] !== a[k]) return false;
    n++;
  }
  for (const k in b) {
    if (a[k] === undefined) return false;
    n--;
  }
  return n === 0;
}

/** How many recent label sets NDJSON lines are compared with before the (costlier) fingerprint lookup. */
const RECENT_LABELS = 8;

function parseNdjsonBody(body: Buffer, b: PushBuilder): void {
  const valid = isUtf8(body);
  const limits = b.limits;
  // Most lines repeat a label set seen a few lines before: compare with those first (no allocation),
  // then look the set up by its JSON text, and validate it only when it is new.
  const verdicts = new Map<string, LabelsVerdict>();
  const recentLabels: Record<string, unknown>[] = [];
  const recentVerdicts: LabelsVerdict[] = [];
  let recentNext = 0;
  const verdictOf = (labels: unknown): LabelsVerdict => {
    if (!isJsonObject(labels)) return { problem: labelsProblem(labels, limits), key: '', stream: undefined };
    for (let r = 0; r < recentLabels.length; r++) if (sameLabels(labels, recentLabels[r]!)) return recentVerdicts[r]!;
    const fingerprint = JSON.stringify(labels);
    let verdict = verdicts.get(fingerprint);
    if (verdict === undefined) {
      const problem = labelsProblem(labels, limits);
      verdict = { problem, key: problem === null ? labelsKey(labels as Labels) : '', stream: undefined };
      verdicts.set(fingerprint, verdict);
    }
    recentLabels[recentNext] = labels;
    recentVerdicts[recentNext] = verdict;
    recentNext = (recentNext + 1) % RECENT_LABELS;
    return verdict;
  };
  eachLine(body, (start, end, index) => {
    if (start === end) return;
    if (!valid && !isUtf8(body.subarray(start, end))) {
      b.reject(index, 0, 'SILT_INVALID_UTF8', 'line is not valid UTF-8');
      return;
    }
    const text = body.toString('utf8', start, end);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      if (text.trim() === '') return;
      b.reject(index, 0, 'SILT_MALFORMED_JSON', `line is not valid JSON: ${jsonError(err, text)}`);
      return;
    }
    if (!isJsonObject(doc)) {
      b.reject(index, 0, 'SILT_BAD_ENTRY', `line must be a JSON object {"labels":{…},"ts":…,"line":"…"}, not ${kindOf(doc)}`);
      return;
    }
    const verdict = verdictOf(doc.labels);
    if (verdict.problem !== null) {
      b.reject(index, 0, 'SILT_BAD_LABELS', verdict.problem);
      return;
    }
    const entry = b.entry(doc.line, doc.ts, doc.attrs);
    if (entry === null) {
      b.reject(index, 0, b.code, b.reason);
      return;
    }
    (verdict.stream ??= b.group(verdict.key, doc.labels as Labels)).entries.push(entry);
    b.accepted++;
  });
}

function parseTextBody(body: Buffer, labelsParam: string | undefined, b: PushBuilder): void {
  if (labelsParam === undefined || labelsParam.trim() === '') {
    throw new BadRequestError('SILT_BAD_LABELS', 'text/plain pushes need the stream labels in the query string, e.g. ?labels={app="api"}');
  }
  const labels = parseLabelSet(labelsParam);
  const problem = labelsProblem(labels, b.limits);
  if (problem !== null) throw new BadRequestError('SILT_BAD_LABELS', problem);
  const valid = isUtf8(body);
  const max = b.limits.maxLineBytes;
  const ts = b.receivedNs;
  let out: PushEntry[] | undefined;
  eachLine(body, (start, end, index) => {
    const bytes = end - start;
    if (bytes > max) {
      b.reject(0, index, 'SILT_LINE_TOO_LONG', `line is ${bytes} bytes, over the ${max}-byte limit`);
      return;
    }
    if (!valid && !isUtf8(body.subarray(start, end))) {
      b.reject(0, index, 'SILT_INVALID_UTF8', 'line is not valid UTF-8');
      return;
    }
    (out ??= b.group(labelsKey(labels), labels).entries).push({ ts, line: body.toString('utf8', start, end) });
    b.accepted++;
  });
}

/**
 * Parses and validates a decoded push body of the native API in one of its three content types.
 *
 * Rejection indices: JSON → stream index and entry index (entry −1 for a stream that has no
 * usable `entries` array); NDJSON → 0-based line index and entry 0; text/plain → stream 0 and the
 * 0-based line index. Whole-request problems (content type, encoding, JSON syntax of a JSON body,
 * its shape, text/plain labels) throw a SiltError instead.
 */
export function parsePush(
  body: Buffer,
  contentType: string | undefined,
  labelsParam: string | undefined,
  receivedNs: bigint,
  limits: PushLimits,
): ParsedPush {
  const kind = contentKind(contentType);
  const b = new PushBuilder(limits, receivedNs);
  if (kind === 'json') parseJsonBody(body, b);
  else if (kind === 'ndjson') parseNdjsonBody(body, b);
  else parseTextBody(body, labelsParam, b);
  return b.result();
}
