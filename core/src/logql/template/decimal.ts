/**
 * The decimal arithmetic of sprig's addf, subf, mulf and divf (shopspring/decimal): each operand is
 * the shortest decimal of its float64, sums and products are exact, quotients are rounded half away
 * from zero to 16 decimal places, and the result is the float64 nearest to the decimal.
 */
import { GoCallError } from './values';

/** coef × 10^exp. */
interface Decimal {
  coef: bigint;
  exp: number;
}

/** shopspring's NewFromFloat: the shortest decimal that reads back as `f`. */
function fromFloat(f: number): Decimal {
  if (!Number.isFinite(f)) throw new GoCallError(`Cannot create a Decimal from ${Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf'}`);
  if (f === 0) return { coef: 0n, exp: 0 };
  const [mant, e] = f.toExponential().split('e');
  const digits = mant!.replace('.', '').replace('-', '');
  const frac = mant!.includes('.') ? mant!.split('.')[1]!.length : 0;
  const coef = BigInt(digits) * (f < 0 ? -1n : 1n);
  return { coef, exp: Number(e) - frac };
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  if (a.exp === b.exp) return [a.coef, b.coef, a.exp];
  if (a.exp < b.exp) return [a.coef, b.coef * 10n ** BigInt(b.exp - a.exp), a.exp];
  return [a.coef * 10n ** BigInt(a.exp - b.exp), b.coef, b.exp];
}

const DIVISION_PRECISION = 16;

function divide(a: Decimal, b: Decimal): Decimal {
  if (b.coef === 0n) throw new GoCallError('decimal division by zero');
  // a / b = (a.coef / b.coef) × 10^(a.exp − b.exp), wanted at exponent −16.
  const shift = a.exp - b.exp + DIVISION_PRECISION;
  let num = a.coef;
  let den = b.coef;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  let q = num / den;
  const r = num - q * den;
  const absR2 = (r < 0n ? -r : r) * 2n;
  const absDen = den < 0n ? -den : den;
  if (absR2 >= absDen) q += (num < 0n) !== (den < 0n) ? -1n : 1n;
  return { coef: q, exp: -DIVISION_PRECISION };
}

function toFloat(d: Decimal): number {
  return Number(`${d.coef}e${d.exp}`);
}

/** The operations. */
export type DecimalOp = 'add' | 'sub' | 'mul' | 'div';

/** Folds `rest` into `first` with the operation, as sprig's execDecimalOp does. */
export function decimalFold(first: number, rest: readonly number[], op: DecimalOp): number {
  let acc = fromFloat(first);
  for (const x of rest) {
    const d = fromFloat(x);
    switch (op) {
      case 'add':
      case 'sub': {
        const [p, q, exp] = align(acc, d);
        acc = { coef: op === 'add' ? p + q : p - q, exp };
        break;
      }
      case 'mul':
        acc = { coef: acc.coef * d.coef, exp: acc.exp + d.exp };
        break;
      case 'div':
        acc = divide(acc, d);
        break;
    }
  }
  return toFloat(acc);
}
