/**
 * OTLP values read from either encoding and rendered as Loki renders them (pdata's
 * `Value.AsString`): a protobuf message as protobufjs decodes it with strict text (strings, or
 * INVALID_TEXT; bytes as Buffers; int64 as Long, fixed64 timestamps as bigint) or its OTLP/JSON
 * form (64-bit integers as decimal strings or numbers, bytes as base64, trace and span ids as hex,
 * lowerCamelCase names with the proto's snake_case names accepted, as the Collector accepts them).
 * Attribute names are normalised as Loki's OTLP label namer does, and a map-valued attribute
 * flattens into `parent_child` names.
 *
 * A value that cannot be read throws a BadRequestError whose code says what it refuses; callers
 * turn it into a rejection of the records it belongs to, except SILT_TOO_DEEP, a whole-request 400.
 */
import { BadRequestError, SiltError } from '../../../core/src/errors';
import { kindOf } from '../push/builder';
import { INVALID_TEXT, uint64Of } from './proto-reader';

/** A decoded OTLP message of either encoding: protobufjs objects or parsed JSON. */
export type OtlpMessage = Record<string, unknown>;

/** A 64-bit integer as protobufjs decodes it (the `long` package's Long). */
interface LongBits {
  low: number;
  high: number;
  unsigned: boolean;
}

/**
 * Deepest nesting of AnyValue arrays and maps: protobufjs refuses messages nested past 100 levels,
 * about 32 levels of maps, and JSON is held to the same so both encodings accept the same values.
 */
export const MAX_VALUE_DEPTH = 32;

const hasOwn = Object.prototype.hasOwnProperty;

/** True for a message (a protobufjs object or a JSON object). */
export function isMessage(v: unknown): v is OtlpMessage {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function fail(code: string, message: string): never {
  throw new BadRequestError(code, message);
}

/** A Uint8Array as a Buffer without copying (protobufjs hands Buffers over already). */
function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length);
}

function isLong(v: unknown): v is LongBits {
  return typeof v === 'object' && v !== null && typeof (v as LongBits).low === 'number' && typeof (v as LongBits).high === 'number';
}

/** Absent, JSON null, or protobufjs's default of an unset bytes field (an empty array). */
function isUnset(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0);
}

/** A text field: a string (JSON, or protobuf text decoded strictly); absent is "". */
export function text(v: unknown, what: string, code: string): string {
  if (typeof v === 'string') return v;
  if (v === INVALID_TEXT) fail('SILT_INVALID_UTF8', `${what} is not valid UTF-8`);
  if (v === undefined || v === null) return '';
  return fail(code, `${what} must be a string, not ${kindOf(v)}`);
}

/** A Long as a decimal string (exact past 2^53). */
function longText(v: LongBits): string {
  const n = (v.unsigned ? v.high >>> 0 : v.high) * 4294967296 + (v.low >>> 0);
  if (Number.isSafeInteger(n)) return String(n);
  return ((BigInt(v.unsigned ? v.high >>> 0 : v.high) << 32n) + BigInt(v.low >>> 0)).toString();
}

/** 2^63, exact as a double: int64 numbers lie in [−2^63, 2^63). */
const TWO_63 = 2 ** 63;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const CANONICAL_INT = /^(0|-?[1-9][0-9]{0,17})$/;
const DECIMAL_INT = /^[+-]?[0-9]+$/;
const DIGITS = /^[0-9]+$/;

/** An int64 value (`intValue`): a Long, or in JSON a decimal string or an integral number; rendered as its decimal digits. */
export function int64Text(v: unknown, what: string, code: string): string {
  if (isLong(v)) return longText(v);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v >= TWO_63 || v < -TWO_63) fail(code, `${what} must be a 64-bit integer, not ${v}`);
    return String(v);
  }
  if (typeof v === 'string') {
    // Short canonical digits are already what they render as; anything else goes through BigInt.
    if (CANONICAL_INT.test(v)) return v;
    if (DECIMAL_INT.test(v)) {
      const n = BigInt(v);
      if (n >= INT64_MIN && n <= INT64_MAX) return n.toString();
    }
  }
  return fail(code, `${what} must be a 64-bit integer (a number or a decimal string), not ${typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : kindOf(v)}`);
}

/** A double as Go's encoder and JavaScript both print it (shortest round-trip; NaN and ±Infinity by name). */
function doubleText(v: unknown, what: string, code: string): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v;
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n)) return String(n);
  }
  return fail(code, `${what} must be a number, not ${kindOf(v)}`);
}

