/**
 * Sample extraction for range aggregations, as Loki's extractors compute it per entry: after the
 * pipeline, the value is 1 (count_over_time, rate, absent_over_time), the line's UTF-8 length
 * (bytes_*), or the unwrapped label converted (float, Go duration in seconds, bytes). A label that
 * is absent or "" gives no sample; a value that does not convert gives 0 with
 * `__error__="SampleExtractionErr"`; the post-unwrap filters then run. The series labels are the
 * entry's labels grouped by the aggregation's `by`/`without` (without a grouping an unwrap drops
 * the unwrapped label); an entry with an error keeps all its labels, so the engine can report it.
 *
 * Like Loki, the extractor tells the parsers which labels the query needs (the grouping, the
 * unwrapped label and the labels stages read): `sum(count_over_time({…} | json [5m]))` parses
 * nothing (and so raises no parse errors), and `json` stops at the last label needed.
 */
import type { Labels } from '../labels';
import type { Grouping, LabelFilterExpr, RangeAggregationExpr, UnwrapConversion, VectorAggregationExpr } from './ast';
import { compileStages, earlyFilters, runStages, stagesToRun, type CompileOptions } from './pipeline';
import { ConversionError, durationSeconds, parseGoDuration, parseGoFloat, parseHumanBytes } from './stages/convert';
import { compileLabelFilter, type CompiledLabelFilter } from './stages/label-filter';
import { DUPLICATE_SUFFIX, ERROR_LABEL, LabelsBuilder, ParserHints, PipelineError, type LabelPredicate } from './stages/labels-builder';

/** One sample of a range aggregation's input: the series labels and the value. */
export interface ExtractedSample {
  labels: Labels;
  value: number;
}

/** A compiled sample extractor. */
export interface SampleExtractor {
  /** Runs the pipeline over one entry and extracts its sample; null when the entry gives none. */
  run(ts: bigint, line: string, stream: Labels, metadata: Labels | undefined): ExtractedSample | null;
}

const NO_LABELS: Labels = Object.freeze({}) as Labels;
const EMPTY_FILTERS = new Map<string, LabelPredicate>();

/** Loki's NewParserHint. */
function parserHints(required: readonly string[], groups: readonly string[], without: boolean, noLabels: boolean, metricLabel: string, filters: readonly CompiledLabelFilter[]): ParserHints {
  const all: string[] = [];
  for (const l of [...required, ...groups, metricLabel]) {
    all.push(l);
    if (l.endsWith(DUPLICATE_SUFFIX)) all.push(l.slice(0, -DUPLICATE_SUFFIX.length));
  }
  const hints = [...new Set(all.filter((l) => l !== ''))];
  const early = earlyFilters(filters);
  if (noLabels) {
    if (hints.length > 0) return new ParserHints(hints, false, hints.includes(ERROR_LABEL), early);
    return new ParserHints([], true, false, EMPTY_FILTERS);
  }
  if (without || groups.length === 0) return ParserHints.filtersOnly(early);
  return new ParserHints(hints, false, hints.includes(ERROR_LABEL), EMPTY_FILTERS);
}

/** The series labels of an entry, as Loki's GroupedLabels computes them. */
function groupedLabels(b: LabelsBuilder, groups: readonly string[], without: boolean, noLabels: boolean): Labels {
  if (b.err !== '') return b.labels();
  if (noLabels) return NO_LABELS;
  const stream = b.stream;
  const untouched = b.deleted.length === 0 && b.metadata.size === 0 && b.parsed.size === 0;
  if (groups.length === 0) return untouched ? stream : b.labels();
  const out: Labels = {};
  if (untouched) {
    for (const name in stream) {
      if (!Object.prototype.hasOwnProperty.call(stream, name)) continue;
      if (groups.includes(name) !== without) out[name] = stream[name]!;
    }
    return out;
  }
  if (without) {
    for (const name in stream) {
      if (!Object.prototype.hasOwnProperty.call(stream, name)) continue;
      if (b.deleted.includes(name) || b.metadata.has(name) || b.parsed.has(name) || groups.includes(name)) continue;
      out[name] = stream[name]!;
    }
    for (const list of [b.metadata, b.parsed]) {
      for (let i = 0; i < list.size; i++) if (!groups.includes(list.name(i))) out[list.name(i)] = list.value(i);
    }
    return out;
  }
  for (const g of groups) {
    if (b.deleted.includes(g)) continue;
    const added = b.metadata.get(g) ?? b.parsed.get(g);
    if (added !== undefined) out[g] = added;
    else if (Object.prototype.hasOwnProperty.call(stream, g) && stream[g] !== '') out[g] = stream[g]!;
  }
  return out;
}

function converter(c: UnwrapConversion): (s: string) => number {
  switch (c) {
    case 'bytes':
      return parseHumanBytes;
    case 'duration':
    case 'duration_seconds':
      return (s) => durationSeconds(parseGoDuration(s));
    case 'none':
      return parseGoFloat;
  }
}

