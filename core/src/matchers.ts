/** Label matchers of a stream selector (`=`, `!=`, `=~`, `!~`), compiled once and applied to label sets. */
import { BadRequestError } from './errors';
import type { Labels } from './labels';
import { compileRe2 } from './logql/re2';

/** The four matcher operators of LogQL stream selectors. */
export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One label matcher as written in a selector. */
export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** A matcher ready to apply: regexes compiled, fully anchored as LogQL anchors selector regexes. */
export interface CompiledMatcher extends LabelMatcher {
  test(value: string): boolean;
}

/** Compiles a matcher; an invalid regex is a 400 naming it. */
export function compileMatcher(m: LabelMatcher): CompiledMatcher {
  switch (m.op) {
    case '=':
      return { ...m, test: (v) => v === m.value };
    case '!=':
      return { ...m, test: (v) => v !== m.value };
    case '=~':
    case '!~': {
      let re: RegExp;
      // RE2's meaning, fully anchored, `.` matching newlines too: what Prometheus and Loki label matchers compile (`^(?s:…)$`).
      try {
        re = compileRe2(`(?s)${m.value}`, `the matcher of label ${m.name}`, { anchored: true });
      } catch (err) {
        if (!(err instanceof BadRequestError)) throw err;
        throw new BadRequestError('SILT_BAD_QUERY', err.message, { label: m.name });
      }
      return m.op === '=~' ? { ...m, test: (v) => re.test(v) } : { ...m, test: (v) => !re.test(v) };
    }
  }
}

/** True when `labels` satisfy every matcher; an absent label reads as the empty string, as in Prometheus and Loki. */
export function matchesAll(matchers: readonly CompiledMatcher[], labels: Labels): boolean {
  for (const m of matchers) if (!m.test(labels[m.name] ?? '')) return false;
  return true;
}