/** Bytes as standard base64: protobuf bytes, or the base64 text OTLP/JSON carries them as (normalised). */
function bytesText(v: unknown, what: string, code: string): string {
  if (v instanceof Uint8Array) return asBuffer(v).toString('base64');
  if (typeof v === 'string') return Buffer.from(v, 'base64').toString('base64');
  if (isUnset(v)) return '';
  return fail(code, `${what} must be base64 bytes, not ${kindOf(v)}`);
}

/** The members of an AnyValue's oneof by lowerCamelCase name, then by proto name at the same offset. */
const MEMBERS = [
  'stringValue',
  'intValue',
  'boolValue',
  'doubleValue',
  'kvlistValue',
  'arrayValue',
  'bytesValue',
  'string_value',
  'int_value',
  'bool_value',
  'double_value',
  'kvlist_value',
  'array_value',
  'bytes_value',
] as const;
const CASE_COUNT = 7;
const STRING = 0;
const INT = 1;
const BOOL = 2;
const DOUBLE = 3;
const KVLIST = 4;
const ARRAY = 5;

/**
 * Index in MEMBERS of the member an AnyValue has set, or -1 for an empty value. protobufjs sets own
 * properties only for fields on the wire, as JSON.parse does, so `hasOwn` tells a set member from
 * protobufjs's prototype defaults; a JSON null is unset.
 */
function memberOf(v: OtlpMessage): number {
  for (let i = 0; i < MEMBERS.length; i++) if (hasOwn.call(v, MEMBERS[i]) && v[MEMBERS[i]!] !== null) return i;
  return -1;
}

function tooDeep(what: string): never {
  throw new BadRequestError('SILT_TOO_DEEP', `${what} nests arrays and maps more than ${MAX_VALUE_DEPTH} levels deep`, { maxDepth: MAX_VALUE_DEPTH });
}

/** The `values` list of an ArrayValue or KeyValueList (absent is empty). */
function valuesOf(v: unknown, what: string, code: string): unknown[] {
  if (isUnset(v)) return [];
  if (!isMessage(v)) return fail(code, `${what} must be an object {"values":[…]}, not ${kindOf(v)}`);
  const values = v.values;
  if (values === undefined || values === null) return [];
  if (!Array.isArray(values)) return fail(code, `${what}.values must be an array, not ${kindOf(values)}`);
  return values;
}

/** The text of a scalar member (string, int, bool, double, bytes) of an AnyValue. */
function scalarText(member: number, content: unknown, what: string, code: string): string {
  switch (member % CASE_COUNT) {
    case STRING:
      return text(content, what, code);
    case INT:
      return int64Text(content, what, code);
    case BOOL:
      if (typeof content !== 'boolean') return fail(code, `${what} must be a boolean, not ${kindOf(content)}`);
      return content ? 'true' : 'false';
    case DOUBLE:
      return doubleText(content, what, code);
    default:
      return bytesText(content, what, code);
  }
}

function anyValue(v: unknown, what: string, code: string): OtlpMessage | null {
  if (v === undefined || v === null) return null;
  if (!isMessage(v)) return fail(code, `${what} must be an AnyValue object, not ${kindOf(v)}`);
  return v;
}

/** An AnyValue as text, as pdata's `AsString` renders it: strings as they are, maps and arrays as JSON, bytes as base64, an empty value as "". */
export function valueText(value: unknown, what: string, code: string, depth = 0): string {
  const v = anyValue(value, what, code);
  const member = v === null ? -1 : memberOf(v);
  if (member < 0) return '';
  const kind = member % CASE_COUNT;
  if (kind === KVLIST || kind === ARRAY) return valueJson(v, what, code, depth);
  return scalarText(member, v![MEMBERS[member]!], what, code);
}

