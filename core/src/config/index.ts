/** Configuration of every Silt service: defaults, then an optional JSON file, then environment; validated once, then frozen. */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors';
import {
  type AuthConfig,
  type CacheConfig,
  DEFAULT_AUTH,
  DEFAULT_CACHE,
  DEFAULT_LIMITS,
  type LimitsConfig,
  OPEN_MAPS,
  type PluginConfig,
  RECORD_LISTS,
  resolvePluginPaths,
  validateTenancy,
} from './tenancy';

export * from './tenancy';

/** Kafka connection and topic layout, shared by every service. */
export interface KafkaConfig {
  /** Bootstrap brokers; empty means "start the bundled local broker" (npm start only). */
  brokers: string[];
  clientId: string;
  logsTopic: string;
  nodesTopic: string;
  partitions: number;
  replicationFactor: number;
  /** `retention.ms` of the logs topic: the write-ahead window; older data lives only on the storage nodes, which rebuild from each other (docs/STORAGE.md, "Kafka retention"). */
  logsRetentionMs: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /** Ports of the broker `npm start` runs when `brokers` is empty: Kafka's usual ones by default. */
  localBrokerPort: number;
  localControllerPort: number;
  /** Java heap (MiB) of the broker `npm start` runs when no brokers are configured. */
  localBrokerHeapMb: number;
}

/** Limits and batching of the ingest service. */
export interface IngestSettings {
  host: string;
  port: number;
  bodyLimitBytes: number;
  decompressedLimitBytes: number;
  maxLineBytes: number;
  maxLabels: number;
  maxLabelNameBytes: number;
  maxLabelValueBytes: number;
  maxAttrs: number;
  maxAttrBytes: number;
  maxPastMs: number;
  maxFutureMs: number;
  /** How long a partition's block waits for more entries before it is sealed. */
  lingerMs: number;
  /** A block is sealed once its raw lines reach this many bytes (bounds one zstd call on the event loop). */
  maxBlockBytes: number;
  maxBlockEntries: number;
  /** Upper bound of one Kafka produce request, in encoded block bytes. */
  maxRequestBytes: number;
  /** Raw bytes waiting for Kafka beyond which new pushes get 503 at once instead of queueing. */
  maxPendingBytes: number;
  zstdLevel: number;
  /** Worker threads that zstd-compress sealed blocks beside the event loop; 0 compresses on it. */
  compressionThreads: number;
  /** Streams spread round-robin over all partitions, as `tenant/{name="value",…}`; their order is by timestamp only. */
  spreadStreams: string[];
  /** How long a push waits for Kafka's acknowledgement before it answers 503. */
  ackTimeoutMs: number;
  retryAfterSeconds: number;
  /** How often this process announces itself on the nodes topic: ingest processes share a tenant's rate by the count of those alive. */
  announceIntervalMs: number;
  /** OTLP resource attributes that become stream labels (dots → underscores), as Loki's default list; the rest go to attrs. */
  otlpStreamAttributes: string[];
  /** Elasticsearch bulk: document fields holding the line, first present wins. */
  elasticMessageFields: string[];
  /** Elasticsearch bulk: document fields holding the timestamp, first present wins. */
  elasticTimestampFields: string[];
  /** Elasticsearch bulk: document fields (dotted paths) that become stream labels, dots → underscores; `?_stream_fields=` replaces them per request (as in VictoriaLogs). */
  elasticStreamFields: string[];
  /** Syslog listeners (RFC 5424/3164) on TCP and UDP `syslogPort`; TLS (RFC 5425) on `syslogTlsPort` when a key and certificate are set. */
  syslogEnabled: boolean;
  syslogPort: number;
  syslogTlsPort: number;
  syslogTlsKeyFile: string;
  syslogTlsCertFile: string;
  /** When set, TLS syslog clients must present a certificate this CA signed (mutual TLS): with auth on, the only syslog accepted. */
  syslogTlsClientCaFile: string;
  /** Tenant every syslog message is stored under: syslog carries none. */
  syslogTenant: string;
  /** A syslog message longer than this closes its TCP connection or drops its UDP datagram; one over the line limit but within this is truncated. */
  syslogMaxMessageBytes: number;
  /** How long a syslog connection's batch waits for more messages before it goes to the distributor. */
  syslogLingerMs: number;
  /** A syslog batch goes to the distributor once it holds this many messages… */
  syslogMaxBatchEntries: number;
  /** …or this many message bytes. */
  syslogMaxBatchBytes: number;
  /** A TCP connection that sends nothing for this long is closed; 0 keeps quiet senders connected (TCP keep-alive still finds dead peers). */
  syslogIdleTimeoutMs: number;
  /** Open TCP and TLS connections per listener (0: no limit); more are refused. */
  syslogMaxConnections: number;
}

