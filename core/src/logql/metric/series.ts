/**
 * The values metric evaluation passes around: series aligned to the step grid (one value per
 * evaluation time, with a presence flag), their label sets, and the helpers every operator shares
 * (label keys, Prometheus's label order, `by`/`without` projections).
 */
import { sortedLabelPairs, type Labels } from '../../labels';

/** One series over the grid: `values[k]` counts only where `present[k]` is 1. */
export interface GridSeries {
  readonly labels: Labels;
  readonly values: Float64Array;
  readonly present: Uint8Array;
}

/** A vector per evaluation time, as series over the grid; two series may share labels (label_replace can merge them). */
export type Matrix = GridSeries[];

/** An empty series of `length` points. */
export function emptySeries(labels: Labels, length: number): GridSeries {
  return { labels, values: new Float64Array(length), present: new Uint8Array(length) };
}

/** True when the series has a value at some evaluation time. */
export function hasPoints(s: GridSeries): boolean {
  return s.present.includes(1);
}

/** Maps UTF-16 code units so that comparing them orders strings by code point, as Go compares UTF-8. */
function codePointOrder(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

/** Go's string order (bytes of UTF-8, which is code point order). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return codePointOrder(ca) - codePointOrder(cb);
  }
  return a.length - b.length;
}

/** Prometheus's `labels.Compare`: label by label in name order, name then value, a prefix first. */
function compareLabelPairs(a: readonly [string, string][], b: readonly [string, string][]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const [an, av] = a[i]!;
    const [bn, bv] = b[i]!;
    if (an !== bn) return compareStrings(an, bn);
    if (av !== bv) return compareStrings(av, bv);
  }
  return a.length - b.length;
}

/** Sorts items by their labels in Prometheus's order (stable). */
export function sortByLabels<T>(items: T[], labelsOf: (item: T) => Labels): T[] {
  const pairs = new Map<T, [string, string][]>();
  for (const item of items) pairs.set(item, sortedLabelPairs(labelsOf(item)));
  return items.sort((x, y) => compareLabelPairs(pairs.get(x)!, pairs.get(y)!));
}

/** Only the labels named in `names` (`by`, `on`). */
export function keepLabels(labels: Labels, names: readonly string[]): Labels {
  const out: Labels = {};
  for (const n of names) if (labels[n] !== undefined) out[n] = labels[n]!;
  return out;
}

/** Every label but those named in `names` (`without`, `ignoring`). */
export function dropLabels(labels: Labels, names: readonly string[]): Labels {
  const out: Labels = { ...labels };
  for (const n of names) delete out[n];
  return out;
}
