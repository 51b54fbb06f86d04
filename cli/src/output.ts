/** How the CLI prints: entries in its four formats, with a colour per stream on a terminal, tables, and sparklines. */
import { labelsText, type Entry, type MetricSeries } from '../../client/src';

export { labelsText };

/** Output formats of entries. */
export type EntryFormat = 'default' | 'raw' | 'jsonl' | 'json';

/** Where the CLI writes, and whether it is a terminal. */
export interface Out {
  write(text: string): void;
  isTTY: boolean;
}

const COLOURS = [36, 33, 35, 32, 34, 31, 96, 93, 95, 92, 94, 91];

/** RFC 3339 with nanoseconds of a ns timestamp. */
export function isoNs(ts: bigint): string {
  const ms = ts / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 19)}.${(((ts % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** Prints entries as they come; `finish` closes a JSON array. */
export class EntryPrinter {
  private readonly colours = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly out: Out,
    private readonly format: EntryFormat,
  ) {}

  print(e: Entry): void {
    this.count++;
    const body = (): Record<string, unknown> => ({ ts: e.ts.toString(), labels: e.labels, line: e.line, ...(e.attrs === undefined ? {} : { attrs: e.attrs }) });
    switch (this.format) {
      case 'raw':
        return this.out.write(e.line + '\n');
      case 'jsonl':
        return this.out.write(JSON.stringify(body()) + '\n');
      case 'json':
        return this.out.write((this.count === 1 ? '[\n' : ',\n') + JSON.stringify(body()));
      default: {
        const labels = labelsText(e.labels);
        let colour = this.colours.get(labels);
        if (colour === undefined) this.colours.set(labels, (colour = COLOURS[this.colours.size % COLOURS.length]!));
        const attrs = e.attrs === undefined ? '' : ' ' + Object.entries(e.attrs).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
        const head = `${isoNs(e.ts)} ${labels}`;
        this.out.write((this.out.isTTY ? `\x1b[${colour}m${head}\x1b[0m` : head) + ` ${e.line}${attrs}\n`);
      }
    }
  }

  finish(): void {
    if (this.format === 'json') this.out.write(this.count === 0 ? '[]\n' : '\n]\n');
  }
}

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of `values`, scaled between their min and max. */
export function sparkline(values: readonly number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return values.map((v) => (Number.isFinite(v) ? BARS[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))]! : ' ')).join('');
}

/** Metric series: on a terminal one sparkline a series with its last and largest value; otherwise (or with `table`) one row a point. */
export function printMetric(out: Out, series: readonly MetricSeries[], format: EntryFormat | 'table'): void {
  if (format === 'json' || format === 'jsonl') {
    const rows = series.map((s) => ({ labels: s.labels, points: s.points.map(([t, v]) => [t.toString(), v]) }));
    if (format === 'json') out.write(JSON.stringify(rows, null, 2) + '\n');
    else for (const r of rows) out.write(JSON.stringify(r) + '\n');
    return;
  }
  if (out.isTTY && format !== 'table') {
    const width = Math.max(0, ...series.map((s) => labelsText(s.labels).length));
    for (const s of series) {
      const values = s.points.map(([, v]) => v);
      out.write(`${labelsText(s.labels).padEnd(width)}  ${sparkline(values)}  last ${values[values.length - 1] ?? '-'}  max ${values.length === 0 ? '-' : Math.max(...values)}\n`);
    }
    return;
  }
  const rows = series.flatMap((s) => s.points.map(([t, v]) => [isoNs(t), labelsText(s.labels), String(v)]));
  const header = ['time', 'series', 'value'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) out.write(r.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n');
}