/** A storage node: its replica group, segments, retention and internal read API. */
export interface StorageSettings {
  host: string;
  /** Internal read API port; `npm start` gives replica group r the port `port + r`. */
  port: number;
  /** The URL other services reach this node at; empty means http://127.0.0.1:<port>. */
  advertiseUrl: string;
  /** Stable id of this node (its data dir and its key on silt.nodes); empty means `node-r<group>-<port>`. */
  nodeId: string;
  /** Replica group r: the node consumes in consumer group `<groupPrefix><r>`. */
  replicaGroup: number;
  /** Prefix of the replica groups' consumer group ids; two clusters sharing one Kafka need different ones. */
  groupPrefix: string;
  maxSegmentBytes: number;
  maxSegmentAgeMs: number;
  maxOpenSegments: number;
  /** Bytes of frame heads and token filters kept in memory for counts and needle reads (0: none). */
  headCacheBytes: number;
  /** Bytes of frames decoded whole kept in memory, so a range read again is not decompressed again (0: none). */
  frameCacheBytes: number;
  /** Worker threads decoding and filtering the frames of reads with line filters (default: the machine's cores; 0: on the event loop). */
  scanThreads: number;
  /** Whole segments whose newest entry is older than this are removed. */
  retentionMs: number;
  retentionCheckMs: number;
  announceIntervalMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** How long a fetch waits for data; kafkajs's 5 s default would add that much latency. */
  maxWaitTimeMs: number;
  /** Must exceed the largest block; a lagging node gets full fetches, so this (×4 per fetch) bounds its memory. */
  maxBytesPerPartition: number;
  /** How long a read given a write token waits for this node to apply it before answering 504. */
  tokenWaitMs: number;
}

/** The query service: public read API, planning, fan-out and tails. */
export interface QuerySettings {
  host: string;
  port: number;
  defaultLimit: number;
  maxLimit: number;
  /** Longest `end - start` a query may span. */
  maxRangeMs: number;
  /** A whole query (fan-out, failovers, token waits) answers 504 after this. */
  timeoutMs: number;
  /** A storage node that has not answered (headers) within this is failed over. */
  nodeTimeoutMs: number;
  /** A node whose last announcement is older than this is no longer read from. */
  staleNodeMs: number;
  maxTails: number;
  /** Entries a tail may hold for a slow client before it is closed. */
  maxTailBufferedEntries: number;
  tailMaxWaitMs: number;
  /** The built explorer (index.html and assets/) served at `/`; empty: the one `npm run build` made in dist/web. */
  webDir: string;
}

/** The whole cluster's configuration; each service reads its own section plus `kafka`. */
export interface SiltConfig {
  dataDir: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Replica groups (R) that `npm start` runs one storage node for. */
  replicas: number;
  kafka: KafkaConfig;
  ingest: IngestSettings;
  storage: StorageSettings;
  query: QuerySettings;
  auth: AuthConfig;
  limits: LimitsConfig;
  cache: CacheConfig;
  /** Plugins every service loads, in this order, after the built-in auth and limits. */
  plugins: PluginConfig[];
}

