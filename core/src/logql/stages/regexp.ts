/**
 * `| regexp "…"`: the named groups of the first match become labels (a group that did not take
 * part is ""); no match sets nothing. Names are sanitized and get `_extracted` when taken.
 */
import { BadRequestError } from '../../errors';
import { compileRe2 } from '../re2';
import { DUPLICATE_SUFFIX, sanitizeLabelKey, type LabelsBuilder } from './labels-builder';
import type { Stage } from './stage';

/** `| regexp "…"`. */
export class RegexpStage implements Stage {
  private readonly re: RegExp;
  /** JavaScript group names in pattern order, with the label names Loki gives them. */
  private readonly groups: { group: string; label: string }[];

  constructor(pattern: string) {
    this.re = compileRe2(pattern, 'regexp parser');
    const names = Object.keys(new RegExp(`${this.re.source}|`, this.re.flags).exec('')?.groups ?? {});
    if (names.length === 0) throw new BadRequestError('SILT_BAD_QUERY', 'invalid regexp parser: at least one named capture must be supplied');
    this.groups = names.map((group) => ({ group, label: sanitizeLabelKey(group) })).filter((g) => g.label !== '');
  }

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    const m = this.re.exec(line);
    if (m === null) return line;
    const found = m.groups!;
    const hints = b.hints;
    for (const g of this.groups) {
      let key = g.label;
      if (b.taken(key)) key += DUPLICATE_SUFFIX;
      if (!hints.shouldExtract(key) || hints.extracted(key)) continue;
      b.setParsed(key, found[g.group] ?? '');
      if (!hints.shouldContinueParsingLine(key, b)) return null;
    }
    return line;
  }
}
