/**
 * `label_replace(v, "dst", "replacement", "src", "regex")`: where the fully anchored RE2 `regex`
 * matches the value of `src` (empty when absent), `dst` becomes `replacement` with `$1`, `${1}`,
 * `$name`, `${name}` expanded as Go's `Regexp.Expand` does (`$$` is `$`, a name is the longest run
 * of letters, digits and `_`, an unknown group is empty, a malformed `$` stays); an empty result
 * removes `dst`. No match leaves the series as it is. Labels are rewritten once per series.
 */
import type { Labels } from '../../labels';
import type { LabelReplaceExpr } from '../ast';
import { compileRe2 } from '../re2';
import type { Matrix } from './series';

/** A character of a `$name` (Go: unicode.IsLetter, unicode.IsDigit, `_`). */
const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** Go's `Regexp.Expand` of `template` for one match. */
function expand(template: string, match: RegExpExecArray): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) break;
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const brace = template[i] === '{';
    let j = brace ? i + 1 : i;
    const nameStart = j;
    while (j < template.length) {
      const cp = template.codePointAt(j)!;
      const ch = String.fromCodePoint(cp);
      if (!NAME_CHAR.test(ch)) break;
      j += ch.length;
    }
    const name = template.slice(nameStart, j);
    if (name === '' || (brace && template[j] !== '}')) {
      out += '$';
      continue;
    }
    i = brace ? j + 1 : j;
    out += groupValue(name, match);
  }
  return out + template.slice(i);
}

/** The text of group `name` (a number without leading zeros, or a group name) in a match; empty when it did not take part. */
function groupValue(name: string, match: RegExpExecArray): string {
  if (/^(?:0|[1-9][0-9]{0,8})$/.test(name)) return match[Number(name)] ?? '';
  // The translator prefixes names that start with a digit, which JavaScript refuses.
  const jsName = /^[0-9]/.test(name) ? '_' + name : name;
  return match.groups?.[jsName] ?? '';
}

/** A function rewriting one label set as the expression says (a 400 for an invalid regex). */
export function compileLabelReplace(expr: LabelReplaceExpr): (labels: Labels) => Labels {
  const re = compileRe2(expr.regex, 'label_replace', { anchored: true });
  return (labels) => {
    const match = re.exec(labels[expr.src] ?? '');
    if (match === null) return labels;
    const value = expand(expr.replacement, match);
    const out: Labels = { ...labels };
    if (value === '') delete out[expr.dst];
    else out[expr.dst] = value;
    return out;
  };
}

/** Applies label_replace to every series (values and presence shared, never written). */
export function labelReplace(expr: LabelReplaceExpr, input: Matrix): Matrix {
  const rewrite = compileLabelReplace(expr);
  return input.map((s) => ({ labels: rewrite(s.labels), values: s.values, present: s.present }));
}
