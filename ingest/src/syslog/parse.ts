/**
 * One syslog message → its fields: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`) and
 * RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, or with the RFC 3339 timestamp rsyslog and
 * syslog-ng forward), told apart by the `1 ` after the PRI. Lenient as a relay is: what cannot be
 * parsed is kept whole as the line, with the reason in `error`, never dropped. Pure logic on
 * ingest's hot path: the header is read byte by byte in the frame, one fields object is reused, and
 * repeated hosts, apps and label sets come back as the same strings and objects, not new ones.
 */
import { isUtf8 } from 'node:buffer';
import type { Labels } from '../../../core/src/labels';

/** Facility names by code (RFC 5424 table 1), as syslog-ng and rsyslog spell them. */
export const FACILITY_NAMES: readonly string[] = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/**
 * `level` label values by severity code: Loki's `detected_level` names where one exists (critical,
 * error, warn, info, debug), syslog's own keywords for the three it lacks (emerg, alert, notice);
 * Grafana colours all eight.
 */
export const LEVEL_NAMES: readonly string[] = ['emerg', 'alert', 'critical', 'error', 'warn', 'notice', 'info', 'debug'];

/** Why a message was stored raw or in part: the `syslog_error` attribute. */
export type SyslogError = 'no_pri' | 'bad_pri' | 'bad_header' | 'bad_structured_data' | 'bad_timestamp' | 'invalid_utf8' | 'attrs_over_limit';

/** What one message told; the parser refills the same object for every message. */
export class SyslogFields {
  facility = 1;
  severity = 5;
  /** As the message wrote it: ns for an RFC 3164 date, the text of an RFC 3339 one; undefined when absent or unusable. */
  ts: bigint | string | undefined = undefined;
  /** Where the timestamp's text is in the frame (-1: none), for `syslog_timestamp` when it cannot be used. */
  tsStart = -1;
  tsEnd = -1;
  host: string | undefined = undefined;
  app: string | undefined = undefined;
  /** PROCID, MSGID and structured data, or undefined when the message had none. */
  attrs: Record<string, string> | undefined = undefined;
  line = '';
  error: SyslogError | undefined = undefined;
  /** The line is shorter than the message's: the framer or the line limit cut it. */
  truncated = false;
}

const LF = 10;
const CR = 13;
const NUL = 0;
const SP = 32;
const QUOTE = 34;
const HYPHEN = 45;
const DOT = 46;
const COLON = 58;
const LT = 60;
const EQ = 61;
const GT = 62;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;

/** RFC 5424 field limits (section 6); RFC 3164 fields are held to the same. */
const MAX_TIMESTAMP = 64;
const MAX_HOSTNAME = 255;
const MAX_APP_NAME = 48;
const MAX_PROCID = 128;
const MAX_MSGID = 32;
const MAX_SD_NAME = 32;

const DAY_MS = 86_400_000;
const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** Label sets (and SD attribute names) remembered per parser; a sender with more distinct ones than this starts over. */
const MAX_LABEL_SETS = 4096;

/** The digit at `i` of a message that ends at `end`, or -1 (bytes past `end` belong to the next frame). */
function digitAt(buf: Buffer, i: number, end: number): number {
  const c = i < end ? buf[i]! : -1;
  return c >= 48 && c <= 57 ? c - 48 : -1;
}

/** The byte at `i` of a message that ends at `end`, or -1. */
function byteAt(buf: Buffer, i: number, end: number): number {
  return i < end ? buf[i]! : -1;
}

function daysIn(month: number, year: number): number {
  return month === 1 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS_IN_MONTH[month]!;
}

/** Offset of the first byte ≥ `cut` that starts a UTF-8 character, walking back from `cut`: cutting there splits no character. */
function charBoundary(buf: Buffer, start: number, cut: number): number {
  let i = cut;
  while (i > start && (buf[i]! & 0xc0) === 0x80) i--;
  return i;
}

/** `end` with trailing LF, CR and NUL bytes left out (senders end even octet-counted frames and datagrams with a LF). */
function trimEnd(buf: Buffer, start: number, end: number): number {
  let e = end;
  while (e > start && (buf[e - 1] === LF || buf[e - 1] === CR || buf[e - 1] === NUL)) e--;
  return e;
}

/** End of the token at `p` (a run of printable ASCII up to a space or `end`), or -1 when it is empty, longer than `max`, or holds other bytes. */
function tokenEnd(buf: Buffer, p: number, end: number, max: number): number {
  const limit = Math.min(end, p + max + 1);
  let i = p;
  while (i < limit) {
    const c = buf[i]!;
    if (c === SP) break;
    if (c < 33 || c > 126) return -1;
    i++;
  }
  return i === p || i - p > max ? -1 : i;
}