/** An AnyValue as JSON text (pdata's `AsRaw` through Go's encoder): map keys sorted, a repeated key's last value kept, an empty value null. */
function valueJson(value: unknown, what: string, code: string, depth: number): string {
  if (depth > MAX_VALUE_DEPTH) tooDeep(what);
  const v = anyValue(value, what, code);
  const member = v === null ? -1 : memberOf(v);
  if (member < 0) return 'null';
  const content = v![MEMBERS[member]!];
  switch (member % CASE_COUNT) {
    case ARRAY: {
      const values = valuesOf(content, what, code);
      let out = '[';
      for (let i = 0; i < values.length; i++) out += (i > 0 ? ',' : '') + valueJson(values[i], what, code, depth + 1);
      return out + ']';
    }
    case KVLIST: {
      const values = valuesOf(content, what, code);
      const pairs: [string, string][] = [];
      for (const kv of values) {
        if (!isMessage(kv)) return fail(code, `${what} holds a key-value that is ${kindOf(kv)}, not an object`);
        pairs.push([text(kv.key, what, code), valueJson(kv.value, what, code, depth + 1)]);
      }
      // A stable sort keeps a repeated key's values in order: the last one is the one kept.
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      let out = '{';
      for (let i = 0; i < pairs.length; i++) {
        if (i + 1 < pairs.length && pairs[i + 1]![0] === pairs[i]![0]) continue;
        out += (out.length > 1 ? ',' : '') + JSON.stringify(pairs[i]![0]) + ':' + pairs[i]![1];
      }
      return out + '}';
    }
    case INT:
    case BOOL:
      return scalarText(member, content, what, code);
    case DOUBLE: {
      const s = doubleText(content, what, code);
      return s === 'NaN' || s === 'Infinity' || s === '-Infinity' ? `"${s}"` : s;
    }
    default:
      return JSON.stringify(scalarText(member, content, what, code));
  }
}

function isAlphanumeric(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Loki's OTLP label namer: every run of characters other than ASCII letters and digits (`_` included) becomes one `_`, `__x__` keeps its marks, a leading digit gets `key_`; null when nothing but underscores is left. */
function normaliseName(key: string): string | null {
  if (key.length === 0) return null;
  const reserved = key.length >= 4 && key.startsWith('__') && key.endsWith('__');
  const from = reserved ? 2 : 0;
  const to = reserved ? key.length - 2 : key.length;
  let out = '';
  let runStart = -1;
  let underscore = false;
  for (let i = from; i < to; i++) {
    if (isAlphanumeric(key.charCodeAt(i))) {
      if (runStart < 0) runStart = i;
      underscore = false;
    } else {
      if (runStart >= 0) out += key.slice(runStart, i);
      runStart = -1;
      if (!underscore) out += '_';
      underscore = true;
    }
  }
  if (runStart >= 0) out += key.slice(runStart, to);
  if (reserved) out = `__${out}__`;
  const first = out.charCodeAt(0);
  if (first >= 48 && first <= 57) out = 'key_' + out;
  for (let i = 0; i < out.length; i++) if (out.charCodeAt(i) !== 95) return out;
  return null;
}

/** Normalised names of recent attribute keys: the same few dozen keys arrive in every record. */
const nameCache = new Map<string, string | null>();
const NAME_CACHE_SIZE = 4096;
/** Longer keys are normalised each time rather than pinned in memory. */
const CACHED_KEY_LENGTH = 256;

/** The label or attribute name of an OTLP attribute key (see `normaliseName`), or null when it has no letter or digit. */
export function attributeName(key: string): string | null {
  let name = nameCache.get(key);
  if (name !== undefined) return name;
  name = normaliseName(key);
  if (key.length <= CACHED_KEY_LENGTH) {
    if (nameCache.size >= NAME_CACHE_SIZE) nameCache.clear();
    nameCache.set(key, name);
  }
  return name;
}

/**
 * Adds a list of KeyValues to `into` under normalised names: a map value flattens into
 * `name_key` entries, any other value is its `valueText`; a later name overwrites an earlier one.
 * With `skipEmpty`, empty values are left out (for stream labels, where empty means absent).
 * `what` names the list in messages (a constant: nothing is formatted unless a value is refused).
 */
export function addAttributes(list: unknown, into: Record<string, string>, what: string, code: string, skipEmpty = false, prefix = '', depth = 0): void {
  if (isUnset(list)) return;
  if (!Array.isArray(list)) fail(code, `${what} must be an array of {"key":…,"value":…}, not ${kindOf(list)}`);
  if (depth > MAX_VALUE_DEPTH) tooDeep(what);
  for (let i = 0; i < list.length; i++) {
    const kv: unknown = list[i];
    if (!isMessage(kv)) fail(code, `${what} holds an attribute that is ${kindOf(kv)}, not an object {"key":…,"value":…}`);
    const key = text(kv.key, 'an attribute key', code);
    const name = attributeName(prefix === '' ? key : `${prefix}_${key}`);
    if (name === null) fail(code, `attribute key ${JSON.stringify(key.slice(0, 64))} of ${what} has no letter or digit to make a name of`);
    const v = kv.value;
    try {
      const member = isMessage(v) ? memberOf(v) : -1;
      if (member >= 0 && member % CASE_COUNT === KVLIST) {
        addAttributes(valuesOf((v as OtlpMessage)[MEMBERS[member]!], what, code), into, what, code, skipEmpty, name, depth + 1);
        continue;
      }
      const value = valueText(v, 'the value', code, depth);
      if (!skipEmpty || value !== '') into[name] = value;
    } catch (err) {
      if (!(err instanceof SiltError) || err.code === 'SILT_TOO_DEEP' || depth > 0) throw err;
      throw new BadRequestError(err.code, `attribute ${JSON.stringify(key.slice(0, 64))} of ${what}: ${err.message}`);
    }
  }
}

/**
 * A fixed64 timestamp of nanoseconds: a bigint (as the strict reader decodes it), a Long
 * (protobufjs's default of an absent field), or in JSON a decimal string or a number; undefined
 * when 0 (the OTLP "unknown").
 */
export function timestampNs(v: unknown, what: string): bigint | undefined {
  if (typeof v === 'bigint') return v === 0n ? undefined : v;
  if (isLong(v)) return v.low === 0 && v.high === 0 ? undefined : uint64Of(v.low, v.high);
  if (typeof v === 'string') {
    if (!DIGITS.test(v) || v.length > 20) fail('SILT_BAD_TIMESTAMP', `${what} ${JSON.stringify(v.slice(0, 40))} is not a decimal integer of nanoseconds`);
    const n = BigInt(v);
    return n === 0n ? undefined : n;
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) fail('SILT_BAD_TIMESTAMP', `${what} ${v} is not a non-negative integer of nanoseconds`);
    return v === 0 ? undefined : BigInt(v);
  }
  if (v === undefined || v === null) return undefined;
  return fail('SILT_BAD_TIMESTAMP', `${what} must be a decimal string or an integer of nanoseconds, not ${kindOf(v)}`);
}

