/**
 * `ip("…")` filters as Loki runs them: the pattern is one address, a CIDR prefix or a range
 * `a-b` (IPv4 or IPv6, parsed as Go's net/netip does), and a line or label value matches when an
 * address found in it (scanning as Loki does, from IPv4 and IPv6 hints) falls in the pattern.
 */
import { BadRequestError } from '../../errors';

/** An address: its width (32 or 128 bits), value and zone. */
interface Addr {
  bits: 32 | 128;
  v: bigint;
  zone: string;
}

function parseIPv4Fields(s: string, start: number, end: number): bigint | null {
  let val = 0;
  let pos = 0;
  let digLen = 0;
  let acc = 0n;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digLen === 1 && val === 0) return null;
      val = val * 10 + (c - 48);
      digLen++;
      if (val > 255) return null;
    } else if (c === 46) {
      if (i === start || i === end - 1 || s.charCodeAt(i - 1) === 46) return null;
      if (pos === 3) return null;
      acc = (acc << 8n) | BigInt(val);
      pos++;
      val = 0;
      digLen = 0;
    } else {
      return null;
    }
  }
  if (pos < 3) return null;
  return (acc << 8n) | BigInt(val);
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function parseIPv6(input: string): Addr | null {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') return null;
  }
  const ip = new Array<number>(16).fill(0);
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return { bits: 128, v: 0n, zone };
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const h = hexVal(s.charCodeAt(off));
      if (h < 0) break;
      acc = acc * 16 + h;
      if (off > 3 || acc > 0xffff) return null;
    }
    if (off === 0) return null;
    if (off < s.length && s[off] === '.') {
      if ((ellipsis < 0 && i !== 12) || i + 4 > 16) return null;
      const v4 = parseIPv4Fields(s, 0, s.length);
      if (v4 === null) return null;
      ip[i] = Number((v4 >> 24n) & 0xffn);
      ip[i + 1] = Number((v4 >> 16n) & 0xffn);
      ip[i + 2] = Number((v4 >> 8n) & 0xffn);
      ip[i + 3] = Number(v4 & 0xffn);
      s = '';
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ':' || s.length === 1) return null;
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return null;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return null;
  if (i < 16) {
    if (ellipsis < 0) return null;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!;
    for (let j = ellipsis; j < ellipsis + n; j++) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return null;
  }
  let v = 0n;
  for (const b of ip) v = (v << 8n) | BigInt(b);
  return { bits: 128, v, zone };
}

/** Go's netip.ParseAddr, or null. */
function parseAddr(s: string): Addr | null {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') {
      const v = parseIPv4Fields(s, 0, s.length);
      return v === null ? null : { bits: 32, v, zone: '' };
    }
    if (c === ':') return parseIPv6(s);
    if (c === '%') return null;
  }
  return null;
}

function compare(a: Addr, b: Addr): number {
  if (a.bits !== b.bits) return a.bits - b.bits;
  if (a.v !== b.v) return a.v < b.v ? -1 : 1;
  return a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0;
}

type IpMatcher = (a: Addr) => boolean;

/** The matcher of a pattern (address, CIDR or range), or null when the pattern is none of them. */
function ipMatcher(pattern: string): IpMatcher | null {
  const single = parseAddr(pattern);
  if (single !== null) return (a) => compare(a, single) === 0;
  const slash = pattern.lastIndexOf('/');
  if (slash >= 0) {
    const base = parseAddr(pattern.slice(0, slash));
    const bitsText = pattern.slice(slash + 1);
    if (base !== null && base.zone === '' && /^(?:0|[1-9][0-9]*)$/.test(bitsText)) {
      const bits = Number(bitsText);
      if (bits <= base.bits) {
        const shift = BigInt(base.bits - bits);
        const net = base.v >> shift;
        return (a) => a.zone === '' && a.bits === base.bits && a.v >> shift === net;
      }
    }
  }
  const dash = pattern.indexOf('-');
  if (dash >= 0) {
    const from = parseAddr(pattern.slice(0, dash));
    const to = parseAddr(pattern.slice(dash + 1));
    if (from !== null && to !== null) {
      from.zone = '';
      to.zone = '';
      if (from.bits === to.bits && compare(to, from) >= 0) return (a) => compare(a, from) >= 0 && compare(a, to) <= 0;
    }
  }
  return null;
}

const IPV4_CHARSET = new Uint8Array(128);
const IPV6_CHARSET = new Uint8Array(128);
for (const c of '0123456789.') IPV4_CHARSET[c.charCodeAt(0)] = 1;
for (const c of '0123456789abcdefABCDEF:.') IPV6_CHARSET[c.charCodeAt(0)] = 1;

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}

function isHexAt(s: string, i: number): boolean {
  return i < s.length && hexVal(s.charCodeAt(i)) >= 0;
}

function span(s: string, start: number, charset: Uint8Array): number {
  let i = start;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || charset[c] === 0) break;
    i++;
  }
  return i - start;
}

function ipv6Hint(s: string, i: number): boolean {
  const at = (k: number) => (k < s.length ? s[k] : '');
  return (
    (at(i) === ':' && at(i + 1) === ':' && isHexAt(s, i + 2)) ||
    (isHexAt(s, i) && at(i + 1) === ':') ||
    (isHexAt(s, i) && isHexAt(s, i + 1) && at(i + 2) === ':') ||
    (isHexAt(s, i) && isHexAt(s, i + 1) && isHexAt(s, i + 2) && at(i + 3) === ':') ||
    (isHexAt(s, i) && isHexAt(s, i + 1) && isHexAt(s, i + 2) && isHexAt(s, i + 3) && at(i + 4) === ':')
  );
}

/**
 * Compiles an `ip("…")` pattern into a test over text: true when an address found in it matches.
 * An invalid pattern is a 400.
 */
export function compileIpFilter(pattern: string): (text: string) => boolean {
  const m = ipMatcher(pattern);
  if (m === null) throw new BadRequestError('SILT_BAD_QUERY', `ip: invalid pattern: ${JSON.stringify(pattern)}`);
  const tryAt = (s: string, start: number, charset: Uint8Array): number => {
    const len = span(s, start, charset);
    const a = parseAddr(s.slice(start, start + len));
    if (a !== null && m(a)) return -1;
    return len;
  };
  return (s) => {
    const n = s.length;
    for (let i = 0; i < n; i++) {
      if (i + 3 < n && isDigitAt(s, i) && (s[i + 1] === '.' || s[i + 2] === '.' || s[i + 3] === '.')) {
        const len = tryAt(s, i, IPV4_CHARSET);
        if (len < 0) return true;
        i += len;
        continue;
      }
      if (ipv6Hint(s, i)) {
        const len = tryAt(s, i, IPV6_CHARSET);
        if (len < 0) return true;
        i += len;
      }
    }
    return false;
  };
}
