/** Times as the client takes them, and as Silt's HTTP API takes them. */

/** A point in time: a `Date`, nanoseconds since the epoch as a bigint, or any text the API takes (RFC 3339, integers in s/ms/µs/ns, `now-1h`). */
export type TimeInput = Date | bigint | string;

/** Durations in text: `90s`, `5m`, `1h30m`, `7d`, `250ms`. */
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d|w)/g;
const UNIT_NS: Record<string, bigint> = { ns: 1n, us: 1_000n, µs: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n, w: 604_800_000_000_000n };

/** Nanoseconds of a duration text (`1h30m`); throws a RangeError naming the text when it is not one. */
export function durationNs(text: string): bigint {
  if (!DURATION.test(text)) throw new RangeError(`"${text}" is not a duration (such as 90s, 5m, 1h30m, 7d)`);
  let ns = 0n;
  for (const [, n, unit] of text.matchAll(PART)) {
    const [whole, frac = ''] = n!.split('.');
    const scale = UNIT_NS[unit!]!;
    ns += BigInt(whole!) * scale + (frac === '' ? 0n : (BigInt(frac) * scale) / 10n ** BigInt(frac.length));
  }
  return ns;
}

/** Now, in nanoseconds. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * A time as a query parameter: a `Date` or bigint as nanoseconds; `now`, `now-1h` (and `now+5m`)
 * resolved here; any other text passed as it is (the server parses RFC 3339 and integers).
 */
export function timeParam(t: TimeInput): string {
  if (t instanceof Date) return (BigInt(t.getTime()) * 1_000_000n).toString();
  if (typeof t === 'bigint') return t.toString();
  const rel = /^now(?:([+-])(.+))?$/.exec(t.trim());
  if (rel === null) return t;
  if (rel[1] === undefined) return nowNs().toString();
  const d = durationNs(rel[2]!);
  return (rel[1] === '-' ? nowNs() - d : nowNs() + d).toString();
}
