/**
 * Go's time.Time as templates use it: an instant in nanoseconds with a location, Go's layout
 * formatting (`2006-01-02 15:04:05.999999999 -0700 MST`) and parsing (for toDate, toDateInZone).
 * The server's Local zone is UTC (as Loki runs in its containers); named zones come from the
 * runtime's time zone data, with their abbreviations as the runtime names them.
 */

/** A location: how far from UTC it is at an instant, and the zone's abbreviation there. */
export interface GoLocation {
  name: string;
  offsetAt(unixSec: number): { offset: number; abbr: string };
}

/** UTC. */
export const UTC: GoLocation = { name: 'UTC', offsetAt: () => ({ offset: 0, abbr: 'UTC' }) };
/** The server's local zone, UTC. */
export const LOCAL: GoLocation = { name: 'Local', offsetAt: () => ({ offset: 0, abbr: 'UTC' }) };

const zoneCache = new Map<string, GoLocation | null>();

/** time.LoadLocation: "", "UTC", "Local" or an IANA name; null when unknown. */
export function loadLocation(name: string): GoLocation | null {
  if (name === '' || name === 'UTC') return UTC;
  if (name === 'Local') return LOCAL;
  const cached = zoneCache.get(name);
  if (cached !== undefined) return cached;
  let loc: GoLocation | null = null;
  try {
    const fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      timeZoneName: 'short',
    });
    loc = {
      name,
      offsetAt(unixSec: number) {
        const parts: Record<string, string> = {};
        for (const p of fmt.formatToParts(new Date(unixSec * 1000))) parts[p.type] = p.value;
        const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
        return { offset: Math.round(wall / 1000 - unixSec), abbr: parts.timeZoneName ?? name };
      },
    };
  } catch {
    loc = null;
  }
  if (zoneCache.size < 100) zoneCache.set(name, loc);
  return loc;
}

const NS = 1_000_000_000n;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): { y: number; m: number; d: number } {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

/** Wall-clock fields of a time in its location. */
export interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nsec: number;
  weekday: number;
  yday: number;
  offset: number;
  abbr: string;
}

/** A time.Time. */
export class GoTime {
  constructor(
    /** Nanoseconds since the Unix epoch. */
    readonly ns: bigint,
    readonly loc: GoLocation,
  ) {}

  /** The zero time (January 1, year 1, 00:00:00 UTC). */
  static zero(): GoTime {
    return new GoTime(-62135596800n * NS, UTC);
  }

  /** Unix seconds (floor). */
  unix(): bigint {
    const s = this.ns / NS;
    return this.ns < 0n && s * NS !== this.ns ? s - 1n : s;
  }

  /** The same instant in another location. */
  in(loc: GoLocation): GoTime {
    return new GoTime(this.ns, loc);
  }

  /** Wall-clock fields in the time's location. */
  civil(): Civil {
    const sec = this.unix();
    const nsec = Number(this.ns - sec * NS);
    const { offset, abbr } = this.loc.offsetAt(Number(sec));
    const local = Number(sec) + offset;
    const days = Math.floor(local / 86400);
    const sod = local - days * 86400;
    const { y, m, d } = civilFromDays(days);
    return {
      year: y,
      month: m,
      day: d,
      hour: Math.floor(sod / 3600),
      minute: Math.floor((sod % 3600) / 60),
      second: sod % 60,
      nsec,
      weekday: (((days + 4) % 7) + 7) % 7,
      yday: days - daysFromCivil(y, 1, 1) + 1,
      offset,
      abbr,
    };
  }

  /** Go's Format. */
  format(layout: string): string {
    return formatTime(this.civil(), layout);
  }

  /** Go's String (without a monotonic clock reading). */
  toString(): string {
    return this.format('2006-01-02 15:04:05.999999999 -0700 MST');
  }
}

type Std =
  | 'January' | 'Jan' | 'Monday' | 'Mon' | 'MST' | '01' | '02' | '03' | '04' | '05' | '06' | '002' | '1' | '15' | '2006' | '2' | '_2' | '__2'
  | '3' | '4' | '5' | 'PM' | 'pm' | '-070000' | '-07:00:00' | '-0700' | '-07:00' | '-07' | 'Z070000' | 'Z07:00:00' | 'Z0700' | 'Z07:00' | 'Z07'
  | 'frac0' | 'frac9';

