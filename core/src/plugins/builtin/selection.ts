/**
 * Which entries a pipeline rule acts on: a LogQL log query — a stream selector and optional line
 * filters, as Loki users write them (`{app="api"} |= "healthcheck"`).
 */
import { compileLineFilter, parseLogQuery } from '../../logql';
import type { Labels } from '../../labels';
import { compileMatcher, matchesAll, type CompiledMatcher } from '../../matchers';

/** A compiled selection. */
export interface Selection {
  /** True when a stream with these labels is selected. */
  stream(labels: Labels): boolean;
  /** True when a line of a selected stream is selected; null when every line is. */
  line: ((line: string) => boolean) | null;
}

/** Compiles the query text; throws (naming the problem) when it is not a selector with line filters. */
export function compileSelection(query: string): Selection {
  const q = parseLogQuery(query);
  const matchers: CompiledMatcher[] = q.matchers.map(compileMatcher);
  return { stream: (labels) => matchesAll(matchers, labels), line: compileLineFilter(q.filters) };
}
