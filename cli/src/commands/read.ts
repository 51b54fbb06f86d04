/** `silt query`, `silt tail`, `silt labels`, `silt series`, `silt stats`: reads, printed as the output options say. */
import type { ClusterNode, RangeOptions, SiltClient } from '../../../client/src';
import { parseExpr } from '../../../core/src/logql/parser';
import { COMMON_HELP, oneOf, positiveInt, UsageError } from '../args';
import { EntryPrinter, labelsText, printMetric, type EntryFormat, type Out } from '../output';

/** Help of the read commands. */
export const READ_HELP: Record<string, string> = {
  query: `usage: silt query '<logql>' [--since 1h | --from T --to T] [--limit N] [--forward] [--output …]

A log query prints entries (newest first unless --forward), paging past one page by cursor;
a metric query prints each series as a sparkline on a terminal, else a table.
  --since DURATION   the range back from now (default 1h)
  --from T, --to T   the range's ends: RFC 3339, an integer in s/ms/µs/ns, or now-1h style
  --limit N          entries at most (default 100)
  --forward          oldest first
  --step DURATION    a metric query's step (default Loki's)
  --output FORMAT    default, raw (lines only), jsonl, json; a metric query also takes table
${COMMON_HELP}`,
  tail: `usage: silt tail '<logql>' [--since DURATION] [--output …]

Prints entries as they are pushed, until interrupted; resumes after a dropped connection (or a
restarted query service) without a gap or a duplicate.
  --since DURATION   replay entries from this long ago first (default: from now)
  --output FORMAT    default, raw, jsonl
${COMMON_HELP}`,
  labels: `usage: silt labels [name] [--since DURATION | --from T --to T]

Label names, or the values of label <name>, one a line.
${COMMON_HELP}`,
  series: `usage: silt series '<selector>' [--since DURATION | --from T --to T] [--output default|json]

The label sets of the streams the selector matches, one a line.
${COMMON_HELP}`,
  stats: `usage: silt stats [--output default|json]

The cluster as the query service sees it: each storage node, and each partition with its holders
per replica group and how far each is behind the end of the logs topic.
${COMMON_HELP}`,
};

/** The range options of a command. */
export function rangeOf(values: { since?: string; from?: string; to?: string }, defaultSince = '1h'): RangeOptions {
  if (values.since !== undefined && (values.from !== undefined || values.to !== undefined)) throw new UsageError('--since and --from/--to do not go together');
  if (values.from !== undefined || values.to !== undefined) return { ...(values.from === undefined ? { since: defaultSince } : { start: values.from }), ...(values.to === undefined ? {} : { end: values.to }) };
  return { since: values.since ?? defaultSince };
}

function oneQuery(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`silt ${command} takes one query, in quotes (got ${positionals.length})`);
  return positionals[0]!;
}

/** `silt query`; returns the exit code. */
export async function query(client: SiltClient, positionals: string[], values: Record<string, string | boolean | undefined>, out: Out): Promise<number> {
  const logql = oneQuery(positionals, 'query');
  const range = rangeOf(values as { since?: string });
  const expr = parseExpr(logql);
  if (expr.kind !== 'log') {
    const format = oneOf('output', values.output as string | undefined, ['default', 'table', 'json', 'jsonl'], 'default');
    const series = await client.metric(logql, { ...range, ...(values.step === undefined ? {} : { step: values.step as string }) });
    printMetric(out, series, format);
    return 0;
  }
  const format = oneOf<EntryFormat>('output', values.output as string | undefined, ['default', 'raw', 'jsonl', 'json'], 'default');
  const printer = new EntryPrinter(out, format);
  const limit = positiveInt('limit', values.limit as string | undefined, 100);
  for await (const e of client.entries(logql, { ...range, limit, pageSize: Math.min(limit, 1000), direction: values.forward === true ? 'forward' : 'backward' })) printer.print(e);
  printer.finish();
  return 0;
}

