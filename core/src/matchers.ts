/** Label matchers of a stream selector (`=`, `!=`, `=~`, `!~`), compiled once and applied to label sets. */
import { BadRequestError } from './errors';
import type { Labels } from './labels';

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

/** Leading RE2 flag groups that compileMatcher honours: `(?i)` (case-insensitive) and `(?s)` (already the default). */
const LEADING_FLAGS_RE = /^(?:\(\?[is]*\))+/;

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
      // RE2 flag groups at the very start (`(?i)api`) become RegExp flags: JavaScript has no inline flags.
      const lead = LEADING_FLAGS_RE.exec(m.value);
      const body = lead === null ? m.value : m.value.slice(lead[0].length);
      try {
        re = new RegExp(`^(?:${body})$`, lead !== null && lead[0].includes('i') ? 'is' : 's');
      } catch (err) {
        throw new BadRequestError('SILT_BAD_QUERY', `invalid regex for label ${m.name}: ${(err as Error).message}`, { label: m.name });
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
