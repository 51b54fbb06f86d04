/** Command-line options of the benchmark harness. */
import os from 'node:os';
import path from 'node:path';

/** What one run measures. */
export type Scenario = 'all' | 'ingest' | 'protocols' | 'plugins' | 'e2e' | 'query' | 'tail' | 'limits';

const SCENARIOS: readonly Scenario[] = ['all', 'ingest', 'protocols', 'plugins', 'e2e', 'query', 'tail', 'limits'];

/** Every knob of a run, after defaults and `--quick`. */
export interface BenchOptions {
  scenario: Scenario;
  /** Data volumes as multiples of `unit`, loaded cumulatively into one cluster (growth). */
  scales: number[];
  /** Entries stored at scale 1x. */
  unit: number;
  /** Seconds of the ingest-only phase at full rate. */
  durationS: number;
  /** Seconds of each protocol's load in the protocols phase (`--duration` when given). */
  protocolDurationS: number;
  /** Seconds of each half-rate phase (ack latency, lag, tail). */
  halfDurationS: number;
  /** Concurrent keep-alive HTTP connections of the load generator. */
  connections: number;
  /**
   * The same, in the protocols phase: enough that ingest's CPU, not the round trip, is the limit,
   * so that the phase compares what each protocol costs (with too few, every protocol reaches
   * connections × batch ÷ ack latency, whatever it costs).
   */
  protocolConnections: number;
  /** Entries per push request. */
  batch: number;
  /** Repetitions of the newest-100 and 1-minute-window queries, and of the full scan, at each volume. */
  pointQueries: number;
  scanQueries: number;
  /** Run the services from `dist/` (after `npm run build`) or from the TypeScript sources. */
  services: 'dist' | 'src';
  /** Where the markdown table and the raw JSON go. */
  out: string;
  json: string;
  quick: boolean;
  /** Keep the temporary data directory (broker and LevelDB) after the run. */
  keep: boolean;
  /** Where each service writes a V8 CPU profile (`node --cpu-prof`) when it exits; null for none. */
  profileDir: string | null;
}

const ROOT = path.resolve(__dirname, '../..');
const QUICK_DIR = path.join(os.tmpdir(), 'silt-bench-quick');

/** Usage text for `--help` and errors. */
export const USAGE = `usage: npm run bench -- [options]
  --scenario all|ingest|protocols|plugins|e2e|query|tail|limits   what to measure (default all)
  --scale 1,4,16          data volumes, multiples of --unit, loaded cumulatively (default 1,4,16)
  --unit N                entries stored at 1x (default 1000000)
  --duration S            seconds of the ingest phase at full rate (default 60), and of each
                          protocol's load in the protocols phase (default 20)
  --half-duration S       seconds of each half-rate phase: ack latency, lag, tail (default 30)
  --connections N         concurrent keep-alive connections of the load generator (default 8)
  --protocol-connections N  the same in the protocols phase, where they must saturate ingest (default 32)
  --batch N               entries per push (default 1000)
  --point-queries N       repetitions of queries (a) and (b) per volume (default 100)
  --scan-queries N        repetitions of the full scan (c) per volume (default 3)
  --services dist|src     run services from dist/ (built) or from the TS sources (default src)
  --out FILE              markdown results (default bench/RESULTS.md, or bench/RESULTS.<scenario>.md
                          for one scenario; with --quick, in the temp dir)
  --json FILE             raw results (default bench/results.json, or bench/results.<scenario>.json)
  --quick                 tiny volumes and short phases, for smoke tests
  --keep                  keep the temporary data directory
  --profile DIR           run every service under node --cpu-prof, writing <cluster>-<service>.cpuprofile to DIR
Set SILT_KAFKA_BROKERS to use an existing broker (unique topics are created; Kafka disk is then not measured).`;

function positive(name: string, raw: string | undefined, integer = true): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${name}: "${raw}" is not a positive ${integer ? 'integer' : 'number'}\n${USAGE}`);
  return n;
}

/** Parses `argv` (without node and script); `--quick` changes the defaults, explicit flags still win. */
export function parseOptions(argv: string[]): BenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (['quick', 'keep', 'help'].includes(arg.slice(2))) flags.set(arg.slice(2), 'true');
    else flags.set(arg.slice(2), argv[++i] ?? '');
  }
  if (flags.has('help')) throw new Error(USAGE);
  const known = ['scenario', 'scale', 'unit', 'duration', 'half-duration', 'connections', 'protocol-connections', 'batch', 'point-queries', 'scan-queries', 'services', 'out', 'json', 'quick', 'keep', 'profile'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  const quick = flags.has('quick');
  const get = (k: string, normal: string, fast: string): string => flags.get(k) ?? (quick ? fast : normal);
  const scenario = get('scenario', 'all', 'all') as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario: "${scenario}" is not one of ${SCENARIOS.join(', ')}`);
  const scales = get('scale', '1,4,16', '1,4,16')
    .split(',')
    .map((s) => positive('--scale', s.trim()));
  if (scales.some((s, i) => i > 0 && s <= scales[i - 1]!)) throw new Error('--scale: volumes must increase (they are loaded cumulatively)');
  const services = get('services', 'src', 'src');
  if (services !== 'dist' && services !== 'src') throw new Error('--services: dist or src');
  return {
    scenario,
    scales,
    unit: positive('--unit', get('unit', '1000000', '5000')),
    durationS: positive('--duration', get('duration', '60', '3'), false),
    protocolDurationS: positive('--duration', get('duration', '20', '1'), false),
    halfDurationS: positive('--half-duration', get('half-duration', '30', '1'), false),
    connections: positive('--connections', get('connections', '8', '4')),
    protocolConnections: positive('--protocol-connections', get('protocol-connections', '32', '8')),
    batch: positive('--batch', get('batch', '1000', '1000')),
    pointQueries: positive('--point-queries', get('point-queries', '100', '5')),
    scanQueries: positive('--scan-queries', get('scan-queries', '3', '2')),
    services,
    // A quick run must never overwrite the real results, nor a one-scenario run the full table.
    out: path.resolve(ROOT, get('out', scenario === 'all' ? 'bench/RESULTS.md' : `bench/RESULTS.${scenario}.md`, path.join(QUICK_DIR, 'RESULTS.md'))),
    json: path.resolve(ROOT, get('json', scenario === 'all' ? 'bench/results.json' : `bench/results.${scenario}.json`, path.join(QUICK_DIR, 'results.json'))),
    quick,
    keep: flags.has('keep'),
    profileDir: flags.has('profile') ? path.resolve(flags.get('profile')!) : null,
  };
}
