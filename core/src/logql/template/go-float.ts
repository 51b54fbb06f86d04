/**
 * Go's float formatting (strconv.FormatFloat as fmt uses it): %v is the shortest 'g' with the
 * exponent form from 1e+06 up and below 1e-04 (`1.25e+07`, `8.98e-07`), and %e/%f/%g with a
 * precision round the exact binary value half to even, as Go does.
 */

/** Shortest round-trip digits of a positive finite float: value = 0.digits × 10^dp. */
function shortestDigits(f: number): { digits: string; dp: number } {
  const [mant, e] = f.toExponential().split('e');
  return { digits: mant!.replace('.', ''), dp: Number(e) + 1 };
}

const view = new DataView(new ArrayBuffer(8));

/** Exact decimal digits of a positive finite float: value = 0.digits × 10^dp, no trailing zeros. */
function exactDigits(f: number): { digits: string; dp: number } {
  view.setFloat64(0, f);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) {
    e = -1074;
  } else {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  let digits: string;
  let dp: number;
  if (e >= 0) {
    digits = (mant << BigInt(e)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e)).toString();
    dp = digits.length + e;
  }
  digits = digits.replace(/0+$/, '');
  return { digits: digits === '' ? '0' : digits, dp };
}

/** Rounds digits to `nd` significant digits, half to even on the exact value. */
function roundDigits(d: { digits: string; dp: number }, nd: number): { digits: string; dp: number } {
  if (nd < 0) return { digits: '', dp: d.dp };
  if (d.digits.length <= nd) return d;
  const next = d.digits.charCodeAt(nd) - 48;
  let up = next > 5;
  if (next === 5) {
    const rest = d.digits.slice(nd + 1);
    up = /[1-9]/.test(rest) || (nd > 0 && (d.digits.charCodeAt(nd - 1) - 48) % 2 === 1);
  }
  let kept = d.digits.slice(0, nd);
  let dp = d.dp;
  if (up) {
    let i = kept.length - 1;
    while (i >= 0 && kept[i] === '9') i--;
    if (i < 0) {
      kept = '1' + '0'.repeat(kept.length);
      dp++;
      kept = kept.slice(0, Math.max(nd, 1));
    } else {
      kept = kept.slice(0, i) + String.fromCharCode(kept.charCodeAt(i) + 1) + '0'.repeat(kept.length - i - 1);
    }
  }
  return { digits: kept, dp };
}

function expPart(exp: number, letter: string): string {
  const a = Math.abs(exp);
  return letter + (exp < 0 ? '-' : '+') + (a < 10 ? '0' : '') + a;
}

function eForm(digits: string, dp: number, prec: number, letter: string): string {
  const d = digits === '' ? '0' : digits;
  const exp = digits === '' || /^0*$/.test(digits) ? 0 : dp - 1;
  let mant = d[0]!;
  const frac = prec < 0 ? d.slice(1) : d.slice(1).padEnd(prec, '0');
  if (frac.length > 0) mant += '.' + frac;
  return mant + expPart(exp, letter);
}

function fForm(digits: string, dp: number, prec: number): string {
  let intPart: string;
  let frac: string;
  if (dp <= 0) {
    intPart = '0';
    frac = '0'.repeat(-dp) + digits;
  } else if (dp >= digits.length) {
    intPart = digits + '0'.repeat(dp - digits.length);
    frac = '';
  } else {
    intPart = digits.slice(0, dp);
    frac = digits.slice(dp);
  }
  if (intPart === '') intPart = '0';
  if (prec >= 0) frac = frac.padEnd(prec, '0').slice(0, prec);
  return frac.length > 0 ? `${intPart}.${frac}` : intPart;
}

/**
 * strconv.FormatFloat(f, fmt, prec, 64) for fmt in e E f g G (prec -1: shortest), without the
 * sign of NaN and infinities handled by the caller.
 */
export function formatGoFloat(f: number, fmt: 'e' | 'E' | 'f' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const neg = f < 0 || Object.is(f, -0);
  const a = Math.abs(f);
  const sign = neg ? '-' : '';
  const shortest = prec < 0;
  let d: { digits: string; dp: number };
  if (a === 0) d = { digits: '0', dp: 1 };
  else if (shortest) d = shortestDigits(a);
  else d = exactDigits(a);
  const letter = fmt === 'E' || fmt === 'G' ? 'E' : 'e';
  switch (fmt) {
    case 'e':
    case 'E': {
      if (!shortest && a !== 0) d = roundDigits(d, prec + 1);
      return sign + eForm(d.digits, d.dp, shortest ? -1 : prec, letter);
    }
    case 'f': {
      if (!shortest && a !== 0) d = roundDigits(d, d.dp + prec);
      return sign + fForm(d.digits === '' ? '0' : d.digits, d.digits === '' ? 1 : d.dp, shortest ? -1 : prec);
    }
    default: {
      let p = prec;
      if (!shortest) {
        if (p === 0) p = 1;
        if (a !== 0) d = roundDigits(d, p);
      }
      const digits = d.digits.replace(/0+$/, '') || '0';
      const nd = digits.length;
      const dp = a === 0 ? 1 : d.dp;
      if (shortest) p = nd;
      let eprec = p;
      if (eprec > nd && nd >= dp) eprec = nd;
      if (shortest) eprec = 6;
      const exp = dp - 1;
      if (exp < -4 || exp >= eprec) return sign + eForm(digits, dp, Math.min(p, nd) - 1, letter);
      return sign + fForm(digits, dp, Math.max((p > dp ? nd : p) - dp, 0));
    }
  }
}

/** fmt's %v of a float64. */
export function goFloatString(f: number): string {
  return formatGoFloat(f, 'g', -1);
}