/** An SD-NAME byte: printable ASCII but `=`, `]` and `"`. */
function isSdNameByte(c: number): boolean {
  return c > 32 && c < 127 && c !== EQ && c !== RBRACKET && c !== QUOTE;
}

/** Decodes short ASCII tokens, handing back the same string for the bytes of one of the last few, so repeated hosts and apps allocate nothing and compare by identity. */
class TokenCache {
  private readonly bytes: Buffer[] = [];
  private readonly values: string[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  get(buf: Buffer, s: number, e: number): string {
    const n = e - s;
    // Tokens are short: a byte loop costs less than a native Buffer.compare call.
    next: for (let i = 0; i < this.values.length; i++) {
      const b = this.bytes[i]!;
      if (b.length !== n) continue;
      for (let k = 0; k < n; k++) if (b[k] !== buf[s + k]) continue next;
      return this.values[i]!;
    }
    const value = buf.toString('latin1', s, e);
    this.bytes[this.next] = Buffer.from(buf.subarray(s, e));
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.size;
    return value;
  }
}

/** Parses syslog messages into one reused `SyslogFields`; see the module comment. */
export class SyslogParser {
  readonly fields = new SyslogFields();
  private receivedMs = 0;
  private year = 1970;
  private readonly hosts = new TokenCache(4);
  private readonly apps = new TokenCache(8);
  private readonly sdIds = new TokenCache(8);
  private readonly sdParams = new TokenCache(16);
  /** `id.param` attribute names by SD-ID and parameter name. */
  private readonly sdAttrNames = new Map<string, Map<string, string>>();
  private sdAttrNameCount = 0;
  /** Label sets by priority, host and app (absent: ''); the strings are the token caches' own, so lookups hash nothing new. */
  private readonly labelSets = new Map<number, Map<string, Map<string, Labels>>>();
  private labelSetCount = 0;
  private lastHost: string | undefined = undefined;
  private lastApp: string | undefined = undefined;
  private lastPri = -1;
  private lastLabels: Labels | null = null;

  constructor(private readonly maxLineBytes: number) {}

  /** Sets the receive time that dates RFC 3164 timestamps, which carry no year. */
  setReceiveTime(ns: bigint): void {
    this.receivedMs = Number(ns / 1_000_000n);
    this.year = new Date(this.receivedMs).getUTCFullYear();
  }

  /**
   * Parses bytes [start, end) of `buf`, one message without its framing; `size` is its length as
   * received (more when the framer cut it), `utf8` true when the bytes are known to be valid UTF-8.
   * Null for a message with nothing in it but line ends.
   */
  parse(buf: Buffer, start: number, end: number, size: number, utf8: boolean): SyslogFields | null {
    const f = this.fields;
    f.facility = 1;
    f.severity = 5;
    f.ts = undefined;
    f.tsStart = -1;
    f.tsEnd = -1;
    f.host = undefined;
    f.app = undefined;
    f.attrs = undefined;
    f.error = undefined;
    f.truncated = size > end - start;
    const e = trimEnd(buf, start, end);
    if (e === start) return null;
    if (buf[start] !== LT) return this.raw(buf, start, e, utf8, 'no_pri');
    let p = start + 1;
    let pri = 0;
    for (let d = digitAt(buf, p, e); d >= 0 && p - start <= 3; d = digitAt(buf, ++p, e)) pri = pri * 10 + d;
    if (p === start + 1 || byteAt(buf, p, e) !== GT || pri > 191) return this.raw(buf, start, e, utf8, 'bad_pri');
    f.facility = pri >> 3;
    f.severity = pri & 7;
    p++;
    if (byteAt(buf, p, e) === 49 && byteAt(buf, p + 1, e) === SP) this.rfc5424(buf, p + 2, start, e, utf8);
    else this.rfc3164(buf, p, e, utf8);
    return f;
  }

  /** Refills the fields as the whole message for a line, with `error` as the reason (the PRI, when there was one, still counts). */
  raw(buf: Buffer, start: number, end: number, utf8: boolean, error: SyslogError): SyslogFields {
    const f = this.fields;
    f.ts = undefined;
    f.tsStart = -1;
    f.host = undefined;
    f.app = undefined;
    f.attrs = undefined;
    f.error = error;
    f.line = this.text(buf, start, trimEnd(buf, start, end), utf8);
    return f;
  }

  /** The timestamp as the last message wrote it (call only while its frame is still valid). */
  timestampText(buf: Buffer): string {
    const f = this.fields;
    return f.tsStart < 0 ? '' : buf.toString('latin1', f.tsStart, f.tsEnd);
  }

