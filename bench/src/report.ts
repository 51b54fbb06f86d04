/** Renders a run's results as bench/RESULTS.md: one table per scenario, each figure with its target and its ratio to the physical limit. */
import { PROTOCOLS } from './protocol-bodies';
import type { BenchResults, CpuUse, LoadFigures, Memory, PluginFigures, ProtocolRun, ScaleFigures } from './results';

/** A target from the benchmark issue. */
interface Target {
  op: '>=' | '<=';
  value: number;
  /** Judge the worst value over all volumes (default), or only the largest volume's. */
  judge?: 'worst' | 'last';
}

/** One line of a table. */
interface Row {
  label: string;
  unit: string;
  values: (number | null | undefined)[];
  digits?: number;
  target?: Target;
  /** The physical limit the figure is bound by; the ratio is value ÷ limit. */
  limit?: { value: number; name: string };
}

const MIB = 1024 * 1024;
/** Peak RSS a service process may reach: the harness's first bound for every service, and storage engine v2's tighter one for storage nodes. */
const TARGET_RSS_MIB = 256;
const TARGET_STORAGE_RSS_MIB = 192;
/** The issue's protocol targets, as multiples of native JSON's entries/s. */
const TARGET_PROTOBUF_RATIO = 1.3;
const TARGET_PROTOCOL_RATIO = 0.8;
/** The issue's metric-query target, as a multiple of the line-filter scan's entries/s. */
const TARGET_METRIC_RATIO = 0.8;
/** The storage engine's targets (issue 10, VictoriaLogs' figures on this machine). */
const TARGET_RARE_SCAN_MS_AT_4M = 200;
const TARGET_COUNT_PER_STREAM_MS = 10;
const TARGET_NEEDLE_SPEEDUP = 20;
const TARGET_ONE_COPY_TO_ZSTD3 = 0.95;
const TARGET_KEPT_TO_ONE_COPY = 2.1;
/** Issue 11: auth, limits and pipeline rules together may cost ingest at most 5% of its entries/s. */
const TARGET_PLUGIN_RATIO = 0.95;

/** Labels every full run (`--scenario all`) must have in its tables; the smoke test checks them. */
export const REQUIRED_ROWS = [
  'zstd compress',
  'zstd decompress',
  'JSON.parse',
  'ingest: entries/s accepted',
  'ingest: raw MB/s accepted',
  'ingest: ack p50 at full load',
  'ingest: ack p99 at full load',
  'ingest: ack p50 at half rate',
  'ingest: ack p99 at half rate',
  'protocols: entries/s accepted',
  'protocols: raw MB/s accepted',
  'protocols: body bytes/entry',
  'protocols: ack p50 at full load',
  'protocols: ack p99 at full load',
  'protocols: CPU, ingest',
  'protocols: entries/s per ingest core',
  'protocols: entries/s ÷ native JSON',
  'protocols: protobuf entries/s ÷ native JSON',
  'e2e: entries/s stored in both replica groups',
  'e2e: load duration',
  'e2e: lag p50 at half rate',
  'e2e: lag p99 at half rate',
  'disk: Kafka bytes/entry',
  'disk: LevelDB bytes/entry, replica 0',
  'disk: LevelDB bytes/entry, replica 1',
  'disk: compression ratio, Kafka',
  'disk: compression ratio, LevelDB replica 0',
  'query (a) newest 100 of one stream: p50',
  'query (a) newest 100 of one stream: p99',
  'query (b) 1-minute window of one stream: p50',
  'query (b) 1-minute window of one stream: p99',
  'query (c) line-filter scan, all streams: p50',
  'query (c) line-filter scan, all streams: p99',
  'query (c) scan: entries scanned/s per storage node',
  'query (d) metric sum by (app) (count_over_time [1m]): p50',
  'query (d) metric sum by (app) (count_over_time [1m]): p99',
  'query (d) metric: entries aggregated/s per storage node',
  'query (d) metric: entries aggregated/s ÷ (c) scan',
  'tail: delivery p50 from push ack',
  'tail: delivery p99 from push ack',
  'memory: peak RSS ingest',
  'memory: peak RSS storage-0',
  'memory: peak RSS storage-1',
  'memory: peak RSS query',
  'memory: peak anonymous RSS ingest',
  'memory: peak anonymous RSS storage-0',
  'memory: peak anonymous RSS storage-1',
  'memory: peak anonymous RSS query',
  'memory: RSS file-backed at the end ingest',
  'memory: RSS file-backed at the end storage-0',
  'memory: RSS file-backed at the end storage-1',
  'memory: RSS file-backed at the end query',
];

