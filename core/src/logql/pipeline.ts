/**
 * Log pipelines (`| json | status >= 500 | line_format "…"`) compiled once and run per entry, with
 * Loki's semantics throughout (stages in stages/, templates in template/). As Loki does, line
 * filters are first moved ahead of the parsers and formatters before them (not past a label
 * filter, `line_format` or `unpack`), so `| decolorize |= "x"` filters the coloured line; and the
 * first single-label filter on each label also runs inside the parsers, the moment they extract
 * that label (see ParserHints).
 */
import type { Labels } from '../labels';
import type { LineFilterStage, PipelineStage } from './ast';
import { decolorizeStage } from './stages/decolorize';
import { dropStage, keepStage } from './stages/drop-keep';
import { LabelFormatStage, LineFormatStage } from './stages/format';
import { JsonParamsStage, JsonStage } from './stages/json';
import { compileLabelFilter, labelFilterStage, type CompiledLabelFilter } from './stages/label-filter';
import { LabelsBuilder, ParserHints, type LabelPredicate } from './stages/labels-builder';
import { lineFilterStage } from './stages/line-filter';
import { LogfmtParamsStage, LogfmtStage } from './stages/logfmt';
import { PatternStage } from './stages/pattern';
import { RegexpStage } from './stages/regexp';
import type { Stage } from './stages/stage';
import { UnpackStage } from './stages/unpack';

/** The outcome of one entry through a pipeline: its line and full label set after every stage. */
export interface PipelineOutput {
  line: string;
  /** The entry's labels; when no stage changed them and there is no metadata, the stream's own object (do not mutate it). */
  labels: Labels;
}

/** A compiled pipeline. */
export interface Pipeline {
  /** Runs every stage over one entry (ts in ns; stream labels; structured metadata or undefined); null when a stage filters it out. The labels returned are the entry's full labels: stream labels + structured metadata + extracted labels (+ __error__/__error_details__), as Loki returns them. */
  run(ts: bigint, line: string, stream: Labels, metadata: Labels | undefined): PipelineOutput | null;
}

/** Loki's reordering of a pipeline: each run of line filters moves ahead of the stages before it, back to the last label filter, line_format or unpack. */
export function reorderStages(stages: readonly PipelineStage[]): PipelineStage[] {
  const out: PipelineStage[] = [];
  let lineFilters: LineFilterStage[] = [];
  let others: PipelineStage[] = [];
  const flush = () => {
    out.push(...lineFilters, ...others);
    lineFilters = [];
    others = [];
  };
  for (const s of stages) {
    switch (s.kind) {
      case 'label_filter':
        flush();
        out.push(s);
        break;
      case 'line_filter':
        lineFilters.push(s);
        break;
      case 'line_format':
      case 'unpack':
        others.push(s);
        flush();
        break;
      default:
        others.push(s);
    }
  }
  flush();
  return out;
}

/** The line filters a storage node can apply before decoding anything else: the leading run of line-filter stages (to push down). */
export function leadingLineFilters(stages: readonly PipelineStage[]): LineFilterStage[] {
  const out: LineFilterStage[] = [];
  for (const s of reorderStages(stages)) {
    if (s.kind !== 'line_filter') break;
    out.push(s);
  }
  return out;
}

/** Stages compiled, with what the parser hints need to know of them. */
export interface CompiledStages {
  stages: Stage[];
  /** Label names the stages read (label filters, templates, renames): Loki's RequiredLabelNames. */
  required: string[];
  /** The label filter stages, in order. */
  labelFilters: CompiledLabelFilter[];
}

/** Compiles stages (already reordered). */
export function compileStages(stages: readonly PipelineStage[]): CompiledStages {
  const out: Stage[] = [];
  const required: string[] = [];
  const labelFilters: CompiledLabelFilter[] = [];
  let run: LineFilterStage[] = [];
  const flushLineFilters = () => {
    if (run.length > 0) out.push(lineFilterStage(run));
    run = [];
  };
  for (const s of stages) {
    if (s.kind === 'line_filter') {
      run.push(s);
      continue;
    }
    flushLineFilters();
    switch (s.kind) {
      case 'json':
        out.push(s.params.length === 0 ? new JsonStage() : new JsonParamsStage(s.params));
        break;
      case 'logfmt':
        out.push(s.params.length === 0 ? new LogfmtStage(s.strict, s.keepEmpty) : new LogfmtParamsStage(s.params, s.strict));
        break;
      case 'regexp':
        out.push(new RegexpStage(s.pattern));
        break;
      case 'pattern':
        out.push(new PatternStage(s.pattern));
        break;
      case 'unpack':
        out.push(new UnpackStage());
        break;
      case 'line_format': {
        const st = new LineFormatStage(s.template);
        required.push(...st.template.fields());
        out.push(st);
        break;
      }
      case 'label_format': {
        const st = new LabelFormatStage(s.items);
        for (const f of st.formats) required.push(...(f.template === null ? [f.rename!] : f.template.fields()));
        out.push(st);
        break;
      }
      case 'label_filter': {
        const f = compileLabelFilter(s.expr, true);
        if (f.noop) break;
        required.push(...f.names);
        labelFilters.push(f);
        out.push(labelFilterStage(f));
        break;
      }
      case 'drop':
        out.push(dropStage(s.items));
        break;
      case 'keep':
        out.push(keepStage(s.items));
        break;
      case 'decolorize':
        out.push(decolorizeStage);
        break;
    }
  }
  flushLineFilters();
  return { stages: out, required, labelFilters };
}

/** The early filters of the hints: the first single-label filter on each label. */
export function earlyFilters(filters: readonly CompiledLabelFilter[]): Map<string, LabelPredicate> {
  const m = new Map<string, LabelPredicate>();
  for (const f of filters) if (f.single !== null && !m.has(f.single)) m.set(f.single, f.test);
  return m;
}

/** Runs compiled stages over one entry already loaded in `b`; the final line, or null when filtered out. */
export function runStages(stages: readonly Stage[], ts: bigint, line: string, b: LabelsBuilder): string | null {
  let l: string | null = line;
  for (let i = 0; i < stages.length; i++) {
    l = stages[i]!.process(ts, l, b);
    if (l === null) return null;
  }
  return l;
}

/** How a pipeline or sample extractor is compiled. */
export interface CompileOptions {
  /**
   * The caller already applied `leadingLineFilters` to every entry it passes (a storage node
   * filtering raw lines), so the compiled form skips them.
   */
  leadingLineFiltersApplied?: boolean;
}

/** The stages to compile: reordered as Loki does, without the leading line filters when the caller applied them. */
export function stagesToRun(stages: readonly PipelineStage[], options: CompileOptions): PipelineStage[] {
  const ordered = reorderStages(stages);
  if (!options.leadingLineFiltersApplied) return ordered;
  let i = 0;
  while (i < ordered.length && ordered[i]!.kind === 'line_filter') i++;
  return ordered.slice(i);
}

/** Compiles a log pipeline; invalid regexes, patterns and templates are 400s (SILT_BAD_QUERY). */
export function compilePipeline(stages: readonly PipelineStage[], options: CompileOptions = {}): Pipeline {
  const compiled = compileStages(stagesToRun(stages, options));
  const b = new LabelsBuilder(ParserHints.filtersOnly(earlyFilters(compiled.labelFilters)));
  const list = compiled.stages;
  return {
    run(ts, line, stream, metadata) {
      b.reset(stream, metadata);
      const out = runStages(list, ts, line, b);
      if (out === null) return null;
      return { line: out, labels: b.labels() };
    },
  };
}