  /** The stream labels of the last message (`facility`, `level`, and `host`, `app` when known), the same object for the same set. */
  labels(): Labels {
    const f = this.fields;
    const pri = f.facility * 8 + f.severity;
    if (this.lastLabels !== null && f.host === this.lastHost && f.app === this.lastApp && pri === this.lastPri) return this.lastLabels;
    const host = f.host ?? '';
    const app = f.app ?? '';
    let byHost = this.labelSets.get(pri);
    let byApp = byHost?.get(host);
    let labels = byApp?.get(app);
    if (labels === undefined) {
      if (this.labelSetCount >= MAX_LABEL_SETS) {
        this.labelSets.clear();
        this.labelSetCount = 0;
        byHost = byApp = undefined;
      }
      if (byHost === undefined) this.labelSets.set(pri, (byHost = new Map()));
      if (byApp === undefined) byHost.set(host, (byApp = new Map()));
      labels = { facility: FACILITY_NAMES[f.facility]!, level: LEVEL_NAMES[f.severity]! };
      if (f.host !== undefined) labels.host = f.host;
      if (f.app !== undefined) labels.app = f.app;
      byApp.set(app, labels);
      this.labelSetCount++;
    }
    this.lastHost = f.host;
    this.lastApp = f.app;
    this.lastPri = pri;
    this.lastLabels = labels;
    return labels;
  }

  private rfc5424(buf: Buffer, p: number, start: number, end: number, utf8: boolean): void {
    const f = this.fields;
    let e = tokenEnd(buf, p, end, MAX_TIMESTAMP);
    if (e < 0 || e === end) return void this.raw(buf, start, end, utf8, 'bad_header');
    if (e - p !== 1 || buf[p] !== HYPHEN) {
      f.ts = buf.toString('latin1', p, e);
      f.tsStart = p;
      f.tsEnd = e;
    }
    p = e + 1;
    e = tokenEnd(buf, p, end, MAX_HOSTNAME);
    if (e < 0 || e === end) return void this.raw(buf, start, end, utf8, 'bad_header');
    if (e - p !== 1 || buf[p] !== HYPHEN) f.host = this.hosts.get(buf, p, e);
    p = e + 1;
    e = tokenEnd(buf, p, end, MAX_APP_NAME);
    if (e < 0 || e === end) return void this.raw(buf, start, end, utf8, 'bad_header');
    if (e - p !== 1 || buf[p] !== HYPHEN) f.app = this.apps.get(buf, p, e);
    p = e + 1;
    e = tokenEnd(buf, p, end, MAX_PROCID);
    if (e < 0 || e === end) return void this.raw(buf, start, end, utf8, 'bad_header');
    if (e - p !== 1 || buf[p] !== HYPHEN) this.attr('procid', buf.toString('latin1', p, e));
    p = e + 1;
    e = tokenEnd(buf, p, end, MAX_MSGID);
    if (e < 0) return void this.raw(buf, start, end, utf8, 'bad_header');
    if (e - p !== 1 || buf[p] !== HYPHEN) this.attr('msgid', buf.toString('latin1', p, e));
    // A message that ends after MSGID lacks the STRUCTURED-DATA field; it is taken as "-".
    p = e === end ? end : e + 1;
    if (p < end) {
      if (buf[p] === HYPHEN) p++;
      else if (buf[p] === LBRACKET) p = this.structuredData(buf, p, end, utf8);
      else p = -1;
      if (p < 0 || (p < end && buf[p] !== SP)) return void this.raw(buf, start, end, utf8, 'bad_structured_data');
      if (p < end) p++;
    }
    if (p + 2 < end && buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf) p += 3;
    f.line = p < end ? this.text(buf, p, end, utf8) : '';
  }

  /** Reads SD-ELEMENTs from `[` at `p` into the attributes; returns the offset after the last `]`, or -1 when malformed. */
  private structuredData(buf: Buffer, p: number, end: number, utf8: boolean): number {
    while (p < end && buf[p] === LBRACKET) {
      const idStart = ++p;
      while (p < end && isSdNameByte(buf[p]!)) p++;
      if (p === idStart || p - idStart > MAX_SD_NAME) return -1;
      const id = this.sdIds.get(buf, idStart, p);
      while (p < end && buf[p] === SP) {
        const nameStart = ++p;
        while (p < end && isSdNameByte(buf[p]!)) p++;
        if (p === nameStart || p - nameStart > MAX_SD_NAME || byteAt(buf, p, end) !== EQ || byteAt(buf, p + 1, end) !== QUOTE) return -1;
        const name = this.sdParams.get(buf, nameStart, p);
        p += 2;
        const valueStart = p;
        let escaped = false;
        while (p < end && buf[p] !== QUOTE) {
          if (buf[p] === BACKSLASH) {
            escaped = true;
            p++;
          }
          p++;
        }
        if (p >= end) return -1;
        const value = escaped ? this.unescape(buf, valueStart, p, utf8) : this.utf8(buf, valueStart, p, utf8);
        this.attr(this.sdAttrName(id, name), value);
        p++;
      }
      if (byteAt(buf, p, end) !== RBRACKET) return -1;
      p++;
    }
    return p;
  }