/** `silt tail`; runs until `signal` aborts. */
export async function tail(client: SiltClient, positionals: string[], values: Record<string, string | boolean | undefined>, out: Out, err: Out, signal: AbortSignal): Promise<number> {
  const logql = oneQuery(positionals, 'tail');
  const format = oneOf<EntryFormat>('output', values.output as string | undefined, ['default', 'raw', 'jsonl'], 'default');
  const printer = new EntryPrinter(out, format);
  const since = values.since as string | undefined;
  const start = since === undefined ? undefined : `now-${since}`;
  for await (const e of client.tail(logql, { ...(start === undefined ? {} : { start }), signal, onReconnect: (n, why) => err.write(`tail: connection lost (${why}); resuming (attempt ${n})\n`) })) printer.print(e);
  return 0;
}

/** `silt labels [name]`. */
export async function labels(client: SiltClient, positionals: string[], values: Record<string, string | boolean | undefined>, out: Out): Promise<number> {
  if (positionals.length > 1) throw new UsageError('silt labels takes at most one label name');
  const range = rangeOf(values as { since?: string });
  const names = positionals.length === 0 ? await client.labels(range) : await client.labelValues(positionals[0]!, range);
  for (const n of names) out.write(n + '\n');
  return 0;
}

/** `silt series '<selector>'`. */
export async function series(client: SiltClient, positionals: string[], values: Record<string, string | boolean | undefined>, out: Out): Promise<number> {
  const selector = oneQuery(positionals, 'series');
  const format = oneOf('output', values.output as string | undefined, ['default', 'json'], 'default');
  const found = await client.series(selector, rangeOf(values as { since?: string }));
  if (format === 'json') out.write(JSON.stringify(found, null, 2) + '\n');
  else for (const s of found) out.write(labelsText(s) + '\n');
  return 0;
}

/** One row of `silt stats`'s partition table. */
interface Holder {
  node: ClusterNode;
  applied: bigint;
  catchingUp: boolean;
}

/** `silt stats`. */
export async function stats(client: SiltClient, values: Record<string, string | boolean | undefined>, out: Out): Promise<number> {
  const format = oneOf('output', values.output as string | undefined, ['default', 'json'], 'default');
  const { nodes, topicEnds } = await client.cluster();
  if (format === 'json') {
    out.write(JSON.stringify({ nodes, topicEnds }, null, 2) + '\n');
    return 0;
  }
  out.write(`${nodes.length} storage node${nodes.length === 1 ? '' : 's'}\n`);
  for (const n of [...nodes].sort((a, b) => a.replicaGroup - b.replicaGroup || (a.nodeId < b.nodeId ? -1 : 1))) {
    out.write(`  ${n.nodeId}  group ${n.replicaGroup}  ${n.url}  ${n.partitions.length} partitions${n.partitions.some((p) => p.catchingUp) ? ' (catching up)' : ''}\n`);
  }
  const byPartition = new Map<number, Holder[]>();
  for (const n of nodes) for (const p of n.partitions) byPartition.set(p.partition, [...(byPartition.get(p.partition) ?? []), { node: n, applied: BigInt(p.appliedOffset), catchingUp: p.catchingUp }]);
  const parts = new Set([...byPartition.keys(), ...Object.keys(topicEnds ?? {}).map(Number)]);
  out.write(topicEnds === undefined ? 'partitions (Kafka did not answer: lag unknown)\n' : 'partitions (lag: Kafka offsets, i.e. blocks, behind the end of the logs topic)\n');
  for (const p of [...parts].sort((a, b) => a - b)) {
    const end = topicEnds?.[String(p)];
    const holders = (byPartition.get(p) ?? []).sort((a, b) => a.node.replicaGroup - b.node.replicaGroup);
    const cells = holders.map((h) => `group ${h.node.replicaGroup}: ${h.node.nodeId} at ${h.applied}${end === undefined ? '' : `, lag ${BigInt(end) - h.applied}`}${h.catchingUp ? ', catching up' : ''}`);
    out.write(`  ${String(p).padStart(3)}  end ${end ?? '?'}  ${cells.length === 0 ? 'NO HOLDER' : cells.join('; ')}\n`);
  }
  return 0;
}