/** Loki's ReduceAndLabelFilter of the post-unwrap filters. */
function reduceAnd(filters: readonly LabelFilterExpr[]): LabelFilterExpr | null {
  if (filters.length === 0) return null;
  return filters.slice(1).reduce<LabelFilterExpr>((left, right) => ({ kind: 'and', left, right }), filters[0]!);
}

/**
 * The grouping Loki pushes from a vector aggregation into the range aggregation below it (for
 * `sum` over count/rate/bytes/sum_over_time without a grouping of its own), or null. Pass it to
 * compileSampleExtractor as `injected`: it changes which labels the parsers extract (and so which parse errors
 * arise), as in Loki; the series it gives are already grouped as the `sum` groups them.
 */
export function injectedGrouping(vector: VectorAggregationExpr): Grouping | null {
  const r = vector.expr;
  if (vector.op !== 'sum' || r.kind !== 'range_agg' || r.grouping !== null) return null;
  const ops = ['bytes_over_time', 'bytes_rate', 'sum_over_time', 'rate', 'count_over_time'];
  return ops.includes(r.op) ? (vector.grouping ?? { without: false, labels: [] }) : null;
}

/** Compiles a LogRange (+ its range op) into a per-entry sample extractor: value 1 for count/rate/absent, the line's UTF-8 bytes for bytes_*, the unwrapped label's value (converted: float / Go duration in seconds / bytes) for unwrap ops, with the unwrapped label removed from the series labels, post-unwrap filters applied, and conversion failures marked __error__="SampleExtractionErr" as Loki does; grouping of range aggregations (`... by (x)`) applied to the labels. */
export function compileSampleExtractor(expr: RangeAggregationExpr, injected: Grouping | null = null, options: CompileOptions = {}): SampleExtractor {
  let groups: string[] = [];
  let without = false;
  let noLabels = false;
  for (const g of [expr.grouping, injected]) {
    if (g === null) continue;
    groups = [...g.labels];
    without = g.without;
    noLabels = !g.without && g.labels.length === 0;
  }
  if (expr.op === 'absent_over_time') noLabels = true;
  groups.sort();
  const compiled = compileStages(stagesToRun(expr.range.selector.pipeline, options));
  const stages = compiled.stages;
  const unwrap = expr.range.unwrap;

  if (unwrap === null) {
    const b = new LabelsBuilder(parserHints(compiled.required, groups, without, noLabels, '', compiled.labelFilters));
    const bytes = expr.op === 'bytes_over_time' || expr.op === 'bytes_rate';
    return {
      run(ts, line, stream, metadata) {
        b.reset(stream, metadata);
        const out = runStages(stages, ts, line, b);
        if (out === null) return null;
        return { labels: groupedLabels(b, groups, without, noLabels), value: bytes ? Buffer.byteLength(out) : 1 };
      },
    };
  }

  const label = unwrap.label;
  if (groups.length === 0 || without) {
    without = true;
    groups.push(label);
    groups.sort();
  }
  const postExpr = reduceAnd(unwrap.postFilters);
  const post = postExpr === null ? null : compileLabelFilter(postExpr, false);
  const filters = post === null ? compiled.labelFilters : [...compiled.labelFilters, post];
  const required = post === null ? compiled.required : [...compiled.required, ...post.names];
  const b = new LabelsBuilder(parserHints(required, groups, without, noLabels, label, filters));
  const convert = converter(unwrap.conversion);
  const postTest = post?.test ?? null;
  return {
    run(ts, line, stream, metadata) {
      b.reset(stream, metadata);
      if (runStages(stages, ts, line, b) === null) return null;
      const s = b.get(label) ?? '';
      if (s === '') return null;
      let value = 0;
      try {
        value = convert(s);
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
        b.err = PipelineError.sampleExtraction;
        b.errDetails = err.message;
      }
      if (postTest !== null && !postTest(b)) return null;
      return { labels: groupedLabels(b, groups, without, noLabels), value };
    },
  };
}

/** How the samples of a bare selector's entries without structured metadata follow from their stream. */
export interface StreamSamples {
  /** The series labels of the stream's entries. */
  labelsOf(stream: Labels): Labels;
  /** True when a sample's value is its line's UTF-8 length, else 1. */
  bytes: boolean;
}

/**
 * For a range aggregation whose samples depend only on the stream and the line's length — no
 * pipeline stage and no unwrap: count_over_time, rate, absent_over_time and bytes_* of a bare
 * selector — the series labels of a stream's entries that carry no structured metadata (which
 * could add labels), and whether the value is the line's byte length (else 1). Null for any other
 * aggregation, whose samples need the extractor entry by entry.
 */
export function streamSamples(expr: RangeAggregationExpr, injected: Grouping | null = null): StreamSamples | null {
  if (expr.range.selector.pipeline.length > 0 || expr.range.unwrap !== null) return null;
  const extractor = compileSampleExtractor(expr, injected);
  // With no stage, the extractor keeps every entry and its labels ignore the line.
  return { labelsOf: (stream) => extractor.run(0n, '', stream, undefined)!.labels, bytes: expr.op === 'bytes_over_time' || expr.op === 'bytes_rate' };
}