/** Built-in defaults, the first layer of every configuration. */
export const DEFAULT_CONFIG: SiltConfig = {
  dataDir: './data',
  logLevel: 'info',
  replicas: 2,
  kafka: {
    brokers: [],
    clientId: 'silt',
    logsTopic: 'silt.logs',
    nodesTopic: 'silt.nodes',
    partitions: 8,
    replicationFactor: 1,
    logsRetentionMs: 24 * 3600 * 1000,
    connectionTimeoutMs: 3000,
    requestTimeoutMs: 10000,
    localBrokerPort: 9092,
    localControllerPort: 9093,
    localBrokerHeapMb: 512,
  },
  ingest: {
    host: '0.0.0.0',
    port: 7410,
    bodyLimitBytes: 16 * 1024 * 1024,
    decompressedLimitBytes: 64 * 1024 * 1024,
    maxLineBytes: 256 * 1024,
    maxLabels: 15,
    maxLabelNameBytes: 1024,
    maxLabelValueBytes: 1024,
    maxAttrs: 64,
    maxAttrBytes: 64 * 1024,
    maxPastMs: 7 * 24 * 3600 * 1000,
    maxFutureMs: 10 * 60 * 1000,
    lingerMs: 5,
    maxBlockBytes: 1024 * 1024,
    maxBlockEntries: 20000,
    maxRequestBytes: 4 * 1024 * 1024,
    maxPendingBytes: 128 * 1024 * 1024,
    zstdLevel: 1,
    compressionThreads: 1,
    spreadStreams: [],
    ackTimeoutMs: 10000,
    announceIntervalMs: 2000,
    retryAfterSeconds: 5,
    otlpStreamAttributes: [
      'service.name',
      'service.namespace',
      'service.instance.id',
      'deployment.environment',
      'deployment.environment.name',
      'cloud.region',
      'cloud.availability_zone',
      'k8s.cluster.name',
      'k8s.namespace.name',
      'k8s.pod.name',
      'k8s.container.name',
      'container.name',
      'k8s.replicaset.name',
      'k8s.deployment.name',
      'k8s.statefulset.name',
      'k8s.daemonset.name',
      'k8s.cronjob.name',
      'k8s.job.name',
    ],
    elasticMessageFields: ['message', 'log', 'msg'],
    elasticTimestampFields: ['@timestamp', 'timestamp'],
    elasticStreamFields: ['host.name', 'service.name', 'log.level'],
    syslogEnabled: true,
    syslogPort: 7514,
    syslogTlsPort: 6514,
    syslogTlsKeyFile: '',
    syslogTlsCertFile: '',
    syslogTlsClientCaFile: '',
    syslogTenant: 'default',
    syslogMaxMessageBytes: 4 * 1024 * 1024,
    syslogLingerMs: 5,
    syslogMaxBatchEntries: 5000,
    syslogMaxBatchBytes: 1024 * 1024,
    syslogIdleTimeoutMs: 0,
    syslogMaxConnections: 1000,
  },
  storage: {
    host: '0.0.0.0',
    port: 7431,
    advertiseUrl: '',
    nodeId: '',
    replicaGroup: 0,
    groupPrefix: 'silt-replica-',
    maxSegmentBytes: 64 * 1024 * 1024,
    maxSegmentAgeMs: 3600 * 1000,
    maxOpenSegments: 16,
    headCacheBytes: 16 * 1024 * 1024,
    frameCacheBytes: 32 * 1024 * 1024,
    scanThreads: availableParallelism(),
    retentionMs: 7 * 24 * 3600 * 1000,
    retentionCheckMs: 60 * 1000,
    announceIntervalMs: 3000,
    sessionTimeoutMs: 10000,
    heartbeatIntervalMs: 1000,
    maxWaitTimeMs: 100,
    maxBytesPerPartition: 4 * 1024 * 1024,
    tokenWaitMs: 5000,
  },
  query: {
    host: '0.0.0.0',
    port: 7420,
    defaultLimit: 100,
    maxLimit: 5000,
    maxRangeMs: 31 * 24 * 3600 * 1000,
    timeoutMs: 30000,
    nodeTimeoutMs: 10000,
    staleNodeMs: 15000,
    maxTails: 100,
    maxTailBufferedEntries: 10000,
    tailMaxWaitMs: 100,
    webDir: '',
  },
  auth: DEFAULT_AUTH,
  limits: DEFAULT_LIMITS,
  cache: DEFAULT_CACHE,
  plugins: [],
};

/** Environment variables of the contract whose names are not derived from the key path. */
const ENV_ALIASES: Record<string, string> = {
  SILT_DATA_DIR: 'dataDir',
  SILT_LOG_LEVEL: 'logLevel',
  SILT_REPLICAS: 'replicas',
  SILT_PARTITIONS: 'kafka.partitions',
};

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

/** Where a configuration comes from; all optional so tests can pass only what they change. */
export interface ConfigSources {
  /** Path of a JSON file (`--config silt.json`). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides applied after the environment, for tests and the local launcher. */
  overrides?: DeepPartial<SiltConfig>;
}