/** A uint32 field (counts, flags): a number, or in JSON a decimal string too. */
export function uint32(v: unknown, what: string, code: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && DIGITS.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) return fail(code, `${what} must be an unsigned 32-bit integer, not ${kindOf(v)}`);
  return n;
}

/** SeverityNumber by enum name, for JSON senders that use names as the proto3 JSON mapping allows. */
const SEVERITY_NAMES = new Map<string, number>([['SEVERITY_NUMBER_UNSPECIFIED', 0]]);
['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((level, i) => {
  ['', '2', '3', '4'].forEach((suffix, j) => SEVERITY_NAMES.set(`SEVERITY_NUMBER_${level}${suffix}`, i * 4 + j + 1));
});

/** The `severityNumber` enum: an integer, or an enum name. */
export function severityNumber(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v;
  const byName = typeof v === 'string' ? SEVERITY_NAMES.get(v) : undefined;
  if (byName !== undefined) return byName;
  return fail('SILT_BAD_ENTRY', `severityNumber must be an integer or a SEVERITY_NUMBER_… name, not ${typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : kindOf(v)}`);
}

const HEX = /^[0-9a-fA-F]*$/;

/** Node's Buffer encodes hex with `hexSlice`, without `toString`'s encoding lookup (a tenth of a rich record's time). */
interface HexSlicing {
  hexSlice(start: number, end: number): string;
}

/** A trace or span id as lowercase hex (raw bytes in protobuf, hex in JSON); undefined when empty or all zeros (no trace). */
export function idHex(v: unknown, bytes: number, what: string): string | undefined {
  let hex: string;
  if (v instanceof Uint8Array) {
    if (v.length === 0) return undefined;
    if (v.length !== bytes) fail('SILT_BAD_ENTRY', `${what} is ${v.length} bytes, not ${bytes}`);
    hex = (asBuffer(v) as unknown as HexSlicing).hexSlice(0, v.length);
  } else if (typeof v === 'string') {
    if (v.length === 0) return undefined;
    if (v.length !== bytes * 2 || !HEX.test(v)) fail('SILT_BAD_ENTRY', `${what} must be ${bytes * 2} hex digits, not ${JSON.stringify(v.slice(0, 40))}`);
    hex = v.toLowerCase();
  } else {
    if (isUnset(v)) return undefined;
    return fail('SILT_BAD_ENTRY', `${what} must be a hex string, not ${kindOf(v)}`);
  }
  for (let i = 0; i < hex.length; i++) if (hex.charCodeAt(i) !== 48) return hex;
  return undefined;
}
