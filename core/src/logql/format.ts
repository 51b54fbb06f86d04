/**
 * LogQL trees back to text. `formatExpr` writes the canonical text of a query (for cursors and
 * logs): it parses back to the same tree. `prettyExpr` is what Loki's `/loki/api/v1/format_query`
 * answers (its syntax.Prettify): Loki's String() of each node, split over indented lines where a
 * node's text is longer than 100 bytes. Values are written as Go writes them (strconv.Quote,
 * `%v` floats, time.Duration and Prometheus durations).
 */
import type { Expr, Grouping, LabelFilterExpr, LineFilterStage, LogRange, LogSelectorExpr, PipelineStage, Unwrap, VectorMatching } from './ast';

// ---------------------------------------------------------------------------------------------
// Go's formatting of values

/** Go's strconv.Quote: `"` and `\` escaped, non-printable characters as \a … \v, \xHH, \uHHHH or \UHHHHHHHH. */
export function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const escaped = QUOTE_ESCAPES[ch];
    if (escaped !== undefined) {
      out += escaped;
    } else if (NON_PRINTABLE_RE.test(ch)) {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
      else if (cp < 0x10000) out += '\\u' + hex(cp, 4);
      else out += '\\U' + hex(cp, 8);
    } else {
      out += ch; // printable, or a lone surrogate (no escape can write one)
    }
  }
  return out + '"';
}

const QUOTE_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** What Go's unicode.IsPrint refuses (other than lone surrogates): controls, format, private use, unassigned, separators but the space. */
const NON_PRINTABLE_RE = /^(?:[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs})$/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The shortest digits of |v| that read back as v, and its decimal exponent (`1.5e3` → "15", 3). */
function shortestDigits(v: number): { digits: string; exp: number } {
  const [mantissa, exp] = Math.abs(v).toExponential().split('e') as [string, string];
  return { digits: mantissa.replace('.', ''), exp: Number(exp) };
}