/** A partial of a nested object, for overrides. */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** Every leaf's dotted path, with its environment variable: `ingest.lingerMs` → `SILT_INGEST_LINGER_MS`. */
function envNames(): Map<string, string> {
  const names = new Map<string, string>();
  const walk = (obj: Record<string, unknown>, prefix: string[]): void => {
    for (const [k, v] of Object.entries(obj)) {
      const path = [...prefix, k];
      if (RECORD_LISTS.has(path.join('.'))) continue;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, path);
      else names.set('SILT_' + path.map(snake).join('_'), path.join('.'));
    }
  };
  walk(DEFAULT_CONFIG as unknown as Record<string, unknown>, []);
  for (const [env, path] of Object.entries(ENV_ALIASES)) names.set(env, path);
  return names;
}

function getLeaf(obj: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);
}

function setLeaf(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, obj);
  parent[last] = value;
}

/** Converts an environment string to the type of the default at that path. */
function fromEnv(path: string, raw: string): unknown {
  const def = getLeaf(DEFAULT_CONFIG as unknown as Record<string, unknown>, path);
  if (Array.isArray(def)) return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (typeof def === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new ConfigError(`${path}: "${raw}" is not a boolean (true or false)`, { key: path });
  }
  if (typeof def === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${path}: "${raw}" is not a number`, { key: path });
    return n;
  }
  return raw;
}

/** Deep-merges `src` into `dst`, refusing keys the defaults do not have (a typo must not pass silently). */
function merge(dst: Record<string, unknown>, src: Record<string, unknown>, prefix: string, origin: string): void {
  for (const [k, v] of Object.entries(src)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (!(k in dst)) throw new ConfigError(`${origin}: unknown key "${path}"`, { key: path });
    const cur = dst[k];
    if (OPEN_MAPS.has(path)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${origin}: "${path}" must be an object`, { key: path });
      dst[k] = { ...(cur as Record<string, unknown>), ...(v as Record<string, unknown>) };
    } else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${origin}: "${path}" must be an object`, { key: path });
      merge(cur as Record<string, unknown>, v as Record<string, unknown>, path, origin);
    } else {
      dst[k] = v;
    }
  }
}

function check(ok: boolean, key: string, message: string): void {
  if (!ok) throw new ConfigError(`${key}: ${message}`, { key });
}

/** Checks every leaf's type against its default, then the ranges that matter. */
function validate(c: SiltConfig): void {
  const walk = (obj: Record<string, unknown>, def: Record<string, unknown>, prefix: string): void => {
    for (const [k, d] of Object.entries(def)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const v = obj[k];
      if (RECORD_LISTS.has(key) || OPEN_MAPS.has(key)) continue;
      if (Array.isArray(d)) check(Array.isArray(v) && v.every((s) => typeof s === 'string'), key, 'must be a list of strings');
      else if (d !== null && typeof d === 'object') walk(v as Record<string, unknown>, d as Record<string, unknown>, key);
      else if (typeof d === 'number') check(typeof v === 'number' && Number.isFinite(v) && v >= 0, key, `must be a non-negative number, got ${JSON.stringify(v)}`);
      else check(typeof v === typeof d, key, `must be a ${typeof d}, got ${JSON.stringify(v)}`);
    }
  };
  walk(c as unknown as Record<string, unknown>, DEFAULT_CONFIG as unknown as Record<string, unknown>, '');
  validateTenancy(c);
  const ints: [string, number, number][] = [
    ['replicas', 1, 16],
    ['kafka.partitions', 1, 10000],
    ['kafka.replicationFactor', 1, 16],
    ['ingest.port', 0, 65535],
    ['ingest.syslogPort', 0, 65535],
    ['ingest.syslogTlsPort', 0, 65535],
    ['kafka.localBrokerPort', 1, 65535],
    ['kafka.localControllerPort', 1, 65535],
    ['kafka.localBrokerHeapMb', 128, 65536],
    ['ingest.maxLabels', 1, 1000],
    ['ingest.zstdLevel', 1, 19],
    ['ingest.compressionThreads', 0, 64],
    ['ingest.maxBlockEntries', 1, 1_000_000],
    ['storage.port', 0, 65535],
    ['query.port', 0, 65535],
    ['query.defaultLimit', 1, 1_000_000],
    ['query.maxLimit', 1, 1_000_000],
    ['storage.replicaGroup', 0, 15],
    ['storage.maxOpenSegments', 2, 100000],
    ['storage.scanThreads', 0, 64],
    ['storage.headCacheBytes', 0, 1024 * 1024 * 1024],
    ['storage.frameCacheBytes', 0, 16 * 1024 * 1024 * 1024],
  ];
  for (const [key, min, max] of ints) {
    const v = getLeaf(c as unknown as Record<string, unknown>, key) as number;
    check(Number.isInteger(v) && v >= min && v <= max, key, `must be an integer from ${min} to ${max}, got ${v}`);
  }
  check(LOG_LEVELS.includes(c.logLevel), 'logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  check(c.ingest.maxBlockBytes >= 1024 && c.ingest.maxBlockBytes <= 16 * 1024 * 1024, 'ingest.maxBlockBytes', 'must be from 1 KiB to 16 MiB');
  check(c.ingest.maxRequestBytes >= c.ingest.maxBlockBytes, 'ingest.maxRequestBytes', 'must be at least ingest.maxBlockBytes');
  check(c.ingest.maxLineBytes <= c.ingest.maxBlockBytes, 'ingest.maxLineBytes', 'must not exceed ingest.maxBlockBytes');
  check(c.ingest.ackTimeoutMs >= 100, 'ingest.ackTimeoutMs', 'must be at least 100');
  check(c.ingest.retryAfterSeconds >= 1, 'ingest.retryAfterSeconds', 'must be at least 1');
  check((c.ingest.syslogTlsKeyFile === '') === (c.ingest.syslogTlsCertFile === ''), 'ingest.syslogTlsKeyFile', 'and ingest.syslogTlsCertFile must be set together');
  check(c.ingest.syslogTlsClientCaFile === '' || c.ingest.syslogTlsKeyFile !== '', 'ingest.syslogTlsClientCaFile', 'needs ingest.syslogTlsKeyFile and ingest.syslogTlsCertFile (client certificates are asked for over TLS)');
  check(c.query.defaultLimit <= c.query.maxLimit, 'query.defaultLimit', 'must not exceed query.maxLimit');
  check(c.kafka.logsRetentionMs >= 3600 * 1000, 'kafka.logsRetentionMs', 'must be at least 3600000 (1 hour), so a restarted or rebalanced storage node resumes from Kafka rather than needing a copy from a peer');
  check(c.storage.maxBytesPerPartition > c.ingest.maxBlockBytes * 2, 'storage.maxBytesPerPartition', 'must exceed the largest block (twice ingest.maxBlockBytes)');
  check(c.storage.sessionTimeoutMs >= 6000, 'storage.sessionTimeoutMs', "must be at least 6000 (the broker's group.min.session.timeout.ms)");
  check(c.storage.nodeId === '' || /^[a-zA-Z0-9_.-]{1,64}$/.test(c.storage.nodeId), 'storage.nodeId', 'must be [a-zA-Z0-9_.-]{1,64}');
  check(c.kafka.brokers.every((b) => /^[^:\s]+:\d+$/.test(b)), 'kafka.brokers', 'each broker must be host:port');
}

function deepFreeze<T>(obj: T): T {
  for (const v of Object.values(obj as object)) if (v !== null && typeof v === 'object') deepFreeze(v);
  return Object.freeze(obj);
}

/** Builds the configuration from defaults, file, environment and overrides; throws ConfigError naming the bad key. */
export function loadConfig(sources: ConfigSources = {}): Readonly<SiltConfig> {
  const config = structuredClone(DEFAULT_CONFIG);
  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(sources.file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${sources.file}: ${(err as Error).message}`, { file: sources.file });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${sources.file}: must hold a JSON object`);
    merge(config as unknown as Record<string, unknown>, parsed as Record<string, unknown>, '', `config file ${sources.file}`);
    if (Array.isArray(config.plugins)) resolvePluginPaths(config.plugins, sources.file);
  }
  const env = sources.env ?? {};
  for (const [name, path] of envNames()) {
    const raw = env[name];
    if (raw !== undefined) setLeaf(config as unknown as Record<string, unknown>, path, fromEnv(path, raw));
  }
  if (sources.overrides) merge(config as unknown as Record<string, unknown>, sources.overrides as Record<string, unknown>, '', 'overrides');
  validate(config);
  return deepFreeze(config);
}

/** Reads `--config FILE` from a process's arguments. */
export function configFileFromArgv(argv: string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0) {
    const file = argv[i + 1];
    if (!file) throw new ConfigError('--config needs a file path');
    return file;
  }
  const eq = argv.find((a) => a.startsWith('--config='));
  return eq?.slice('--config='.length);
}
