/**
 * Label filter expressions (`| status >= 500 and method="POST"`, `| duration > 1s`, `| size < 1MB`,
 * `| addr = ip("10.0.0.0/8")`) with Loki's semantics:
 * - a string matcher reads an absent label as ""; `__error__` is the only filter that sees the error;
 *   regexes are simplified as Loki simplifies them (`=~"0.*"` means "contains 0");
 * - a numeric, duration or bytes filter drops an entry without the label, and keeps an entry whose
 *   value does not convert, marking it `__error__="LabelFilterErr"` (unless it already has an error);
 * - `and` evaluates both sides (both may mark errors), `or` stops at a true left side;
 * - an ip filter keeps every entry that already has an error.
 */
import type { CompareOp, LabelFilterExpr, LabelMatcher } from '../ast';
import { compareNumbers } from '../compare';
import { bytesAfterRoundTrip, ConversionError, parseGoDuration, parseGoFloat, parseHumanBytes } from './convert';
import { compileIpFilter } from './ip';
import { ERROR_LABEL, PipelineError, type LabelPredicate, type LabelsBuilder } from './labels-builder';
import { compileLokiRegex } from './line-filter';
import type { Stage } from './stage';

/** A compiled label filter expression. */
export interface CompiledLabelFilter {
  /** Runs the filter (it may mark the entry with an error). */
  test: LabelPredicate;
  /** The label names it reads. */
  names: string[];
  /** True when it keeps every entry and has no effect (Loki drops such a stage). */
  noop: boolean;
  /** The label it reads when it is a single comparison (not `and`/`or`), else null. */
  single: string | null;
}

/** A filter converting the label's value with `convert` and comparing it with `value`. */
function conversionFilter(name: string, op: CompareOp, value: number, convert: (s: string) => number): LabelPredicate {
  return (b) => {
    const v = b.get(name);
    if (v === undefined) return false;
    let n: number;
    try {
      n = convert(v);
    } catch (err) {
      if (!(err instanceof ConversionError)) throw err;
      if (b.err === '') b.setError(PipelineError.labelFilter, err.message);
      return true;
    }
    return compareNumbers(op, n, value);
  };
}

/** The value a string filter compares: the error for `__error__`, else the label or "". */
function labelValue(b: LabelsBuilder, name: string): string {
  if (name === ERROR_LABEL) return b.err;
  return b.get(name) ?? '';
}

function matcherFilter(m: LabelMatcher): { test: LabelPredicate; noop: boolean } {
  const name = m.name;
  switch (m.op) {
    case '=': {
      const want = m.value;
      return { test: (b) => labelValue(b, name) === want, noop: false };
    }
    case '!=': {
      const want = m.value;
      return { test: (b) => labelValue(b, name) !== want, noop: false };
    }
    case '=~':
    case '!~': {
      const { test: t, alwaysTrue } = compileLokiRegex(m.value, true, `label filter ${name}${m.op}`);
      // Loki drops a matcher that accepts everything (such as =~".*").
      if (m.op === '=~') return { test: (b) => t(labelValue(b, name)), noop: alwaysTrue };
      return { test: (b) => !t(labelValue(b, name)), noop: false };
    }
  }
}

/**
 * Compiles a label filter expression. `inSelector`: the filter is a stage of a log selector's
 * pipeline, whose bytes values Loki rounds (see bytesAfterRoundTrip); post-unwrap filters keep theirs.
 */
export function compileLabelFilter(expr: LabelFilterExpr, inSelector: boolean): CompiledLabelFilter {
  switch (expr.kind) {
    case 'and':
    case 'or': {
      const l = compileLabelFilter(expr.left, inSelector);
      const r = compileLabelFilter(expr.right, inSelector);
      const names = [...new Set([...l.names, ...r.names])];
      const lt = l.test;
      const rt = r.test;
      const test: LabelPredicate =
        expr.kind === 'or'
          ? (b) => lt(b) || rt(b)
          : (b) => {
              const a = lt(b);
              const c = rt(b);
              return a && c;
            };
      return { test, names, noop: false, single: null };
    }
    case 'matcher': {
      const { test, noop } = matcherFilter(expr.matcher);
      return { test, names: [expr.matcher.name], noop, single: expr.matcher.name };
    }
    case 'number':
      return { test: conversionFilter(expr.name, expr.op, expr.value, parseGoFloat), names: [expr.name], noop: false, single: expr.name };
    case 'duration':
      return {
        test: conversionFilter(expr.name, expr.op, Math.round(expr.value * 1e9), parseGoDuration),
        names: [expr.name],
        noop: false,
        single: expr.name,
      };
    case 'bytes':
      return {
        test: conversionFilter(expr.name, expr.op, inSelector ? bytesAfterRoundTrip(expr.value) : expr.value, parseHumanBytes),
        names: [expr.name],
        noop: false,
        single: expr.name,
      };
    case 'ip': {
      const ip = compileIpFilter(expr.pattern);
      const name = expr.name;
      const negate = expr.negate;
      const test: LabelPredicate = (b) => {
        if (b.err !== '') return true;
        const v = b.get(name);
        if (v === undefined) return false;
        return ip(v) !== negate;
      };
      return { test, names: [name], noop: false, single: name };
    }
  }
}

/** A `| <label filter>` stage. */
export function labelFilterStage(f: CompiledLabelFilter): Stage {
  const test = f.test;
  return { process: (_ts, line, b) => (test(b) ? line : null) };
}
