/**
 * The cluster under test, every part a process of its own as in production: a Kafka broker (ours,
 * in a temp dir on free ports, or an existing one named by SILT_KAFKA_BROKERS), and Silt services
 * started from dist/ or from the TypeScript sources, on free ports with unique topics and groups.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureKafkaJars, freePort, startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';
import { waitFor } from '../../test/support/processes';

const ROOT = path.resolve(__dirname, '../..');
const REGISTER = path.join(ROOT, 'test/support/ts-register.js');
/** How often each service's RssAnon is sampled for its peak. */
const ANON_SAMPLE_MS = 250;

/** Kinds of Silt service. */
export type ServiceKind = 'ingest' | 'storage-node' | 'query';

/** The Kafka the run uses. */
export interface KafkaUnderTest {
  brokers: string[];
  /** The broker's log.dirs when we started it; null for an existing broker (its disk is not ours to measure). */
  logDir: string | null;
  /** The broker's pid when we started it, for its CPU and memory. */
  pid: number | null;
  stop(): Promise<void>;
}

/** Starts a broker in `dir`, or uses SILT_KAFKA_BROKERS when set. */
export async function openKafka(dir: string, log: (msg: string) => void): Promise<KafkaUnderTest> {
  const existing = process.env.SILT_KAFKA_BROKERS;
  if (existing) return { brokers: existing.split(',').map((b) => b.trim()).filter(Boolean), logDir: null, pid: null, stop: async () => undefined };
  await ensureKafkaJars({ log });
  const dataDir = path.join(dir, 'kafka');
  const broker: BrokerHandle = await startBroker({ dataDir });
  return { brokers: broker.brokers, logDir: path.join(dataDir, 'kraft-logs'), pid: findPid(path.join(dataDir, 'server.properties')), stop: () => broker.stop() };
}

/** The pid of the process whose command line names `needle` (the JVM names its server.properties). */
function findPid(needle: string): number | null {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle) && cmdline.includes('kafka.Kafka')) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return null;
}

