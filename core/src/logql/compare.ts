/** The numeric comparison shared by label filters (`| status >= 500`) and comparison operators between samples. */
import type { CompareOp } from './ast';

/** `a op b` for floats, with IEEE semantics (NaN compares false except with `!=`). */
export function compareNumbers(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}
