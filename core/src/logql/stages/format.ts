/**
 * `| line_format "…"` and `| label_format a=b, c="…"` as Loki runs them. line_format replaces the
 * line with the template's output over the entry's labels (a template that is only `{{.x}}` copies
 * the label, and gives "" when it is absent); an execution error keeps the line and marks the entry
 * `__error__="TemplateFormatErr"` with Go's message. label_format renames (`a=b` moves b to a) and
 * sets labels from templates; every template of one stage sees the labels as they were when the
 * stage's first template ran, and a failing template leaves its label unset.
 */
import { BadRequestError } from '../../errors';
import type { LabelFormatItem } from '../ast';
import { isTemplateExecError, Template, type FuncEnv } from '../template/template';
import { GoMap, type GoValue } from '../template/values';
import { ERROR_LABEL, PipelineError, type LabelsBuilder } from './labels-builder';
import type { Stage } from './stage';

/** The entry a template is executed for. */
class Env implements FuncEnv {
  currentLine = '';
  currentTs = 0n;

  line(): string {
    return this.currentLine;
  }

  timestamp(): bigint {
    return this.currentTs;
  }
}

/** Fills `into` with the entry's labels (errors included), as the map a template receives. */
function fillLabels(b: LabelsBuilder, into: Map<string, GoValue>): void {
  into.clear();
  const labels = b.labels();
  for (const name in labels) into.set(name, labels[name]!);
}

/** `| line_format "…"`. */
export class LineFormatStage implements Stage {
  /** The compiled template. */
  readonly template: Template;
  private readonly env = new Env();
  private readonly entries = new Map<string, GoValue>();
  private readonly data = new GoMap('string', this.entries);

  constructor(text: string) {
    this.template = new Template(text, 'line', 'invalid line template');
  }

  process(ts: bigint, line: string, b: LabelsBuilder): string | null {
    const key = this.template.simpleKey;
    if (key !== null) return b.get(key) ?? '';
    this.env.currentLine = line;
    this.env.currentTs = ts;
    fillLabels(b, this.entries);
    try {
      return this.template.execute(this.data, this.env);
    } catch (err) {
      if (!isTemplateExecError(err)) throw err;
      b.setError(PipelineError.templateFormat, err.message);
      return line;
    }
  }
}

interface LabelFormat {
  dst: string;
  rename: string | null;
  template: Template | null;
}

/** `| label_format …`. */
export class LabelFormatStage implements Stage {
  /** The compiled items. */
  readonly formats: LabelFormat[];
  private readonly env = new Env();
  private readonly entries = new Map<string, GoValue>();
  private readonly data = new GoMap('string', this.entries);

  constructor(items: readonly LabelFormatItem[]) {
    const seen = new Set<string>();
    for (const item of items) {
      if (item.dst === ERROR_LABEL) throw new BadRequestError('SILT_BAD_QUERY', `${ERROR_LABEL} cannot be formatted`);
      if (seen.has(item.dst)) throw new BadRequestError('SILT_BAD_QUERY', `multiple label name '${item.dst}' not allowed in a single format operation`);
      seen.add(item.dst);
    }
    this.formats = items.map((item) => ({
      dst: item.dst,
      rename: item.rename,
      template: item.rename === null ? new Template(item.template ?? '', 'label', `invalid template for label '${item.dst}'`) : null,
    }));
  }

  process(ts: bigint, line: string, b: LabelsBuilder): string | null {
    this.env.currentLine = line;
    this.env.currentTs = ts;
    this.entries.clear();
    for (const f of this.formats) {
      if (f.rename !== null) {
        const v = b.get(f.rename);
        if (v !== undefined) {
          b.setParsed(f.dst, v);
          b.del(f.rename);
        }
        continue;
      }
      if (this.entries.size === 0) fillLabels(b, this.entries);
      let out: string;
      try {
        out = f.template!.execute(this.data, this.env);
      } catch (err) {
        if (!isTemplateExecError(err)) throw err;
        b.setError(PipelineError.templateFormat, err.message);
        continue;
      }
      b.setParsed(f.dst, out);
    }
    return line;
  }
}