interface Chunk {
  prefix: string;
  std: Std | null;
  /** For fractional seconds: digit count and separator. */
  n: number;
  sep: string;
  suffix: string;
}

const TZ_STDS: Std[] = ['-070000', '-07:00:00', '-0700', '-07:00', '-07'];

/** Go's nextStdChunk: the text before the next layout element, the element, and the rest. */
function nextStdChunk(layout: string): Chunk {
  const at = (i: number, std: Std | null, len: number, prefixEnd = i): Chunk => ({ prefix: layout.slice(0, prefixEnd), std, n: 0, sep: '', suffix: layout.slice(i + len) });
  const lowerAt = (i: number) => /^[a-z]/.test(layout.slice(i, i + 1));
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i]!;
    const rest = layout.slice(i);
    switch (c) {
      case 'J':
        if (rest.startsWith('January')) return at(i, 'January', 7);
        if (rest.startsWith('Jan') && !lowerAt(i + 3)) return at(i, 'Jan', 3);
        break;
      case 'M':
        if (rest.startsWith('Monday')) return at(i, 'Monday', 6);
        if (rest.startsWith('Mon') && !lowerAt(i + 3)) return at(i, 'Mon', 3);
        if (rest.startsWith('MST')) return at(i, 'MST', 3);
        break;
      case '0':
        if (layout[i + 1] !== undefined && layout[i + 1]! >= '1' && layout[i + 1]! <= '6') return at(i, rest.slice(0, 2) as Std, 2);
        if (rest.startsWith('002')) return at(i, '002', 3);
        break;
      case '1':
        if (layout[i + 1] === '5') return at(i, '15', 2);
        return at(i, '1', 1);
      case '2':
        if (rest.startsWith('2006')) return at(i, '2006', 4);
        return at(i, '2', 1);
      case '_':
        if (layout[i + 1] === '2') {
          if (rest.startsWith('_2006')) return { prefix: layout.slice(0, i + 1), std: '2006', n: 0, sep: '', suffix: layout.slice(i + 5) };
          return at(i, '_2', 2);
        }
        if (rest.startsWith('__2')) return at(i, '__2', 3);
        break;
      case '3':
      case '4':
      case '5':
        return at(i, c, 1);
      case 'P':
        if (layout[i + 1] === 'M') return at(i, 'PM', 2);
        break;
      case 'p':
        if (layout[i + 1] === 'm') return at(i, 'pm', 2);
        break;
      case '-':
      case 'Z':
        for (const t of TZ_STDS) {
          const s = (c + t.slice(1)) as Std;
          if (rest.startsWith(s)) return at(i, s, s.length);
        }
        break;
      case '.':
      case ',': {
        const ch = layout[i + 1];
        if (ch === '0' || ch === '9') {
          let j = i + 1;
          while (layout[j] === ch) j++;
          if (!/[0-9]/.test(layout[j] ?? '')) return { prefix: layout.slice(0, i), std: ch === '0' ? 'frac0' : 'frac9', n: j - (i + 1), sep: c, suffix: layout.slice(j) };
        }
        break;
      }
    }
  }
  return { prefix: layout, std: null, n: 0, sep: '', suffix: '' };
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n)).padStart(width, '0');
  return n < 0 ? '-' + s : s;
}

function formatTime(t: Civil, layout: string): string {
  let out = '';
  while (layout !== '') {
    const c = nextStdChunk(layout);
    out += c.prefix;
    if (c.std === null) break;
    layout = c.suffix;
    const hr12 = t.hour % 12 === 0 ? 12 : t.hour % 12;
    switch (c.std) {
      case '06':
        out += pad(Math.abs(t.year) % 100, 2);
        break;
      case '2006':
        out += pad(t.year, 4);
        break;
      case 'Jan':
        out += MONTHS[t.month - 1]!.slice(0, 3);
        break;
      case 'January':
        out += MONTHS[t.month - 1];
        break;
      case '1':
        out += t.month;
        break;
      case '01':
        out += pad(t.month, 2);
        break;
      case 'Mon':
        out += DAYS[t.weekday]!.slice(0, 3);
        break;
      case 'Monday':
        out += DAYS[t.weekday];
        break;
      case '2':
        out += t.day;
        break;
      case '_2':
        out += t.day < 10 ? ' ' + t.day : t.day;
        break;
      case '02':
        out += pad(t.day, 2);
        break;
      case '__2':
        out += String(t.yday).padStart(3, ' ');
        break;
      case '002':
        out += pad(t.yday, 3);
        break;
      case '15':
        out += pad(t.hour, 2);
        break;
      case '3':
        out += hr12;
        break;
      case '03':
        out += pad(hr12, 2);
        break;
      case '4':
        out += t.minute;
        break;
      case '04':
        out += pad(t.minute, 2);
        break;
      case '5':
        out += t.second;
        break;
      case '05':
        out += pad(t.second, 2);
        break;
      case 'PM':
        out += t.hour >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += t.hour >= 12 ? 'pm' : 'am';
        break;
      case 'MST':
        if (t.abbr !== '') out += t.abbr;
        else out += formatOffset(t.offset, '-0700');
        break;
      case 'frac0':
        out += c.sep + String(t.nsec).padStart(9, '0').slice(0, c.n);
        break;
      case 'frac9': {
        const digits = String(t.nsec).padStart(9, '0').slice(0, c.n).replace(/0+$/, '');
        if (digits !== '') out += c.sep + digits;
        break;
      }
      default:
        out += formatOffset(t.offset, c.std);
    }
  }
  return out;
}