  /** A PARAM-VALUE with `\"`, `\\` and `\]` unescaped; any other backslash stays (RFC 5424 6.3.3). */
  private unescape(buf: Buffer, s: number, e: number, utf8: boolean): string {
    let out = '';
    let from = s;
    for (let i = s; i < e; i++) {
      if (buf[i] !== BACKSLASH) continue;
      const next = buf[i + 1];
      if (next === QUOTE || next === BACKSLASH || next === RBRACKET) {
        out += this.utf8(buf, from, i, utf8);
        from = i + 1;
      }
      i++;
    }
    return out + this.utf8(buf, from, e, utf8);
  }

  private sdAttrName(id: string, param: string): string {
    let names = this.sdAttrNames.get(id);
    let name = names?.get(param);
    if (name !== undefined) return name;
    if (this.sdAttrNameCount >= MAX_LABEL_SETS) {
      this.sdAttrNames.clear();
      this.sdAttrNameCount = 0;
      names = undefined;
    }
    if (names === undefined) this.sdAttrNames.set(id, (names = new Map()));
    name = `${id}.${param}`;
    names.set(param, name);
    this.sdAttrNameCount++;
    return name;
  }

  /** Sets an attribute; a parameter repeated within its SD element keeps every value, comma-separated. */
  private attr(name: string, value: string): void {
    const attrs = (this.fields.attrs ??= {});
    const had = attrs[name];
    attrs[name] = had === undefined ? value : `${had},${value}`;
  }

  private rfc3164(buf: Buffer, p: number, end: number, utf8: boolean): void {
    const f = this.fields;
    const afterTs = this.timestamp3164(buf, p, end);
    if (afterTs < 0) {
      // No timestamp: RFC 3164 4.3.3 has a relay take everything after the PRI as the content.
      f.line = this.text(buf, p, end, utf8);
      return;
    }
    p = afterTs;
    while (p < end && buf[p] === SP) p++;
    let e = tokenEnd(buf, p, end, MAX_HOSTNAME);
    if (e > 0) {
      let msg = this.tag(buf, p, e, end);
      if (msg < 0) {
        f.host = this.hosts.get(buf, p, e);
        p = e < end ? e + 1 : e;
        e = tokenEnd(buf, p, end, MAX_HOSTNAME);
        if (e > 0) msg = this.tag(buf, p, e, end);
      }
      if (msg >= 0) p = msg;
    }
    f.line = p < end ? this.text(buf, p, end, utf8) : '';
  }

  /**
   * The TAG at [s, e) (`app:`, `app[pid]:` or `app[pid]`): sets `app` and `procid` and returns where
   * MSG starts (after one space), or -1 when the token is not a tag.
   */
  private tag(buf: Buffer, s: number, e: number, end: number): number {
    let i = s;
    while (i < e && buf[i] !== LBRACKET && buf[i] !== COLON) i++;
    const nameEnd = i;
    if (nameEnd === s || nameEnd - s > MAX_APP_NAME || i === e) return -1;
    let pidStart = -1;
    let pidEnd = -1;
    if (buf[i] === LBRACKET) {
      pidStart = ++i;
      while (i < e && buf[i] !== RBRACKET) i++;
      if (i === e || i === pidStart || i - pidStart > MAX_PROCID) return -1;
      pidEnd = i++;
      if (i < e && buf[i] === COLON) i++;
    } else {
      i++;
    }
    if (i !== e) return -1;
    this.fields.app = this.apps.get(buf, s, nameEnd);
    if (pidStart >= 0) this.attr('procid', buf.toString('latin1', pidStart, pidEnd));
    return e < end ? e + 1 : e;
  }

