/** The raw results of a run, as written to results.json and rendered by report.ts. */
import type { PhysicalLimits } from './limits';
import type { BenchOptions } from './options';
import type { PushProtocol } from './protocol-bodies';
import type { QueryResults } from './queries';
import type { WordQueryResults } from './word-queries';
import type { Summary } from './stats';

/** Resident memory of one process, bytes. */
export interface Memory {
  /** VmHWM: the peak since the process started. */
  peak: number;
  /** VmRSS when sampled at the end of the phase. */
  now: number;
  /** The largest RssAnon (heap, stacks, buffers: what the process itself holds) sampled every 250 ms since it started; absent for processes the harness's cluster did not start (Kafka). */
  anonPeak?: number;
  /** RssFile (mapped files, such as LevelDB's tables: page cache the kernel can reclaim) at the end of the phase. */
  fileNow: number;
}

/** CPU of each process during a phase, in cores (1.0 = one core busy all along). */
export type CpuUse = Record<string, number>;

/** A push load and what it achieved. */
export interface LoadFigures {
  entries: number;
  seconds: number;
  entriesPerS: number;
  lineMBps: number;
  ack: Summary;
  errors: Record<string, number>;
  cpu: CpuUse;
}

/** The ingest-only phase: HTTP → Kafka acknowledged, no storage node consuming. */
export interface IngestFigures {
  full: LoadFigures;
  half: LoadFigures & { targetPerS: number };
  memory: Record<string, Memory>;
}

/** One protocol's closed-loop load in the protocols phase. */
export interface ProtocolRun extends LoadFigures {
  protocol: PushProtocol;
  /** Request body bytes per entry, as sent. */
  bodyBytesPerEntry: number;
}

/** The protocols phase: one ingest process, every protocol once per round for several rounds, on the same corpus, batch and connections; `runs` in the order they ran. */
export interface ProtocolFigures {
  runs: ProtocolRun[];
  /** Seconds of unmeasured load before each run. */
  warmUpS: number;
}

/** Markers pushed beside a half-rate load. */
export interface ProbeFigures {
  targetPerS: number;
  load: LoadFigures;
  lag: Summary;
  markerAck: Summary;
  tail: Summary;
  tailBeforeAck: number;
  tailMissing: number;
  lagMissing: number;
}

/** Bytes on disk at one volume. */
export interface DiskFigures {
  entries: number;
  lineBytes: number;
  /** Record batches of the data topic; null when the broker is not ours. */
  kafkaBytes: number | null;
  /** LevelDB files of each replica group's node. */
  levelDbBytes: number[];
  /** Seconds from the data being applied until both nodes had merged their small frames. */
  mergeSeconds: number;
}

/** Everything measured at one data volume. */
export interface ScaleFigures {
  scale: number;
  /** Entries stored (cumulative), markers included. */
  entries: number;
  /** The load that grew the data to this volume, timed until both replica groups applied it all. */
  load: LoadFigures & { storedPerS: number; storedSeconds: number };
  probes?: ProbeFigures;
  disk: DiskFigures;
  queries?: QueryResults;
  /** The storage engine's queries (e)–(h), with the queries. */
  storage?: WordQueryResults;
  memory: Record<string, Memory>;
}

/** The plugins phase (plugins-phase.ts). */
export interface PluginFigures {
  /** Closed loop, one ingest without plugins, one with auth and limits, one with those and pipeline rules, in interleaved rounds. */
  rounds: { plain: LoadFigures; authLimits: LoadFigures; plugins: LoadFigures }[];
  /** The bench tenant at half rate on the plugin ingest, alone and beside a tenant pushing at 3x its rate, in alternation. */
  isolation: {
    halfRatePerS: number;
    pairs: { alone: LoadFigures; flooded: LoadFigures }[];
    flood: { ratePerS: number; sent: number; accepted: number; refused: number; otherStatuses: number };
  };
  /** A dashboard query over a sliding window, without and with the results cache. */
  cache: { queries: number; entries: number; withoutMs: Summary; withMs: Summary; hits: number; misses: number; stale: number };
}

/** Everything one run measured. */
export interface BenchResults {
  startedAt: string;
  seconds: number;
  command: string;
  commit: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; os: string; node: string };
  options: BenchOptions;
  /** True when an existing broker (SILT_KAFKA_BROKERS) was used. */
  externalKafka: boolean;
  partitions: number;
  /** Load average when the run began: other work on the machine makes the figures noisy. */
  loadAverage: number[];
  limits: PhysicalLimits;
  ingest?: IngestFigures;
  protocols?: ProtocolFigures;
  plugins?: PluginFigures;
  scales: ScaleFigures[];
}