function formatOffset(offset: number, std: string): string {
  if (offset === 0 && std.startsWith('Z')) return 'Z';
  let zone = Math.trunc(offset / 60);
  let abs = offset;
  let out = '+';
  if (zone < 0) {
    out = '-';
    zone = -zone;
    abs = -abs;
  }
  out += pad(Math.floor(zone / 60), 2);
  const colon = std.includes(':');
  if (colon) out += ':';
  if (std !== '-07' && std !== 'Z07') out += pad(zone % 60, 2);
  if (std.length >= 7 && (std.endsWith('0000') || std.endsWith(':00:00'))) {
    if (colon) out += ':';
    out += pad(abs % 60, 2);
  }
  return out;
}

function lookupName(value: string, names: string[], len: number | null): { index: number; rest: string } | null {
  for (let i = 0; i < names.length; i++) {
    const n = len === null ? names[i]! : names[i]!.slice(0, len);
    if (value.length >= n.length && value.slice(0, n.length).toLowerCase() === n.toLowerCase()) return { index: i, rest: value.slice(n.length) };
  }
  return null;
}

function getNum(value: string, fixed: boolean, width = 2): { n: number; rest: string } | null {
  const m = (fixed ? new RegExp(`^[0-9]{${width}}`) : new RegExp(`^[0-9]{1,${width}}`)).exec(value);
  if (m === null) return null;
  return { n: Number(m[0]), rest: value.slice(m[0].length) };
}