/** Digits placed without an exponent (`"15", 3` → "1500"; `"15", -2` → "0.015"). */
function plainDecimal(digits: string, exp: number): string {
  if (exp < 0) return '0.' + '0'.repeat(-exp - 1) + digits;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const fraction = digits.slice(exp + 1);
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

function special(v: number): string | null {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return null;
}

/** Go's `%v` of a float64 (`1e+06`, `0.5`, `1.25e+07`, `NaN`, `+Inf`). */
export function goFloat(v: number): string {
  const s = special(v);
  if (s !== null) return s;
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return sign + '0';
  const { digits, exp } = shortestDigits(v);
  if (exp >= -4 && exp < 6) return sign + plainDecimal(digits, exp);
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits, never an exponent. */
export function goFloatPlain(v: number): string {
  const s = special(v);
  if (s !== null) return s;
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return sign + '0';
  const { digits, exp } = shortestDigits(v);
  return sign + plainDecimal(digits, exp);
}

/** Go's `%f`: six decimals. */
function goFixed(v: number): string {
  const s = special(v);
  if (s !== null) return s;
  return Math.abs(v) < 1e21 ? v.toFixed(6) : BigInt(v).toString() + '.000000';
}

/** Go's time.Duration.String (`1h0m0s`, `1.5s`, `250ms`, `750µs`, `42ns`, `0s`). */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  let u = ns < 0n ? -ns : ns;
  const fraction = (value: bigint, digits: number): string => {
    const scale = 10n ** BigInt(digits);
    const frac = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
    return (value / scale).toString() + (frac === '' ? '' : '.' + frac);
  };
  if (u < 1_000_000_000n) {
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${fraction(u, 3)}µs`;
    return `${sign}${fraction(u, 6)}ms`;
  }
  const seconds = fraction(u % 60_000_000_000n, 9) + 's';
  u /= 60_000_000_000n;
  if (u === 0n) return sign + seconds;
  const minutes = `${u % 60n}m`;
  u /= 60n;
  return sign + (u === 0n ? '' : `${u}h`) + minutes + seconds;
}

/** Prometheus's model.Duration.String (`5m`, `1h30m`, `2w`, `1y`; milliseconds at most). */
export function promDuration(ns: bigint): string {
  let ms = ns / 1_000_000n;
  if (ms === 0n) return '0s';
  const sign = ms < 0n ? '-' : '';
  if (ms < 0n) ms = -ms;
  let out = '';
  const unit = (name: string, size: bigint, exact: boolean): void => {
    if (exact && ms % size !== 0n) return;
    const v = ms / size;
    if (v > 0n) {
      out += `${v}${name}`;
      ms -= v * size;
    }
  };
  unit('y', 31_536_000_000n, true);
  unit('w', 604_800_000n, true);
  unit('d', 86_400_000n, false);
  unit('h', 3_600_000n, false);
  unit('m', 60_000n, false);
  unit('s', 1_000n, false);
  unit('ms', 1n, false);
  return sign + out;
}

/** go-humanize's Bytes without its space (`20MB`, `1.5kB`, `5B`), as Loki writes a size filter. */
function humanBytes(bytes: number): string {
  if (bytes < 10) return `${bytes}B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(bytes) / Math.log(1000));
  const v = Math.floor((bytes / 1000 ** e) * 10 + 0.5) / 10;
  return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + sizes[e];
}

// ---------------------------------------------------------------------------------------------
// Text of a tree: canonical (parses back to the same tree) or Loki's String()

/** The canonical text of a query; parseExpr(formatExpr(e)) gives back e. */
export function formatExpr(expr: Expr): string {
  return write(expr, false);
}

function write(e: Expr, loki: boolean): string {
  switch (e.kind) {
    case 'log':
      return writeLog(e, loki);
    case 'range_agg':
      return `${e.op}(${e.param === null ? '' : goFloatPlain(e.param) + ','}${writeRange(e.range, loki)})${e.grouping === null ? '' : writeGrouping(e.grouping)}`;
    case 'vector_agg': {
      const singleton = e.grouping === null || (!e.grouping.without && e.grouping.labels.length === 0);
      const group = e.grouping === null || (loki && singleton) ? '' : writeGrouping(e.grouping);
      return `${e.op}${group}(${e.param === null ? '' : `${e.param},`}${write(e.expr, loki)})`;
    }
    case 'binary':
      return `(${write(e.left, loki)} ${e.op}${e.bool ? ' bool' : ''}${writeMatching(e.matching, loki)} ${write(e.right, loki)})`;
    case 'literal':
      return loki ? goFloat(e.value) : canonicalNumber(e.value);
    case 'vector':
      return `vector(${loki ? goFixed(e.value) : goFloat(e.value)})`;
    case 'label_replace':
      return `label_replace(${write(e.expr, loki)},${[e.dst, e.replacement, e.src, e.regex].map(goQuote).join(',')})`;
  }
}

/** A literal as text that lexes and folds back to it: NaN, infinities and -0 (which Loki's lexer reads as a duration) as operations. */
function canonicalNumber(v: number): string {
  if (Number.isNaN(v)) return '(0 / 0)';
  if (Object.is(v, -0)) return '(0 * -1)';
  if (v === Infinity) return '(2 ^ 1024)';
  if (v === -Infinity) return '(-1 * 2 ^ 1024)';
  return goFloat(v);
}

function writeGrouping(g: Grouping): string {
  return ` ${g.without ? 'without' : 'by'} (${g.labels.join(',')})`;
}

/** ` on (a,b) group_left (c)`; Loki's String() leaves out an empty `ignoring ()` (with its group) and ends `on (…)` with a space. */
function writeMatching(m: VectorMatching | null, loki: boolean): string {
  if (m === null) return '';
  let group = m.group === null ? '' : `group_${m.group.side}`;
  if (m.group !== null && m.group.include.length > 0) group += ` (${m.group.include.join(',')})`;
  const on = `${m.on ? 'on' : 'ignoring'} (${m.labels.join(',')})`;
  if (!loki) return ` ${on}${group === '' ? '' : ' ' + group}`;
  return m.on || m.labels.length > 0 ? ` ${on} ${group}` : '';
}

function writeLog(e: LogSelectorExpr, loki: boolean): string {
  const selector = '{' + e.matchers.map((m) => m.name + m.op + goQuote(m.value)).join(', ') + '}';
  if (e.pipeline.length === 0) return selector;
  return selector + ' ' + e.pipeline.map((s) => writeStage(s, loki)).join(' ');
}

function writeRange(r: LogRange, loki: boolean): string {
  const offset = r.offsetNs === 0n ? '' : ` offset ${goDuration(r.offsetNs)}`;
  const unwrap = r.unwrap === null ? '' : ` ${unwrapHead(r.unwrap)}` + r.unwrap.postFilters.map((f) => ` | ${writeLabelFilter(f, loki)}`).join('');
  return `${writeLog(r.selector, loki)}${unwrap}[${promDuration(r.rangeNs)}]${offset}`;
}

/** `| unwrap x` or `| unwrap duration(x)`. */
function unwrapHead(u: Unwrap): string {
  return u.conversion === 'none' ? `| unwrap ${u.label}` : `| unwrap ${u.conversion}(${u.label})`;
}

function writeLineFilter(f: LineFilterStage, loki: boolean): string {
  const value = (v: string): string => (f.ip ? `ip(${goQuote(v)})` : goQuote(v));
  // Loki turns `!= "a" or "b"` into `!= "a" != "b"`, and writes it so.
  if (loki && (f.op === '!=' || f.op === '!~' || f.op === '!>')) return f.values.map((v) => `${f.op} ${value(v)}`).join(' ');
  return `${f.op} ${f.values.map(value).join(' or ')}`;
}

function writeStage(s: PipelineStage, loki: boolean): string {
  switch (s.kind) {
    case 'line_filter':
      return writeLineFilter(s, loki);
    case 'json':
    case 'logfmt': {
      const flags = s.kind === 'logfmt' ? (s.strict ? ' --strict' : '') + (s.keepEmpty ? ' --keep-empty' : '') : '';
      const params = s.params.map((p) => (p.path === null && !loki ? p.label : `${p.label}=${goQuote(p.path ?? p.label)}`)).join(',');
      return `| ${s.kind}${flags}${params === '' ? '' : ' ' + params}`;
    }
    case 'regexp':
      return `| regexp ${goQuote(s.pattern)}`;
    case 'pattern':
      return `| pattern ${goQuote(s.pattern)}`;
    case 'unpack':
      return '| unpack';
    case 'line_format':
      return `| line_format ${goQuote(s.template)}`;
    case 'label_format':
      return '| label_format ' + s.items.map((i) => `${i.dst}=${i.rename ?? goQuote(i.template!)}`).join(',');
    case 'label_filter':
      return `| ${writeLabelFilter(s.expr, loki)}`;
    case 'drop':
    case 'keep':
      return `| ${s.kind} ` + s.items.map((i) => (i.matcher === null ? i.name : i.name + i.matcher.op + goQuote(i.matcher.value))).join(',');
    case 'decolorize':
      return '| decolorize';
  }
}

function writeLabelFilter(f: LabelFilterExpr, loki: boolean): string {
  switch (f.kind) {
    case 'and':
      return `( ${writeLabelFilter(f.left, loki)} , ${writeLabelFilter(f.right, loki)} )`;
    case 'or':
      return `( ${writeLabelFilter(f.left, loki)} or ${writeLabelFilter(f.right, loki)} )`;
    case 'matcher': {
      const m = f.matcher;
      if (loki && m.op === '=~' && !lokiSimplifies(m.value)) return `${m.name}=~${m.value.includes('`') ? goQuote(m.value) : '`' + m.value + '`'}`;
      return m.name + m.op + goQuote(m.value);
    }
    case 'number':
      return f.name + f.op + goFloatPlain(f.value);
    case 'duration':
      return f.name + f.op + goDuration(BigInt(Math.round(f.value * 1e9)));
    case 'bytes':
      return f.name + f.op + (loki ? humanBytes(f.value) : `${f.value}B`);
    case 'ip':
      return `${f.name}${f.negate ? '!=' : '='}ip(${goQuote(f.pattern)})`;
  }
}

const SIMPLE_LITERAL = String.raw`(?:[^\\.+*?()|\[\]{}^$]|\\[^A-Za-z0-9])*`;
const SIMPLE_BRANCH_RE = new RegExp(String.raw`^(?:\.\*)?${SIMPLE_LITERAL}(?:\.\*)?$|^\.\+$`);

/**
 * Whether Loki turns a label filter regex into plain string tests (literals, `.*` around one,
 * alternatives of those), in which case its String() writes the matcher as it was given; else it
 * writes the regex in backticks. An approximation of Loki's regex simplifier.
 */
function lokiSimplifies(regex: string): boolean {
  let body = regex.startsWith('(?i)') ? regex.slice(4) : regex;
  if (/^\((?:\?:)?[^()]*\)$/.test(body)) body = body.replace(/^\((?:\?:)?|\)$/g, '');
  return body.split('|').every((branch) => SIMPLE_BRANCH_RE.test(branch));
}

// ---------------------------------------------------------------------------------------------
// Loki's Prettify

/** Loki's `format_query` answer (syntax.Prettify): nodes whose text is longer than `maxChars` bytes go over indented lines. */
export function prettyExpr(expr: Expr, maxChars = 100): string {
  return new Prettifier(maxChars).expr(expr, 0);
}

function indent(level: number): string {
  return '  '.repeat(level);
}

/** Loki's pipeline stages: consecutive line filters are one stage. */
type LokiStage = { kind: 'line_filters'; filters: LineFilterStage[] } | PipelineStage;

function lokiStages(pipeline: readonly PipelineStage[]): LokiStage[] {
  const out: LokiStage[] = [];
  for (const s of pipeline) {
    const last = out[out.length - 1];
    if (s.kind !== 'line_filter') out.push(s);
    else if (last !== undefined && last.kind === 'line_filters') last.filters.push(s);
    else out.push({ kind: 'line_filters', filters: [s] });
  }
  return out;
}

class Prettifier {
  constructor(readonly maxChars: number) {}

  private split(text: string): boolean {
    return Buffer.byteLength(text, 'utf8') > this.maxChars;
  }

  expr(e: Expr, level: number): string {
    const text = write(e, true);
    if (!this.split(text)) return indent(level) + text;
    switch (e.kind) {
      case 'log':
        return this.log(e, level);
      case 'range_agg': {
        const param = e.param === null ? '' : `${indent(level + 1)}${goFloat(e.param)},\n`;
        return `${indent(level)}${e.op}(\n${param}${this.range(e.range, level + 1)}\n${indent(level)})${e.grouping === null ? '' : prettyGrouping(e.grouping)}`;
      }
      case 'vector_agg': {
        const args = [this.expr(e.expr, level + 1)];
        if (e.param !== null) args.unshift(`${indent(level + 1)}${e.param}`);
        const group = e.grouping === null ? '' : prettyGrouping(e.grouping);
        return `${indent(level)}${e.op}${group}(\n${args.join(',\n')}\n${indent(level)})`;
      }
      case 'binary':
        return `${this.expr(e.left, level + 1)}\n${indent(level)}${prettyBinaryOp(e.op, e.bool, e.matching)}\n${this.expr(e.right, level + 1)}`;
      case 'label_replace': {
        const args = [this.expr(e.expr, level + 1), ...[e.dst, e.replacement, e.src, e.regex].map((v) => indent(level + 1) + goQuote(v))];
        return `${indent(level)}label_replace(\n${args.join(',\n')}\n${indent(level)})`;
      }
      case 'literal':
      case 'vector':
        return indent(level) + text;
    }
  }

  /** A log query: its selector, then each stage on a line of its own one level deeper. */
  private log(e: LogSelectorExpr, level: number): string {
    const text = writeLog(e, true);
    if (e.pipeline.length === 0 || !this.split(text)) return indent(level) + text;
    const selector = writeLog({ ...e, pipeline: [] }, true);
    const stages = lokiStages(e.pipeline).map((s) => this.stage(s, level + 1));
    return `${indent(level)}${selector}\n${stages.join('\n')}`;
  }

  private stage(s: LokiStage, level: number): string {
    if (s.kind === 'decolorize') return writeStage(s, true); // Loki writes it without its indent
    if (s.kind !== 'line_filters') return indent(level) + writeStage(s, true);
    // The longest run of leading filters that fits stays on one line; each one after goes on its own.
    const lines: string[] = [];
    let rest = s.filters;
    while (rest.length > 1 && this.split(rest.map((f) => writeLineFilter(f, true)).join(' '))) {
      lines.unshift(indent(level) + writeLineFilter(rest[rest.length - 1]!, true));
      rest = rest.slice(0, -1);
    }
    lines.unshift(indent(level) + rest.map((f) => writeLineFilter(f, true)).join(' '));
    return lines.join('\n');
  }

  private range(r: LogRange, level: number): string {
    let s = this.log(r.selector, level);
    if (r.unwrap !== null) {
      s += `\n${indent(level + 1)}${unwrapHead(r.unwrap)}`;
      for (const f of r.unwrap.postFilters) s += `\n${indent(level + 1)}| ${writeLabelFilter(f, true)}`;
    }
    return `${s} [${promDuration(r.rangeNs)}]${r.offsetNs === 0n ? '' : ` offset ${promDuration(r.offsetNs)}`}`;
  }
}

/** ` by (a, b)`, ` without (a)`, ` without`; nothing for `by ()`. */
function prettyGrouping(g: Grouping): string {
  let s = g.without ? ' without' : g.labels.length > 0 ? ' by' : '';
  if (g.labels.length > 0) s += ` (${g.labels.join(', ')})`;
  return s;
}

/** The operator line of a split binary operation; as Loki's, it leaves out `on ()`/`ignoring ()` and the group after them. */
function prettyBinaryOp(op: string, bool: boolean, m: VectorMatching | null): string {
  let s = op + (bool ? ' bool' : '');
  if (m === null || m.labels.length === 0) return s;
  let group = m.group === null ? '' : `group_${m.group.side}`;
  if (m.group !== null && m.group.include.length > 0) group += ` (${m.group.include.join(', ')})`;
  s += ` ${m.on ? 'on' : 'ignoring'} (${m.labels.join(', ')}) ${group}`;
  return s;
}