/** One Silt service process. */
export class ServiceUnderTest {
  output = '';

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer): void => {
      this.output = (this.output + d.toString('utf8')).slice(-20000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /** The service's pid. */
  get pid(): number {
    return this.child.pid!;
  }

  /** True while the process runs. */
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 15000): Promise<void> {
    if (!this.alive()) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A set of Silt services sharing topics, groups and a data dir. */
export class SiltCluster {
  readonly suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  readonly logsTopic: string;
  readonly nodesTopic: string;
  readonly services: ServiceUnderTest[] = [];
  /** Largest RssAnon sampled of each service, by pid; the kernel keeps no peak of it as it does for VmRSS (VmHWM). */
  private readonly anonPeaks = new Map<number, number>();
  private sampler: NodeJS.Timeout | null = null;

  constructor(
    readonly kafka: KafkaUnderTest,
    readonly name: string,
    readonly dataDir: string,
    readonly partitions: number,
    readonly from: 'dist' | 'src',
    readonly profileDir: string | null = null,
  ) {
    this.logsTopic = `silt.bench.${name}.logs-${this.suffix}`;
    this.nodesTopic = `silt.bench.${name}.nodes-${this.suffix}`;
    fs.mkdirSync(dataDir, { recursive: true });
  }

  /** Environment every service of this cluster shares. */
  env(): Record<string, string> {
    return {
      SILT_KAFKA_BROKERS: this.kafka.brokers.join(','),
      SILT_KAFKA_LOGS_TOPIC: this.logsTopic,
      SILT_KAFKA_NODES_TOPIC: this.nodesTopic,
      SILT_PARTITIONS: String(this.partitions),
      SILT_DATA_DIR: this.dataDir,
      SILT_STORAGE_GROUP_PREFIX: `silt-bench-${this.name}-${this.suffix}-`,
      SILT_STORAGE_SESSION_TIMEOUT_MS: '6000',
      SILT_STORAGE_ANNOUNCE_INTERVAL_MS: '1000',
      // A full scan of the largest volume may take longer than the interactive defaults allow.
      SILT_QUERY_TIMEOUT_MS: '600000',
      SILT_QUERY_NODE_TIMEOUT_MS: '600000',
      SILT_LOG_LEVEL: 'warn',
      // The benchmark pushes over HTTP only; syslog's fixed ports would collide with any other ingest on the machine.
      SILT_INGEST_SYSLOG_ENABLED: 'false',
    };
  }

  private entry(kind: ServiceKind): string[] {
    if (this.from === 'src') return ['-r', REGISTER, path.join(ROOT, kind, 'src/main.ts')];
    const built = path.join(ROOT, 'dist', kind, 'src/main.js');
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first, or pass --services src`);
    return [built];
  }

  /** Spawns a service on a free port (with `args` after its entry, such as `--config FILE`) and waits until /readyz answers 200. */
  async start(kind: ServiceKind, name: string, extraEnv: Record<string, string> = {}, args: readonly string[] = []): Promise<ServiceUnderTest> {
    const port = await freePort();
    const portEnv: Record<ServiceKind, Record<string, string>> = {
      ingest: { SILT_INGEST_PORT: String(port), SILT_INGEST_HOST: '127.0.0.1' },
      'storage-node': { SILT_STORAGE_PORT: String(port), SILT_STORAGE_HOST: '127.0.0.1' },
      query: { SILT_QUERY_PORT: String(port), SILT_QUERY_HOST: '127.0.0.1' },
    };
    const profile = this.profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${this.profileDir}`, `--cpu-prof-name=${this.name}-${name}.cpuprofile`];
    const child = spawn(process.execPath, [...profile, ...this.entry(kind), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...this.env(), ...portEnv[kind], ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const service = new ServiceUnderTest(name, `http://127.0.0.1:${port}`, child);
    this.services.push(service);
    // A /proc read takes microseconds, so sampling on the harness's event loop does not disturb the probes' timings;
    // unref'd so a failed run never waits on it.
    this.sampler ??= setInterval(() => this.sampleAnon(), ANON_SAMPLE_MS).unref();
    try {
      await waitFor(`${name} at ${service.url} to be ready`, async () => {
        if (!service.alive()) throw new Error(`${name} exited:\n${service.output}`);
        return fetch(service.url + '/readyz').then((r) => r.status === 200, () => false);
      }, 120000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${service.output}`);
    }
    return service;
  }

  /** Starts storage node `group` (one node per replica group, so it owns every partition). */
  startStorage(group: number): Promise<ServiceUnderTest> {
    return this.start('storage-node', `storage-${group}`, { SILT_STORAGE_NODE_ID: `bench-r${group}`, SILT_STORAGE_REPLICA_GROUP: String(group) });
  }

  /** The LevelDB directory of storage node `group`. */
  storageDir(group: number): string {
    return path.join(this.dataDir, 'storage', `bench-r${group}`);
  }

  /** The largest RssAnon of service `pid` since it started, sampled every 250 ms and once now; undefined for a process this cluster did not start. */
  anonPeak(pid: number): number | undefined {
    if (!this.services.some((s) => s.pid === pid)) return undefined;
    this.sampleAnon();
    return this.anonPeaks.get(pid);
  }

  private sampleAnon(): void {
    for (const service of this.services) {
      const m = service.alive() ? processMemory(service.pid) : null;
      if (m) this.anonPeaks.set(service.pid, Math.max(this.anonPeaks.get(service.pid) ?? 0, m.anon));
    }
  }

  /** Stops the memory sampler and every service. */
  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    await Promise.all(this.services.map((s) => s.stop()));
  }
}

/** Bytes of every file under `dir` (apparent sizes, like `du --apparent-size`); 0 when it does not exist. */
export function dirBytes(dir: string, accept: (file: string) => boolean = () => true): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(full, accept);
    else if (e.isFile() && accept(e.name)) {
      try {
        total += fs.statSync(full).size;
      } catch {
        // LevelDB removed the file while we walked (compaction).
      }
    }
  }
  return total;
}

/** Bytes of a topic's record batches in the broker's log dirs: the `.log` segment files of its partitions (not the preallocated indexes). */
export function kafkaTopicBytes(logDir: string, topic: string): number {
  let total = 0;
  for (const name of fs.readdirSync(logDir)) {
    if (name.startsWith(topic + '-') && /^\d+$/.test(name.slice(topic.length + 1))) total += dirBytes(path.join(logDir, name), (f) => f.endsWith('.log'));
  }
  return total;
}

/** Memory of a process from /proc: resident now, its peak (VmHWM), and the anonymous and file-backed parts of resident now, in bytes; null once it is gone. */
export function processMemory(pid: number): { rss: number; peak: number; anon: number; file: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far; null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times; 100 on every mainstream kernel build. */
const CLOCK_TICKS = 100;