/** Go's skip: the layout's literal text must prefix the value, runs of spaces matching any run of spaces. */
function skip(value: string, prefix: string): string | null {
  while (prefix.length > 0) {
    if (prefix[0] === ' ') {
      if (value.length > 0 && value[0] !== ' ') return null;
      prefix = prefix.replace(/^ +/, '');
      value = value.replace(/^ +/, '');
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) return null;
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

/** Go's time.ParseInLocation; null when the value does not match the layout. */
export function parseTime(layout: string, value: string, loc: GoLocation): GoTime | null {
  let year = 1;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let pm = false;
  let pmSet = false;
  let offset: number | null = null;
  let zoneName = '';
  while (true) {
    const c = nextStdChunk(layout);
    const v = skip(value, c.prefix);
    if (v === null) return null;
    value = v;
    if (c.std === null) break;
    layout = c.suffix;
    let r: { n: number; rest: string } | null = null;
    switch (c.std) {
      case '06':
        r = getNum(value, true);
        if (r === null) return null;
        year = r.n >= 69 ? 1900 + r.n : 2000 + r.n;
        break;
      case '2006':
        if (!/^[0-9]{4}/.test(value)) return null;
        r = { n: Number(value.slice(0, 4)), rest: value.slice(4) };
        year = r.n;
        break;
      case 'Jan':
      case 'January': {
        const l = lookupName(value, MONTHS, c.std === 'Jan' ? 3 : null);
        if (l === null) return null;
        month = l.index + 1;
        value = l.rest;
        continue;
      }
      case '1':
      case '01':
        r = getNum(value, c.std === '01');
        if (r === null || r.n < 1 || r.n > 12) return null;
        month = r.n;
        break;
      case 'Mon':
      case 'Monday': {
        const l = lookupName(value, DAYS, c.std === 'Mon' ? 3 : null);
        if (l === null) return null;
        value = l.rest;
        continue;
      }
      case '2':
      case '_2':
      case '02':
        if (c.std === '_2' && value[0] === ' ') value = value.slice(1);
        r = getNum(value, c.std === '02');
        if (r === null) return null;
        day = r.n;
        break;
      case '__2':
      case '002':
        if (c.std === '__2') value = value.replace(/^ {1,2}/, '');
        r = getNum(value, c.std === '002', 3);
        if (r === null || r.n < 1 || r.n > 366) return null;
        yday = r.n;
        break;
      case '15':
        r = getNum(value, false);
        if (r === null || r.n > 23) return null;
        hour = r.n;
        break;
      case '3':
      case '03':
        r = getNum(value, c.std === '03');
        if (r === null || r.n > 12) return null;
        hour = r.n;
        break;
      case '4':
      case '04':
      case '5':
      case '05':
        r = getNum(value, c.std.length === 2);
        if (r === null || r.n > 59) return null;
        if (c.std.endsWith('4')) min = r.n;
        else {
          sec = r.n;
          // A fractional second the layout does not mention is still read.
          const frac = /^[.,][0-9]+/.exec(r.rest);
          const nextStd = nextStdChunk(layout).std;
          if (frac !== null && nextStd !== 'frac0' && nextStd !== 'frac9') {
            nsec = Number(frac[0].slice(1, 10).padEnd(9, '0'));
            r = { n: r.n, rest: r.rest.slice(frac[0].length) };
          }
        }
        break;
      case 'PM':
      case 'pm': {
        const p = value.slice(0, 2);
        const want = c.std === 'PM' ? ['PM', 'AM'] : ['pm', 'am'];
        if (p !== want[0] && p !== want[1]) return null;
        pm = p === want[0];
        pmSet = true;
        value = value.slice(2);
        continue;
      }
      case 'MST': {
        if (value.startsWith('UTC')) {
          zoneName = 'UTC';
          value = value.slice(3);
          continue;
        }
        const m = /^[A-Z]{3,5}/.exec(value);
        if (m === null) return null;
        zoneName = m[0];
        value = value.slice(m[0].length);
        continue;
      }
      case 'frac0':
      case 'frac9': {
        const m = c.std === 'frac0' ? new RegExp(`^[.,][0-9]{${c.n}}`).exec(value) : /^(?:[.,][0-9]+)?/.exec(value);
        if (m === null) return null;
        if (m[0].length > 1) nsec = Number(m[0].slice(1, 10).padEnd(9, '0'));
        value = value.slice(m[0].length);
        continue;
      }
      default: {
        if (c.std.startsWith('Z') && value[0] === 'Z') {
          offset = 0;
          value = value.slice(1);
          continue;
        }
        const m = /^([+-])([0-9]{2})(?::?([0-9]{2}))?(?::?([0-9]{2}))?/.exec(value);
        if (m === null) return null;
        offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0));
        value = value.slice(m[0].length);
        continue;
      }
    }
    value = r!.rest;
  }
  if (value !== '') return null;
  if (pmSet) {
    if (pm && hour < 12) hour += 12;
    else if (!pm && hour === 12) hour = 0;
  }
  if (yday >= 0) {
    const base = daysFromCivil(year, 1, 1) + yday - 1;
    const c = civilFromDays(base);
    if (c.y !== year || (month >= 0 && c.m !== month) || (day >= 0 && c.d !== day)) return null;
    month = c.m;
    day = c.d;
  }
  if (month < 0) month = 1;
  if (day < 0) day = 1;
  const dim = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day < 1 || day > dim) return null;
  const wall = daysFromCivil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
  let unix: number;
  let where = loc;
  if (offset !== null) {
    unix = wall - offset;
    if (offset !== loc.offsetAt(unix).offset) where = fixedZone(offset);
  } else if (zoneName !== '' && zoneName !== 'UTC') {
    unix = wall;
    where = fixedZone(0, zoneName);
  } else {
    if (zoneName === 'UTC') where = UTC;
    unix = wall - where.offsetAt(wall).offset;
    unix = wall - where.offsetAt(unix).offset;
  }
  return new GoTime(BigInt(unix) * NS + BigInt(nsec), where);
}

function fixedZone(offset: number, abbr = ''): GoLocation {
  return { name: abbr, offsetAt: () => ({ offset, abbr }) };
}

/** Months and weekdays by number, for time methods. */
export const TIME_NAMES = { months: MONTHS, days: DAYS };
