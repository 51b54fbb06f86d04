/**
 * Query planning: what of a log selector the storage nodes run (its matchers and the plain line
 * filters that lead its pipeline, in the text their read API takes) and what the query service
 * runs on the entries they return (the rest of the pipeline); and how to select every stream.
 */
import { formatLogQuery, type LineFilter } from '../../../core/src/logql';
import type { LabelMatcher, LogSelectorExpr, PipelineStage } from '../../../core/src/logql/ast';
import { reorderStages } from '../../../core/src/logql/pipeline';

/** A log selector split between the nodes and the query service. */
export interface NodeReadPlan {
  /** What `/internal/v1/read` is asked: `{matchers} |= "…" …`. */
  query: string;
  /** Stages the query service still runs, in order, on each entry the nodes return. */
  rest: PipelineStage[];
}

/** A line filter the nodes' read API runs as it is: one of its four operators, one value, no ip(). */
function nodeFilter(stage: PipelineStage): LineFilter | null {
  if (stage.kind !== 'line_filter' || stage.ip || stage.values.length !== 1) return null;
  if (stage.op === '|>' || stage.op === '!>') return null;
  return { op: stage.op, value: stage.values[0]! };
}

/**
 * Splits `selector`: its matchers and the plain line filters that lead its pipeline — once line
 * filters are moved ahead of the parsers before them, as Loki runs them — go to the nodes; the
 * rest stays.
 */
export function planNodeRead(selector: LogSelectorExpr): NodeReadPlan {
  const stages = reorderStages(selector.pipeline);
  const filters: LineFilter[] = [];
  let i = 0;
  for (; i < stages.length; i++) {
    const f = nodeFilter(stages[i]!);
    if (f === null) break;
    filters.push(f);
  }
  return { query: formatLogQuery({ matchers: selector.matchers, filters }), rest: stages.slice(i) };
}

/**
 * Selectors that together select every stream, each stream once, in the form the nodes accept (a
 * selector needs a matcher the empty string fails): for label names n0, n1, …, `{n0=~".+"}`,
 * `{n1=~".+", n0=""}`, `{n2=~".+", n0="", n1=""}` — every stream has a label, and falls in the
 * selector of its first one.
 */
export function everyStream(labelNames: readonly string[]): LabelMatcher[][] {
  return labelNames.map((name, i) => [{ name, op: '=~', value: '.+' }, ...labelNames.slice(0, i).map((n): LabelMatcher => ({ name: n, op: '=', value: '' }))]);
}