function fmt(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function status(values: (number | null | undefined)[], t: Target): string {
  const known = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (known.length === 0) return 'n/a';
  const judged = t.judge === 'last' ? [known[known.length - 1]!] : known;
  const worst = t.op === '>=' ? Math.min(...judged) : Math.max(...judged);
  const met = t.op === '>=' ? worst >= t.value : worst <= t.value;
  if (met) return '**met**';
  const by = t.op === '>=' ? (t.value - worst) / t.value : (worst - t.value) / t.value;
  return `**missed** by ${fmt(by * 100)}% (${fmt(worst / t.value, 2)}× target)`;
}

function ratio(row: Row): string {
  if (!row.limit) return '—';
  const last = [...row.values].reverse().find((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (last === undefined) return 'n/a';
  return `${fmt(last / row.limit.value, 3)} of ${row.limit.name}`;
}

function table(headers: string[], rows: Row[]): string {
  const lines = [`| figure | ${headers.join(' | ')} | target | status | vs physical limit |`, `|---|${headers.map(() => '---:').join('|')}|---|---|---|`];
  for (const r of rows) {
    const target = r.target ? `${r.target.op === '>=' ? '≥' : '≤'} ${fmt(r.target.value, Number.isInteger(r.target.value) ? 0 : r.digits)}${r.unit ? ' ' + r.unit : ''}${r.target.judge === 'last' ? ' (largest volume)' : ''}` : '—';
    lines.push(`| ${r.label}${r.unit ? ` (${r.unit})` : ''} | ${r.values.map((v) => fmt(v, r.digits ?? 0)).join(' | ')} | ${target} | ${r.target ? status(r.values, r.target) : '—'} | ${ratio(r)} |`);
  }
  return lines.join('\n');
}

function cpuRows(prefix: string, cpus: (CpuUse | undefined)[]): Row[] {
  const names = [...new Set(cpus.flatMap((c) => Object.keys(c ?? {})))];
  return names.map((n) => ({ label: `${prefix} ${n}`, unit: 'cores', values: cpus.map((c) => c?.[n]), digits: 2 }));
}

function memoryRows(memories: Record<string, Memory>[], names: string[]): Row[] {
  const mib = (n: string, bytes: (m: Memory) => number | undefined): (number | null)[] => memories.map((m) => (m[n] ? (bytes(m[n]!) ?? NaN) / MIB : null));
  // The RSS target stays on VmHWM; the anonymous and file-backed rows explain that figure and carry none.
  const peaks = names.map((n) => ({
    label: `memory: peak RSS ${n}`,
    unit: 'MiB',
    values: mib(n, (m) => m.peak),
    digits: 0,
    ...(n === 'kafka' ? {} : { target: { op: '<=' as const, value: n.startsWith('storage') ? TARGET_STORAGE_RSS_MIB : TARGET_RSS_MIB } }),
  }));
  const sampled = names.filter((n) => memories.some((m) => m[n]?.anonPeak !== undefined));
  const anonPeaks = sampled.map((n) => ({ label: `memory: peak anonymous RSS ${n}`, unit: 'MiB', values: mib(n, (m) => m.anonPeak), digits: 0 }));
  const files = names.map((n) => ({ label: `memory: RSS file-backed at the end ${n}`, unit: 'MiB', values: mib(n, (m) => m.fileNow), digits: 0 }));
  return [...peaks, ...anonPeaks, ...files];
}

function ingestSection(r: BenchResults): string {
  const ing = r.ingest!;
  const L = r.limits;
  const full: LoadFigures = ing.full;
  const rows: Row[] = [
    { label: 'ingest: entries/s accepted', unit: 'entries/s', values: [full.entriesPerS], target: { op: '>=', value: 300_000 }, limit: { value: L.jsonParseLinesPerS, name: 'JSON.parse on 1 core' } },
    { label: 'ingest: raw MB/s accepted', unit: 'MB/s', values: [full.lineMBps], digits: 1, limit: { value: L.compressMBps, name: 'zstd compress on 1 core' } },
    { label: 'ingest: ack p50 at full load', unit: 'ms', values: [full.ack.p50], digits: 1 },
    { label: 'ingest: ack p99 at full load', unit: 'ms', values: [full.ack.p99], digits: 1 },
    { label: 'ingest: half rate offered', unit: 'entries/s', values: [ing.half.targetPerS] },
    { label: 'ingest: half rate achieved', unit: 'entries/s', values: [ing.half.entriesPerS] },
    { label: 'ingest: ack p50 at half rate', unit: 'ms', values: [ing.half.ack.p50], digits: 1 },
    { label: 'ingest: ack p99 at half rate', unit: 'ms', values: [ing.half.ack.p99], digits: 1, target: { op: '<=', value: 50 } },
    ...cpuRows('ingest: CPU at full load,', [full.cpu]),
    ...memoryRows([ing.memory], Object.keys(ing.memory)),
  ];
  const errors = Object.entries(full.errors).concat(Object.entries(ing.half.errors));
  return [
    '## Ingest (HTTP push → Kafka acknowledged; one ingest process, no storage node consuming)',
    '',
    `${fmt(full.entries)} entries in ${fmt(full.seconds, 1)} s at full load (${r.options.connections} keep-alive connections, closed loop), then ${fmt(ing.half.seconds, 1)} s open loop at half that rate.` +
      (errors.length ? ` Answers other than 200 (retried): ${errors.map(([s, n]) => `${s}×${n}`).join(', ')}.` : ''),
    '',
    table(['measured'], rows),
  ].join('\n');
}

/** The median of `values` (the mean of the middle two when there are an even number); NaN when there are none. */
function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function protocolsSection(r: BenchResults): string {
  const { runs, warmUpS } = r.protocols!;
  // One column per protocol, in the order of the first round (run.ts): each figure is the median of its runs.
  const protocols = [...new Set(runs.map((run) => run.protocol))];
  const runsOf = protocols.map((p) => runs.filter((run) => run.protocol === p));
  const rounds = Math.max(...runsOf.map((list) => list.length));
  const headers = protocols.map((p) => PROTOCOLS[p].name);
  const med = (figure: (run: ProtocolRun) => number): number[] => runsOf.map((list) => median(list.map(figure)));
  const rate = med((run) => run.entriesPerS);
  const reference = rate[protocols.indexOf('native')] ?? NaN;
  const ratios = rate.map((v) => v / reference);
  const rows: Row[] = [
    { label: 'protocols: entries/s accepted', unit: 'entries/s', values: rate },
    { label: 'protocols: entries/s accepted, slowest round', unit: 'entries/s', values: runsOf.map((list) => Math.min(...list.map((run) => run.entriesPerS))) },
    { label: 'protocols: entries/s accepted, fastest round', unit: 'entries/s', values: runsOf.map((list) => Math.max(...list.map((run) => run.entriesPerS))) },
    { label: 'protocols: raw MB/s accepted', unit: 'MB/s', values: med((run) => run.lineMBps), digits: 1 },
    { label: 'protocols: body bytes/entry', unit: 'B', values: med((run) => run.bodyBytesPerEntry), digits: 1 },
    { label: 'protocols: ack p50 at full load', unit: 'ms', values: med((run) => run.ack.p50), digits: 1 },
    { label: 'protocols: ack p99 at full load', unit: 'ms', values: med((run) => run.ack.p99), digits: 1 },
    ...cpuRows('protocols: CPU,', runsOf.map((list) => medianCpu(list.map((run) => run.cpu)))),
    // Steadier than entries/s when other work on the machine takes cores from ingest.
    { label: 'protocols: entries/s per ingest core', unit: 'entries/s', values: med((run) => run.entriesPerS / (run.cpu.ingest ?? NaN)) },
    { label: 'protocols: entries/s ÷ native JSON', unit: 'x', values: ratios, digits: 2, target: { op: '>=', value: TARGET_PROTOCOL_RATIO } },
    {
      label: 'protocols: protobuf entries/s ÷ native JSON',
      unit: 'x',
      values: protocols.map((p, i) => (PROTOCOLS[p].contentType === 'application/x-protobuf' ? ratios[i] : null)),
      digits: 2,
      target: { op: '>=', value: TARGET_PROTOBUF_RATIO },
    },
  ];
  const errors = headers.flatMap((header, i) => {
    const counts = new Map<string, number>();
    for (const run of runsOf[i]!) for (const [status, n] of Object.entries(run.errors)) counts.set(status, (counts.get(status) ?? 0) + n);
    return [...counts].map(([status, n]) => `${header} ${status}×${n}`);
  });
  const natives = runsOf[protocols.indexOf('native')] ?? [];
  const drift = natives.length > 0 ? (natives[natives.length - 1]!.entriesPerS / natives[0]!.entriesPerS) * 100 : NaN;
  return [
    '## Protocols (each shipper protocol → Kafka acknowledged; one ingest process, no storage node consuming)',
    '',
    `${fmt(rounds)} rounds; in each, every protocol in turn for ${fmt(r.options.protocolDurationS / rounds, 1)} s closed loop after ${fmt(warmUpS, 1)} s unmeasured, ` +
      `each round's order rotated by one protocol; ${r.options.protocolConnections} keep-alive connections (enough to saturate ingest, so that the phase compares what each protocol costs rather than the ack round trip), ` +
      `pushes of ${fmt(r.options.batch)} entries of the same corpus and streams, every body encoded before its run. ` +
      `Every figure is the median of a protocol's ${fmt(rounds)} runs (the slowest and fastest rows show their spread), and each ratio is a protocol's median entries/s ÷ native JSON's median ` +
      `(native JSON's last round reached ${fmt(drift)}% of its first: the shared machine's drift during the phase).` +
      (errors.length ? ` Answers other than 2xx (retried): ${errors.join(', ')}.` : ''),
    '',
    table(headers, rows),
  ].join('\n');
}

/** Ingest cores per entry/s of a load. */
function cpuPerEntry(f: LoadFigures): number {
  return (f.cpu.ingest ?? NaN) / f.entriesPerS;
}

function pluginsSection(p: PluginFigures): string {
  const plain = median(p.rounds.map((r) => r.plain.entriesPerS));
  const plugged = median(p.rounds.map((r) => r.plugins.entriesPerS));
  const guarded = median(p.rounds.map((r) => r.authLimits.entriesPerS));
  const { pairs, flood, halfRatePerS } = p.isolation;
  const aloneP99 = pairs.map((x) => x.alone.ack.p99);
  const floodedP99 = pairs.map((x) => x.flooded.ack.p99);
  // Noise: how far apart the runs alone are from each other, the same load with nothing beside it.
  const noise = Math.max(...aloneP99) / Math.min(...aloneP99);
  const rows: Row[] = [
    { label: 'plugins: ingest entries/s without plugins (median of rounds)', unit: 'entries/s', values: [plain] },
    { label: 'plugins: ingest entries/s with auth + limits (median of rounds)', unit: 'entries/s', values: [guarded] },
    { label: 'plugins: ingest entries/s with auth + limits + pipeline (median of rounds)', unit: 'entries/s', values: [plugged] },
    // Per round, then the median: each round runs the three side by side, so the machine's drift over the phase cancels.
    { label: 'plugins: auth + limits ÷ none (median of rounds)', unit: 'x', values: [median(p.rounds.map((r) => r.authLimits.entriesPerS / r.plain.entriesPerS))], digits: 3, target: { op: '>=', value: TARGET_PLUGIN_RATIO } },
    { label: 'plugins: auth + limits + pipeline ÷ none (median of rounds)', unit: 'x', values: [median(p.rounds.map((r) => r.plugins.entriesPerS / r.plain.entriesPerS))], digits: 3, target: { op: '>=', value: TARGET_PLUGIN_RATIO } },
    { label: 'plugins: pipeline alone, auth + limits + pipeline ÷ auth + limits (median of rounds)', unit: 'x', values: [median(p.rounds.map((r) => r.plugins.entriesPerS / r.authLimits.entriesPerS))], digits: 3 },
    { label: 'plugins: CPU of ingest without plugins', unit: 'cores', values: [median(p.rounds.map((r) => r.plain.cpu.ingest ?? NaN))], digits: 2 },
    { label: 'plugins: CPU of ingest with auth + limits', unit: 'cores', values: [median(p.rounds.map((r) => r.authLimits.cpu.ingest ?? NaN))], digits: 2 },
    { label: 'plugins: CPU of ingest with auth + limits + pipeline', unit: 'cores', values: [median(p.rounds.map((r) => r.plugins.cpu.ingest ?? NaN))], digits: 2 },
    // Steadier than entries/s: a closed loop's rate also follows Kafka and the load generator on the shared cores.
    { label: 'plugins: ingest CPU per entry, auth + limits ÷ none (median of rounds)', unit: 'x', values: [median(p.rounds.map((r) => cpuPerEntry(r.authLimits) / cpuPerEntry(r.plain)))], digits: 3, target: { op: '<=', value: 1 / TARGET_PLUGIN_RATIO } },
    { label: 'plugins: ingest CPU per entry, auth + limits + pipeline ÷ none (median of rounds)', unit: 'x', values: [median(p.rounds.map((r) => cpuPerEntry(r.plugins) / cpuPerEntry(r.plain)))], digits: 3, target: { op: '<=', value: 1 / TARGET_PLUGIN_RATIO } },
    { label: `plugins: other tenant ack p50 at half rate, alone (median of ${pairs.length} runs)`, unit: 'ms', values: [median(pairs.map((x) => x.alone.ack.p50))], digits: 1 },
    { label: `plugins: other tenant ack p50 at half rate, beside a tenant at 3x its rate (median of ${pairs.length} runs)`, unit: 'ms', values: [median(pairs.map((x) => x.flooded.ack.p50))], digits: 1 },
    { label: `plugins: other tenant ack p99 at half rate, alone (median of ${pairs.length} runs)`, unit: 'ms', values: [median(aloneP99)], digits: 1 },
    { label: `plugins: other tenant ack p99 at half rate, beside a tenant at 3x its rate (median of ${pairs.length} runs)`, unit: 'ms', values: [median(floodedP99)], digits: 1 },
    { label: 'plugins: noise of ack p99 alone (largest ÷ smallest of the runs alone)', unit: 'x', values: [noise], digits: 3 },
    { label: 'plugins: other tenant ack p99 beside the flood ÷ alone (medians)', unit: 'x', values: [median(floodedP99) / median(aloneP99)], digits: 3, target: { op: '<=', value: noise } },
    { label: 'cache: dashboard query p50 without the cache', unit: 'ms', values: [p.cache.withoutMs.p50], digits: 1 },
    { label: 'cache: dashboard query p50 with the cache', unit: 'ms', values: [p.cache.withMs.p50], digits: 1 },
    { label: 'cache: dashboard query p99 without the cache', unit: 'ms', values: [p.cache.withoutMs.p99], digits: 1 },
    { label: 'cache: dashboard query p99 with the cache', unit: 'ms', values: [p.cache.withMs.p99], digits: 1 },
    { label: 'cache: pieces hit', unit: '', values: [p.cache.hits] },
    { label: 'cache: pieces missed', unit: '', values: [p.cache.misses] },
  ];
  return [
    '## Plugins (auth, limits, pipeline rules) and the results cache',
    '',
    `Ingest: three processes — without plugins; with auth (a Bearer key on every push) and limits (a rate far above the load, so every push passes the token buckets); with those and pipeline rules for the tenant (a relabel rule adding a label, redaction of card numbers and emails in every line, a drop rule) — ${p.rounds.length} rounds, each closed loop on the three in turn (order rotating), same load generator and connections, no consumer. ` +
      `Then the tenant at half rate (${fmt(halfRatePerS)} entries/s, open loop) on the plugin ingest, ${pairs.length} times alone and, in alternation, while another tenant pushes at 3x its ${fmt(flood.ratePerS)} bytes/s rate (${fmt(flood.refused)} of its ${fmt(flood.sent)} pushes answered 429, ${fmt(flood.accepted)} accepted${flood.otherStatuses ? `, ${fmt(flood.otherStatuses)} other answers` : ''}); "unchanged within noise" means the flooded runs' median p99 is within the spread of the runs alone. ` +
      `Cache: one storage node, two query services (one with \`cache.enabled\`, 1-hour pieces), ${fmt(p.cache.entries)} entries over the last six hours, then \`sum by (app) (count_over_time({app=~"app-.*"}[1m]))\` over six hours at a 60 s step, the window sliding one step per query, ${fmt(p.cache.queries)} queries asked of each in turn.`,
    '',
    table(['value'], rows),
  ].join('\n');
}

/** Per process, the median of its CPU use over several runs. */
function medianCpu(cpus: CpuUse[]): CpuUse {
  const names = [...new Set(cpus.flatMap((c) => Object.keys(c)))];
  return Object.fromEntries(names.map((n) => [n, median(cpus.map((c) => c[n] ?? NaN))]));
}

function growthSections(r: BenchResults): string {
  const S: ScaleFigures[] = r.scales;
  const L = r.limits;
  const headers = S.map((s) => `${s.scale}x`);
  const perLineLimit = L.bytesPerLine / L.zstdRatio;
  const zstd3PerLine = L.bytesPerLine / L.zstd3Ratio;
  const scanLimit = (L.decompressMBps * 1e6) / L.bytesPerLine;
  const bytesPerEntry = (b: number | null | undefined, s: ScaleFigures): number | null => (b === null || b === undefined ? null : b / s.disk.entries);
  const compression = (b: number | null | undefined, s: ScaleFigures): number | null => (b ? s.disk.lineBytes / b : null);
  const levelDb = (g: number): number[] => S.map((s) => s.disk.levelDbBytes[g]!);
  const volumes: Row[] = [
    { label: 'volume: entries stored', unit: 'entries', values: S.map((s) => s.entries) },
    { label: 'volume: raw line bytes', unit: 'MB', values: S.map((s) => s.disk.lineBytes / 1e6), digits: 1 },
  ];
  const e2e: Row[] = [
    { label: 'e2e: load entries pushed', unit: 'entries', values: S.map((s) => s.load.entries) },
    { label: 'e2e: load duration', unit: 's', values: S.map((s) => s.load.storedSeconds), digits: 1, target: { op: '>=', value: 60, judge: 'last' } },
    { label: 'e2e: entries/s acknowledged during the load', unit: 'entries/s', values: S.map((s) => s.load.entriesPerS) },
    {
      label: 'e2e: entries/s stored in both replica groups',
      unit: 'entries/s',
      values: S.map((s) => s.load.storedPerS),
      // "Sustained for at least 60 s": only the largest volume's load lasts that long (see the row above).
      target: { op: '>=', value: 150_000, judge: 'last' },
      limit: { value: L.jsonParseLinesPerS, name: 'JSON.parse on 1 core' },
    },
    ...cpuRows('e2e: CPU during the load,', S.map((s) => s.load.cpu)),
  ];
  const probes = S.map((s) => s.probes);
  if (probes.some(Boolean)) {
    e2e.push(
      { label: 'e2e: half rate offered', unit: 'entries/s', values: probes.map((p) => p?.targetPerS) },
      { label: 'e2e: half rate achieved', unit: 'entries/s', values: probes.map((p) => p?.load.entriesPerS) },
      { label: 'e2e: lag p50 at half rate', unit: 'ms', values: probes.map((p) => p?.lag.p50), digits: 1 },
      { label: 'e2e: lag p99 at half rate', unit: 'ms', values: probes.map((p) => p?.lag.p99), digits: 1, target: { op: '<=', value: 1000 } },
      { label: 'e2e: markers measured', unit: 'markers', values: probes.map((p) => p?.lag.n) },
      { label: 'e2e: markers never queryable', unit: 'markers', values: probes.map((p) => p?.lagMissing) },
      { label: 'e2e: marker ack p99 at half rate', unit: 'ms', values: probes.map((p) => p?.markerAck.p99), digits: 1 },
      { label: 'e2e: bulk ack p99 at half rate', unit: 'ms', values: probes.map((p) => p?.load.ack.p99), digits: 1 },
    );
  }
  const disk: Row[] = [
    { label: 'disk: background merging after the load', unit: 's', values: S.map((s) => s.disk.mergeSeconds), digits: 1 },
    { label: 'disk: raw bytes/entry', unit: 'B', values: S.map((s) => s.disk.lineBytes / s.disk.entries), digits: 1 },
    { label: 'disk: Kafka bytes/entry', unit: 'B', values: S.map((s) => bytesPerEntry(s.disk.kafkaBytes, s)), digits: 2, limit: { value: perLineLimit, name: 'zstd 1 MiB blocks (lower is better)' } },
    ...[0, 1].map((g) => ({
      label: `disk: LevelDB bytes/entry, replica ${g}`,
      unit: 'B',
      values: S.map((s, i) => bytesPerEntry(levelDb(g)[i], s)),
      digits: 2,
      target: { op: '<=' as const, value: 15 },
      limit: { value: perLineLimit, name: 'zstd 1 MiB blocks (lower is better)' },
    })),
    {
      label: 'disk: one copy (LevelDB replica 0) ÷ zstd level-3 bound',
      unit: 'x',
      values: S.map((s, i) => bytesPerEntry(levelDb(0)[i], s)! / zstd3PerLine),
      digits: 3,
      target: { op: '<=', value: TARGET_ONE_COPY_TO_ZSTD3 },
    },
    { label: 'disk: everything kept now (Kafka + both replicas) bytes/entry', unit: 'B', values: S.map((s, i) => bytesPerEntry((s.disk.kafkaBytes ?? 0) + levelDb(0)[i]! + levelDb(1)[i]!, s)), digits: 2 },
    {
      label: "disk: everything kept once Kafka's window has passed (both replicas) ÷ one copy",
      unit: 'x',
      values: S.map((_, i) => (levelDb(0)[i]! + levelDb(1)[i]!) / levelDb(0)[i]!),
      digits: 2,
      target: { op: '<=', value: TARGET_KEPT_TO_ONE_COPY },
    },
    { label: 'disk: compression ratio, Kafka', unit: 'x', values: S.map((s) => compression(s.disk.kafkaBytes, s)), digits: 2, limit: { value: L.zstdRatio, name: 'zstd 1 MiB blocks' } },
    ...[0, 1].map((g) => ({
      label: `disk: compression ratio, LevelDB replica ${g}`,
      unit: 'x',
      values: S.map((s, i) => compression(levelDb(g)[i], s)),
      digits: 2,
      limit: { value: L.zstdRatio, name: 'zstd 1 MiB blocks' },
    })),
  ];
  const q = S.map((s) => s.queries);
  const st = S.map((s) => s.storage);
  const query: Row[] = [
    { label: 'query (a) newest 100 of one stream: p50', unit: 'ms', values: q.map((x) => x?.newest.p50), digits: 1 },
    { label: 'query (a) newest 100 of one stream: p99', unit: 'ms', values: q.map((x) => x?.newest.p99), digits: 1, target: { op: '<=', value: 20 } },
    { label: 'query (b) 1-minute window of one stream: p50', unit: 'ms', values: q.map((x) => x?.window.p50), digits: 1 },
    { label: 'query (b) 1-minute window of one stream: p99', unit: 'ms', values: q.map((x) => x?.window.p99), digits: 1, target: { op: '<=', value: 20 } },
    { label: 'query (b) entries in a window', unit: 'entries', values: q.map((x) => x?.windowEntries) },
    { label: 'query (c) line-filter scan, all streams: p50', unit: 'ms', values: q.map((x) => x?.scan.p50) },
    { label: 'query (c) line-filter scan, all streams: p99', unit: 'ms', values: q.map((x) => x?.scan.p99) },
    { label: 'query (c) scan: entries scanned', unit: 'entries', values: q.map((x) => x?.scanEntries) },
    {
      label: 'query (c) scan: entries scanned/s per storage node',
      unit: 'entries/s',
      values: q.map((x) => x?.scanEntriesPerS),
      target: { op: '>=', value: 3_000_000 },
      limit: { value: scanLimit, name: 'zstd decompress on 1 core ÷ bytes/line' },
    },
    { label: 'query (d) metric sum by (app) (count_over_time [1m]): p50', unit: 'ms', values: q.map((x) => x?.metric.p50) },
    { label: 'query (d) metric sum by (app) (count_over_time [1m]): p99', unit: 'ms', values: q.map((x) => x?.metric.p99) },
    { label: 'query (d) metric: step', unit: 's', values: q.map((x) => x?.metricStepSeconds) },
    { label: 'query (d) metric: points per series', unit: 'points', values: q.map((x) => x?.metricPoints) },
    { label: 'query (d) metric: entries aggregated', unit: 'entries', values: q.map((x) => x?.metricEntries) },
    { label: 'query (d) metric: entries counted in windows (checked)', unit: 'entries', values: q.map((x) => x?.metricCounted) },
    {
      label: 'query (d) metric: entries aggregated/s per storage node',
      unit: 'entries/s',
      values: q.map((x) => x?.metricEntriesPerS),
      limit: { value: scanLimit, name: 'zstd decompress on 1 core ÷ bytes/line' },
    },
    { label: 'query (d) metric: entries aggregated/s ÷ (c) scan', unit: 'x', values: q.map((x) => x?.metricToScan), digits: 2, target: { op: '>=', value: TARGET_METRIC_RATIO } },
    { label: 'query (e) full scan for a rare word: p50', unit: 'ms', values: st.map((x) => x?.rareScan.p50) },
    { label: 'query (e) full scan for a rare word at 4M entries: p50', unit: 'ms', values: S.map((s, i) => (s.scale === 4 ? st[i]?.rareScan.p50 : null)), target: { op: '<=', value: TARGET_RARE_SCAN_MS_AT_4M } },
    { label: 'query (e) rare word: lines holding it (checked)', unit: 'entries', values: st.map((x) => x?.rareMatches) },
    { label: 'query (e) rare word: entries scanned/s per storage node', unit: 'entries/s', values: st.map((x) => x?.rareEntriesPerS), limit: { value: scanLimit, name: 'zstd decompress on 1 core ÷ bytes/line' } },
    { label: 'query (f) count of a common word over everything: p50', unit: 'ms', values: st.map((x) => x?.commonCount.p50) },
    { label: 'query (f) common word: lines holding it (checked)', unit: 'entries', values: st.map((x) => x?.commonMatches) },
    { label: 'query (g) count per stream over everything: p50', unit: 'ms', values: st.map((x) => x?.countPerStream.p50), digits: 1, target: { op: '<=', value: TARGET_COUNT_PER_STREAM_MS } },
    { label: 'query (h) needle (one unique token): p50', unit: 'ms', values: st.map((x) => x?.needle.p50), digits: 1 },
    { label: 'query (h) needle: (e) p50 ÷ (h) p50', unit: 'x', values: st.map((x) => x?.needleSpeedup), digits: 1, target: { op: '>=', value: TARGET_NEEDLE_SPEEDUP } },
  ];
  const tail: Row[] = [
    { label: 'tail: delivery p50 from push ack', unit: 'ms', values: probes.map((p) => p?.tail.p50), digits: 1 },
    { label: 'tail: delivery p99 from push ack', unit: 'ms', values: probes.map((p) => p?.tail.p99), digits: 1, target: { op: '<=', value: 500 } },
    { label: 'tail: delivered before the ack (counted as 0 ms)', unit: 'markers', values: probes.map((p) => p?.tailBeforeAck) },
    { label: 'tail: never delivered', unit: 'markers', values: probes.map((p) => p?.tailMissing) },
  ];
  const names = [...new Set(S.flatMap((s) => Object.keys(s.memory)))];
  const sections = [
    ['## End to end (push → stored and queryable in both replica groups)', table(headers, [...volumes, ...e2e])],
    ['## Disk', table(headers, disk)],
  ];
  if (q.some(Boolean)) sections.push(['## Query (through the query service)', table(headers, query)]);
  if (probes.some(Boolean)) sections.push(['## Tail (SSE through the query service)', table(headers, tail)]);
  sections.push(['## Memory (peak RSS = VmHWM and peak anonymous RSS, since each process started; file-backed RSS at the end of each volume)', table(headers, memoryRows(S.map((s) => s.memory), names))]);
  return sections.map(([title, body]) => `${title}\n\n${body}`).join('\n\n');
}

function limitsSection(r: BenchResults): string {
  const L = r.limits;
  return [
    `## Physical limits of this machine (one core, the corpus: ${fmt(L.lines)} lines, ${fmt(L.corpusBytes / 1e6, 1)} MB, ${fmt(L.bytesPerLine, 1)} bytes a line)`,
    '',
    '| figure | measured |',
    '|---|---:|',
    `| zstd compress, level ${L.zstdLevel} (ingest's level), ${L.blockBytes / MIB} MiB blocks | ${fmt(L.compressMBps)} MB/s |`,
    `| zstd decompress, ${L.blockBytes / MIB} MiB blocks | ${fmt(L.decompressMBps)} MB/s |`,
    `| zstd ratio, ${L.blockBytes / MIB} MiB blocks | ${fmt(L.zstdRatio, 2)}x (${fmt(L.bytesPerLine / L.zstdRatio, 2)} bytes/line) |`,
    `| zstd ratio at level 3 (the bound one stored copy is judged by), ${L.blockBytes / MIB} MiB blocks | ${fmt(L.zstd3Ratio, 2)}x (${fmt(L.bytesPerLine / L.zstd3Ratio, 2)} bytes/line) |`,
    `| JSON.parse of the lines as NDJSON push objects | ${fmt(L.jsonParseLinesPerS)} lines/s (${fmt(L.jsonParseMBps)} MB/s) |`,
    `| scan bound: decompress ÷ bytes/line | ${fmt((L.decompressMBps * 1e6) / L.bytesPerLine)} entries/s |`,
  ].join('\n');
}

/** The whole RESULTS.md. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const o = r.options;
  const parts = [
    '# Silt benchmark results',
    '',
    'Generated by the benchmark harness (`bench/src/run.ts`); do not edit by hand — run it again.',
    '',
    `- **Command:** \`${r.command}\``,
    `- **Commit:** \`${r.commit}\``,
    `- **Machine:** ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.os}, Node ${m.node}`,
    `- **Run:** ${r.startedAt}, ${fmt(r.seconds / 60, 1)} min; load average at start ${r.loadAverage.map((l) => l.toFixed(2)).join(' ')}${r.loadAverage[0]! > 0.5 ? ' (the machine was not idle: figures are noisy)' : ''}`,
    `- **Cluster:** ${r.externalKafka ? 'an existing Kafka broker (SILT_KAFKA_BROKERS), so Kafka disk is not measured' : 'one local Kafka 3.9 broker (KRaft, same machine)'}, ${r.partitions} partitions, one ingest, 2 replica groups of one storage node each, one query service — each its own process, services run from ${o.services === 'dist' ? '`dist/` (compiled)' : 'the TypeScript sources (swc at load time, ~30 MiB more RSS each)'}.`,
    `- **Load:** Loghub corpus (https://github.com/logpai/loghub, \`../shared/corpus/loghub/*.log\`), one stream per file (\`app=<file stem>\`), interleaved, replayed as often as needed with every number in the lines shifted from the second replay on (each run of digits by an amount that depends on the replay and its width only, so that no replay repeats the one before exactly while the lines' templates and the relations between one replay's numbers stay) and re-timestamped on a virtual clock spread over days (so a 1-minute window holds a realistic few hundred entries); pushes of ${fmt(o.batch)} entries as identity \`application/json\` (gzip/zstd bodies would cut loopback bytes but JSON parsing dominates), ${o.connections} keep-alive connections from a separate load-generator process; half-rate phases are open loop (latency counts from the scheduled send time).`,
    `- **Volumes:** ${o.scales.map((s) => `${s}x = ${fmt(s * o.unit)}`).join(', ')} entries, loaded cumulatively into one cluster at full rate; disk and queries are measured after each load, once the storage nodes have merged its small frames (markers add a few entries), then the half-rate phase (lag, tail) runs and its entries count towards the next volume.`,
    '- **Status** judges the worst value over the volumes unless the target says otherwise; **vs physical limit** is the largest volume\'s value ÷ the limit measured in the same run on one core.',
    '',
    limitsSection(r),
  ];
  if (r.ingest) parts.push('', ingestSection(r));
  if (r.protocols) parts.push('', protocolsSection(r));
  if (r.plugins) parts.push('', pluginsSection(r.plugins));
  if (r.scales.length > 0) parts.push('', growthSections(r));
  parts.push(
    '',
    '## How each figure is measured',
    '',
    '- **ingest entries/s, MB/s**: entries (and their line bytes) answered 200 by ingest, i.e. acknowledged by Kafka with acks=all, over the phase; the topic has no consumer.',
    '- **protocols**: as ingest entries/s, for each protocol\'s route, content type and body; the harness fails the run unless ingest\'s `silt_ingest_entries_accepted_total` grew by exactly the entries answered 2xx. The protocols take turns in rounds (each round\'s order rotated by one, so none always follows the same one), one ingest process throughout; a protocol\'s figure is the median of its rounds\' figures, and *÷ native JSON* divides its median entries/s by native JSON\'s median, so a run the shared machine disturbed, and its drift over the phase, weigh on no protocol alone. Bodies: native `{"streams":[…]}` JSON (`/api/v1/push`); Loki `logproto.PushRequest` protobuf, snappy block format, one stream per `app` (`/loki/api/v1/push`); OTLP `ExportLogsServiceRequest` protobuf, one ResourceLogs per app (`service.name`), one ScopeLogs, LogRecords with `timeUnixNano` and severity INFO (`/v1/logs`); Elasticsearch `_bulk` NDJSON, a `create` action and a document (`@timestamp`, `message`, `service.name`) per entry in arrival order (`/_bulk`, with Filebeat\'s `filter_path`, so the answer holds only each item\'s status). A body is encoded for a run once, so each pass over the corpus within a run repeats its timestamps. *body bytes/entry* is what travelled on the wire (after snappy for Loki).',
    '- **e2e entries/s**: the entries of the load step ÷ the time from its first push until *both* storage nodes have applied the offsets of every push (their `/internal/v1/state`), i.e. stored and queryable in both replica groups.',
    '- **lag**: marker entries pushed 10 times a second beside a half-rate load; time from the push answer until a token read on each storage node returns the marker (the later of the two).',
    '- **tail**: an SSE tail on the marker stream through the query service; time from the push answer until the event arrives.',
    '- **disk**: apparent sizes of the data topic\'s `.log` segment files in the broker and of every file in each node\'s LevelDB directory, after the data is applied and the nodes\' background merging of small frames has caught up (its time is the first disk row), ÷ entries stored; compression ratio = raw line bytes ÷ stored bytes.',
    '- **query**: wall time of `GET /api/v1/query` (JSON) as the load generator\'s host sees it, one at a time, after one unmeasured (a) and (b) query per stream (the first query of a stream after the merges rewrote its tables takes 20–45 ms while LevelDB opens them); (a) `{app="X"}` backward, limit 100, whole range; (b) `{app="X"}` over 1 minute, forward, limit 5000, windows spread over the data; (c) `{app=~".+"} |= "<absent needle>"` over the whole data set, limit 100, so every entry is scanned; entries/s = `stats.entriesScanned` ÷ wall time (the query service reads each partition from one replica group, and each group is one node).',
    "- **query (d)**: wall time of Loki's `GET /loki/api/v1/query_range` for `sum by (app) (count_over_time({app=~\".+\"}[1m]))` over the same whole data set as (c), from the first entry (rounded up to a second) to past the last, with a step of whole seconds giving about 120 steps (the *step* and *points* rows), after two unmeasured ones over the first hour of data (one per storage node, as the unmeasured (a)/(b) pass warms (c)): every range aggregation is computed on the storage nodes (`POST /internal/v1/aggregate`: each reads its partitions' entries and answers partials per series and step) and merged in the query service. *entries aggregated* is the answer's `stats.summary.totalLinesProcessed` (what the nodes' reads went through; every entry of the data, as the nodes read each window's minute before the first step to the last step); entries/s = that ÷ wall time, median of `--scan-queries` runs, each served by one storage node as (c) is; *÷ (c) scan* divides it by (c)'s median entries/s of the same volume, the issue's target being ≥ 0.8. (c) and (d) alternate (c d, d c, …), so drift of the shared machine and the query service's alternation of replica groups fall on both alike. Every answer is checked point by point: the harness knows each entry's timestamp and stream (the load's virtual clock and corpus layout), so it computes the count of every (app, step) window (t − 1m, t] and fails the run on any series, point or count that differs; *entries counted in windows* is the Σ of the answer's points.",
    '- **memory**: from `/proc/<pid>/status`. *Peak RSS* is VmHWM, the most the process ever had resident; it counts file-backed pages too — the `node` executable and its libraries, and the LevelDB table files that LevelDB maps into memory — clean page cache the kernel can reclaim, which grows with the data a storage node reads. *Peak anonymous RSS* is the largest `RssAnon` sampled every 250 ms while the cluster runs (and once more when the figures are read), so a spike shorter than that may be missed: it is what the process itself holds (heap, stacks, buffers). *RSS file-backed at the end* is `RssFile` when the other figures are read, at the end of the ingest phase or of each volume\'s phases.',
    '- **query (e)–(h)**, the storage engine\'s figures, each answer checked against what the harness knows of the data: (e) `GET /api/v1/query` for `{app=~".+", app!~"bench-.+"} |= "<word>"` over everything, the corpus\'s rarest word of six letters or more, with a limit above its matches (every one is checked to be returned), so every entry is looked at; (f) Loki\'s instant `sum(count_over_time({…} |= "<word>" [<everything>]))` for its most common such word (checked: the count of lines holding it); (g) Loki\'s instant `sum by (app) (count_over_time({…}[<everything>]))` (checked per stream); (h) one entry `request <unique token> failed` pushed now on its own stream, then `{app=~".+"} |= " <token> "` over everything (the spaces make the token a whole word, which frame token filters can rule out); the speed-up is (e)\'s p50 ÷ (h)\'s. Each runs `--scan-queries` times after one unmeasured run. *One copy ÷ zstd level-3 bound* is replica 0\'s bytes/entry ÷ the corpus\'s bytes/line at zstd level 3 in 1 MiB blocks (physical limits table); *everything kept once Kafka\'s window has passed* counts the two replica groups only, as Kafka keeps only its retention window (24 h by default).',
    '- **CPU**: user+system time from `/proc/<pid>/stat` ÷ wall time of the phase.',
  );
  return parts.join('\n') + '\n';
}
