/**
 * `| drop a, b="x"` and `| keep a, b=~"y"`. A name drops (or keeps) the label whatever its value; a
 * matcher only when the value matches (an absent label reads as ""). `drop __error__` clears the
 * error; `keep` never removes `__error__`, `__error_details__` or `__preserve_error__`.
 */
import type { LabelSelectItem } from '../ast';
import { compileMatcher, type CompiledMatcher } from '../../matchers';
import { ERROR_DETAILS_LABEL, ERROR_LABEL, PRESERVE_ERROR_LABEL } from './labels-builder';
import type { Stage } from './stage';

interface Item {
  name: string;
  matcher: CompiledMatcher | null;
}

function compileItems(items: readonly LabelSelectItem[]): Item[] {
  return items.map((i) => ({ name: i.matcher?.name ?? i.name, matcher: i.matcher === null ? null : compileMatcher(i.matcher) }));
}

/** `| drop …`. */
export function dropStage(items: readonly LabelSelectItem[]): Stage {
  const compiled = compileItems(items);
  return {
    process: (_ts, line, b) => {
      for (const { name, matcher } of compiled) {
        if (name === ERROR_LABEL) {
          if (matcher === null || matcher.test(b.err)) b.err = '';
        } else if (name === ERROR_DETAILS_LABEL) {
          if (matcher === null || matcher.test(b.errDetails)) b.errDetails = '';
        } else if (matcher === null) {
          if (b.get(name) !== undefined) b.del(name);
        } else if (matcher.test(b.get(name) ?? '')) {
          b.del(name);
        }
      }
      return line;
    },
  };
}

/** `| keep …`. */
export function keepStage(items: readonly LabelSelectItem[]): Stage {
  const compiled = compileItems(items);
  const current: [string, string][] = [];
  const collect = (name: string, value: string) => {
    current.push([name, value]);
  };
  return {
    process: (_ts, line, b) => {
      if (compiled.length === 0) return line;
      current.length = 0;
      b.forEach(collect);
      for (const [name, value] of current) {
        if (name === ERROR_LABEL || name === ERROR_DETAILS_LABEL || name === PRESERVE_ERROR_LABEL) continue;
        let keep = false;
        for (const item of compiled) {
          if (item.name === name && (item.matcher === null || item.matcher.test(value))) {
            keep = true;
            break;
          }
        }
        if (!keep) b.del(name);
      }
      return line;
    },
  };
}