  /**
   * An RFC 3164 timestamp at `p` — `Mmm dd hh:mm:ss`, optionally with a fraction or a year
   * (`Mmm dd yyyy hh:mm:ss`), read as UTC in the receiver's year (the year before when that would be
   * more than a day ahead) — or an RFC 3339 one. Returns the offset after it, or -1 when there is none.
   */
  private timestamp3164(buf: Buffer, p: number, end: number): number {
    const f = this.fields;
    if (end - p < 14) return -1;
    if (digitAt(buf, p, end) >= 0 && buf[p + 4] === HYPHEN && buf[p + 7] === HYPHEN && (buf[p + 10] === 84 || buf[p + 10] === 116)) {
      const e = tokenEnd(buf, p, end, MAX_TIMESTAMP);
      if (e < 0) return -1;
      f.ts = buf.toString('latin1', p, e);
      f.tsStart = p;
      f.tsEnd = e;
      return e;
    }
    let month = -1;
    for (let m = 0; m < 12; m++) {
      if (buf[p] === MONTHS.charCodeAt(m * 3) && buf[p + 1] === MONTHS.charCodeAt(m * 3 + 1) && buf[p + 2] === MONTHS.charCodeAt(m * 3 + 2)) {
        month = m;
        break;
      }
    }
    if (month < 0 || buf[p + 3] !== SP) return -1;
    let i = p + 4;
    if (buf[i] === SP) i++;
    let day = digitAt(buf, i++, end);
    if (day < 0) return -1;
    const d2 = digitAt(buf, i, end);
    if (d2 >= 0) {
      day = day * 10 + d2;
      i++;
    }
    if (byteAt(buf, i++, end) !== SP) return -1;
    let year = -1;
    const y0 = digitAt(buf, i, end);
    const y1 = digitAt(buf, i + 1, end);
    const y2 = digitAt(buf, i + 2, end);
    const y3 = digitAt(buf, i + 3, end);
    if (y0 >= 0 && y1 >= 0 && y2 >= 0 && y3 >= 0 && byteAt(buf, i + 4, end) === SP) {
      year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
      i += 5;
    }
    const h0 = digitAt(buf, i, end);
    const h1 = digitAt(buf, i + 1, end);
    const m0 = digitAt(buf, i + 3, end);
    const m1 = digitAt(buf, i + 4, end);
    const s0 = digitAt(buf, i + 6, end);
    const s1 = digitAt(buf, i + 7, end);
    if (h0 < 0 || h1 < 0 || m0 < 0 || m1 < 0 || s0 < 0 || s1 < 0 || buf[i + 2] !== COLON || buf[i + 5] !== COLON) return -1;
    const hour = h0 * 10 + h1;
    const minute = m0 * 10 + m1;
    const second = s0 * 10 + s1;
    i += 8;
    let fraction = 0;
    if (byteAt(buf, i, end) === DOT && digitAt(buf, i + 1, end) >= 0) {
      let scale = 100_000_000;
      for (let d = digitAt(buf, ++i, end); d >= 0; d = digitAt(buf, ++i, end)) {
        fraction += d * scale;
        scale = Math.floor(scale / 10);
      }
    }
    if (i < end && buf[i] !== SP) return -1;
    f.tsStart = p;
    f.tsEnd = i;
    let y = year < 0 ? this.year : year;
    if (year < 0 && Date.UTC(y, month, Math.min(day, daysIn(month, y)), hour, minute, second) > this.receivedMs + DAY_MS) y--;
    if (day < 1 || day > daysIn(month, y) || hour > 23 || minute > 59 || second > 59) {
      f.error = 'bad_timestamp';
      return i;
    }
    f.ts = BigInt(Date.UTC(y, month, day, hour, minute, second)) * 1_000_000n + BigInt(fraction);
    return i;
  }

  /** Bytes [s, e) as the line, cut to the line limit on a character boundary; invalid UTF-8 is replaced (U+FFFD) and noted. */
  private text(buf: Buffer, s: number, e: number, utf8: boolean): string {
    const max = this.maxLineBytes;
    if (e - s > max) {
      e = charBoundary(buf, s, s + max);
      this.fields.truncated = true;
    }
    if (utf8 || isUtf8(buf.subarray(s, e))) return buf.toString('utf8', s, e);
    this.fields.error ??= 'invalid_utf8';
    const text = buf.toString('utf8', s, e);
    // Each replaced byte may take three: cut again once the text is valid.
    if (Buffer.byteLength(text) <= max) return text;
    const valid = Buffer.from(text);
    return valid.toString('utf8', 0, charBoundary(valid, 0, max));
  }

  /** An attribute value's bytes as text; invalid UTF-8 is replaced and noted. */
  private utf8(buf: Buffer, s: number, e: number, utf8: boolean): string {
    if (!utf8 && !isUtf8(buf.subarray(s, e))) this.fields.error ??= 'invalid_utf8';
    return buf.toString('utf8', s, e);
  }
}
