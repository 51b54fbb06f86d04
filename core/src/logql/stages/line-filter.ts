/**
 * Line filters (`|= != |~ !~ |> !>`, with `or` alternatives and `ip("…")`) compiled into one test
 * over the line. Regexes go through Loki's simplification first (see regex-simplify.ts), then RE2
 * (re2.ts); patterns are Loki's pattern expressions.
 */
import { BadRequestError } from '../../errors';
import type { LineFilterStage } from '../ast';
import { compileRe2, translateRe2 } from '../re2';
import { compileIpFilter } from './ip';
import { PatternMatcher } from './pattern';
import { compileSimpleFilter, simplifyRegex } from './regex-simplify';
import type { Stage } from './stage';

/** A test over a string. */
export type TextTest = (s: string) => boolean;

/**
 * Compiles a regex as Loki's line filters (`isLabel` false, unanchored) or label filters (`isLabel`
 * true, matching the whole value) run it: simplified to substring tests where Loki does, else RE2.
 */
export function compileLokiRegex(pattern: string, isLabel: boolean, what: string): { test: TextTest; alwaysTrue: boolean } {
  const re = isLabel ? compileAnchoredRe2(pattern, what) : compileRe2(pattern, what);
  const simple = simplifyRegex(pattern, isLabel);
  if (simple !== null) return { test: compileSimpleFilter(simple), alwaysTrue: simple.k === 'true' };
  return { test: (s) => re.test(s), alwaysTrue: false };
}

/** An RE2 pattern that must match the whole text. */
function compileAnchoredRe2(pattern: string, what: string): RegExp {
  compileRe2(pattern, what);
  const t = translateRe2(pattern);
  try {
    return new RegExp(`^(?:${t.source})$`, t.flags);
  } catch (err) {
    throw new BadRequestError('SILT_BAD_QUERY', `invalid regex in ${what}: ${(err as Error).message}`);
  }
}

function compileOne(op: LineFilterStage['op'], value: string, ip: boolean): TextTest {
  if (ip) {
    if (op !== '|=' && op !== '!=') throw new BadRequestError('SILT_BAD_QUERY', 'ip: invalid operation');
    return compileIpFilter(value);
  }
  switch (op) {
    case '|=':
    case '!=':
      if (value === '') return () => true;
      return (s) => s.includes(value);
    case '|~':
    case '!~':
      return compileLokiRegex(value, false, `line filter ${op}`).test;
    case '|>':
    case '!>': {
      const m = PatternMatcher.forLineFilter(value);
      return (s) => m.test(s);
    }
  }
}

/** Compiles one line filter stage: a positive filter passes when any alternative matches, a negative one when none does. */
export function compileLineFilterTest(f: LineFilterStage): TextTest {
  const negative = f.op === '!=' || f.op === '!~' || f.op === '!>';
  const tests = f.values.map((v) => compileOne(f.op, v, f.ip));
  if (tests.length === 1) {
    const t = tests[0]!;
    return negative ? (s) => !t(s) : t;
  }
  if (negative) {
    return (s) => {
      for (let i = 0; i < tests.length; i++) if (tests[i]!(s)) return false;
      return true;
    };
  }
  return (s) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(s)) return true;
    return false;
  };
}

/** A stage running consecutive line filters (all must pass). */
export function lineFilterStage(filters: readonly LineFilterStage[]): Stage {
  const tests = filters.map(compileLineFilterTest);
  if (tests.length === 1) {
    const t = tests[0]!;
    return { process: (_ts, line) => (t(line) ? line : null) };
  }
  return {
    process: (_ts, line) => {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(line)) return null;
      return line;
    },
  };
}
