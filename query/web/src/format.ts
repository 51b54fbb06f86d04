/** Text forms the explorer shows. */

export { labelsText } from '../../../client/src/labels';

/** A ns timestamp as local date and time with milliseconds. */
export function timeText(ts: bigint): string {
  const d = new Date(Number(ts / 1_000_000n));
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Whether a LogQL text is a log query (a selector, then a pipeline) rather than a metric query. */
export function isLogQuery(q: string): boolean {
  return q.trim().startsWith('{');
}
