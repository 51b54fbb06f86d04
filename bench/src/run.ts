/**
 * The Silt benchmark (`npm run bench`): starts the whole cluster as processes on this machine,
 * replays the Loghub corpus, and writes bench/RESULTS.md and bench/results.json. `--help` lists the
 * options; bench/README.md explains the scenarios.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG } from '../../core/src/config';
import { decodeWriteToken } from '../../core/src/write-token';
import { loadCorpus, type CorpusStream } from '../../test/support/corpus';
import { CpuMeter, figures, warmUpMs } from './measure';
import { clockFor, lineOfEntry, streamOfEntry, type Clock } from './bodies';
import { dirBytes, kafkaTopicBytes, openKafka, processMemory, SiltCluster, type KafkaUnderTest, type ServiceUnderTest } from './cluster';
import { measureLimits } from './limits';
import { LoadGenerator } from './load-client';
import type { LoadJob } from './load-protocol';
import { commandLine, currentCommit, machineInfo } from './machine';
import { parseOptions, type BenchOptions } from './options';
import { pluginsPhase } from './plugins-phase';
import { MarkerProbe } from './probes';
import { PROTOCOLS, type PushProtocol } from './protocol-bodies';
import { runQueries } from './queries';
import { runWordQueries } from './word-queries';
import { renderMarkdown } from './report';
import type { BenchResults, IngestFigures, Memory, ProtocolFigures, ProtocolRun, ScaleFigures } from './results';
import { sleep, summarize, wallMs } from './stats';

const PARTITIONS = DEFAULT_CONFIG.kafka.partitions;
const TENANT = 'bench';
const DAY_MS = 24 * 3600 * 1000;
/** Markers a second beside the half-rate loads. */
const MARKER_EVERY_MS = 100;
/** No half rate is expected above this; it bounds the virtual clock so no timestamp lands in the future. */
const MAX_HALF_RATE = 400_000;
/**
 * The protocols phase runs every protocol once per round, for PROTOCOL_ROUNDS rounds, each round's
 * order rotated by one: the shared machine's drift and bursts then fall on every protocol alike, and
 * the report's medians over rounds shrug off a disturbed run.
 */
const PROTOCOL_ORDER: readonly PushProtocol[] = ['native', 'loki', 'otlp', 'elastic'];
const PROTOCOL_ROUNDS = 5;
/** Unmeasured load before each run of the protocols phase: after the first round the JIT is warm, this only lets the previous protocol's requests, blocks and garbage clear. */
const PROTOCOL_WARM_UP_MS = 1500;

/** The protocols in the order of round `round`. */
function protocolRound(round: number): PushProtocol[] {
  return PROTOCOL_ORDER.map((_, i) => PROTOCOL_ORDER[(i + round) % PROTOCOL_ORDER.length]!);
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function memories(pids: Record<string, number | null>, cluster: SiltCluster): Record<string, Memory> {
  const out: Record<string, Memory> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const m = pid === null ? null : processMemory(pid);
    const anonPeak = pid === null ? undefined : cluster.anonPeak(pid);
    if (m) out[name] = { peak: m.peak, now: m.rss, ...(anonPeak === undefined ? {} : { anonPeak }), fileNow: m.file };
  }
  return out;
}

/** Entries of the bench tenant ingest counts as acknowledged by Kafka (its /metrics). */
async function acceptedEntries(ingest: ServiceUnderTest): Promise<number> {
  const text = await (await fetch(`${ingest.url}/metrics`)).text();
  return Number(new RegExp(`^silt_ingest_entries_accepted_total\\{tenant="${TENANT}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** Resolves with the wall time at which every node has applied every offset of `token`. */
async function appliedEverywhere(nodes: ServiceUnderTest[], token: string, timeoutMs: number): Promise<number> {
  const wanted = decodeWriteToken(token);
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(nodes);
  while (pending.size > 0) {
    for (const node of [...pending]) {
      const state = (await (await fetch(`${node.url}/internal/v1/state`)).json()) as { partitions: { partition: number; appliedOffset: string }[] };
      const applied = new Map(state.partitions.map((p) => [p.partition, BigInt(p.appliedOffset)]));
      if ([...wanted].every(([p, o]) => (applied.get(p) ?? -1n) > o)) pending.delete(node);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) throw new Error(`${[...pending].map((n) => n.name).join(', ')} did not apply the load within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
  return wallMs();
}

/** Waits until no storage node has small frames queued for merging (their /metrics); returns the wall clock then. */
async function mergesSettled(nodes: ServiceUnderTest[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  // Compactions queued, and small frames still waiting for the idle close-out that queues them.
  const queued = async (node: ServiceUnderTest): Promise<number> => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const gauge = (name: string): number => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return gauge('silt_storage_merges_queued') + gauge('silt_storage_small_frames_pending');
  };
  for (;;) {
    const counts = await Promise.all(nodes.map(queued));
    if (counts.every((n) => n === 0)) return wallMs();
    if (Date.now() > deadline) throw new Error(`storage nodes still have ${counts.join(', ')} merges queued after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** The ingest-only phase: one ingest process on its own topic, no consumer. */
async function ingestPhase(options: BenchOptions, kafka: KafkaUnderTest, generator: LoadGenerator, dir: string): Promise<IngestFigures> {
  const cluster = new SiltCluster(kafka, 'ingest', path.join(dir, 'ingest'), PARTITIONS, options.services, options.profileDir);
  try {
    const ingest = await cluster.start('ingest', 'ingest');
    const pids = { ingest: ingest.pid, kafka: kafka.pid, 'load generator': generator.pid };
    const seconds = options.durationS + options.halfDurationS;
    // Far enough in the past that even twice the expected entries stay behind now.
    const clock: Clock = clockFor(Math.max(1, seconds * MAX_HALF_RATE), DAY_MS, 5 * DAY_MS);
    const job = (extra: Partial<LoadJob>, firstSeq: number): LoadJob => ({ url: ingest.url, tenant: TENANT, connections: options.connections, clock, firstSeq, ...extra });
    log('ingest: warming up');
    const warm = await generator.run(job({ durationMs: warmUpMs(options.durationS) }, 0));
    log(`ingest: full load for ${options.durationS} s`);
    const cpu = new CpuMeter(pids).start();
    const full = await generator.run(job({ durationMs: options.durationS * 1000 }, warm.nextSeq));
    const fullFigures = figures(full, cpu.stop());
    log(`ingest: ${Math.round(fullFigures.entriesPerS)} entries/s, ack p99 ${fullFigures.ack.p99.toFixed(1)} ms`);
    const targetPerS = fullFigures.entriesPerS / 2;
    log(`ingest: half rate (${Math.round(targetPerS)} entries/s) for ${options.halfDurationS} s`);
    const halfCpu = new CpuMeter(pids).start();
    const half = await generator.run(job({ durationMs: options.halfDurationS * 1000, ratePerS: targetPerS }, full.nextSeq));
    const halfFigures = figures(half, halfCpu.stop());
    log(`ingest: half rate ack p50 ${halfFigures.ack.p50.toFixed(1)} ms, p99 ${halfFigures.ack.p99.toFixed(1)} ms`);
    return { full: fullFigures, half: { ...halfFigures, targetPerS }, memory: memories({ ingest: ingest.pid }, cluster) };
  } finally {
    await cluster.stop();
  }
}

/**
 * The protocols phase: one ingest process on its own topic, no consumer, each shipper protocol
 * closed loop in interleaved rounds; `--duration` is each protocol's measured seconds in all, split
 * over the rounds.
 */
async function protocolsPhase(options: BenchOptions, kafka: KafkaUnderTest, generator: LoadGenerator, dir: string): Promise<ProtocolFigures> {
  const cluster = new SiltCluster(kafka, 'protocols', path.join(dir, 'protocols'), PARTITIONS, options.services, options.profileDir);
  try {
    const ingest = await cluster.start('ingest', 'ingest');
    const pids = { ingest: ingest.pid, kafka: kafka.pid, 'load generator': generator.pid };
    const runMs = (options.protocolDurationS * 1000) / PROTOCOL_ROUNDS;
    // A quick run's runs are too short for a full warm-up each.
    const warmUp = Math.min(PROTOCOL_WARM_UP_MS, runMs / 2);
    const seconds = (PROTOCOL_ROUNDS * PROTOCOL_ORDER.length * (runMs + warmUp)) / 1000;
    const clock: Clock = clockFor(Math.max(1, seconds * MAX_HALF_RATE), DAY_MS, 5 * DAY_MS);
    const runs: ProtocolRun[] = [];
    let seq = 0;
    for (let round = 0; round < PROTOCOL_ROUNDS; round++) {
      for (const protocol of protocolRound(round)) {
        const job = (durationMs: number, firstSeq: number): LoadJob => ({ url: ingest.url, tenant: TENANT, connections: options.protocolConnections, clock, firstSeq, durationMs, protocol });
        const name = PROTOCOLS[protocol].name;
        const acceptedBefore = await acceptedEntries(ingest);
        const warm = await generator.run(job(warmUp, seq));
        const cpu = new CpuMeter(pids).start();
        const full = await generator.run(job(runMs, warm.nextSeq));
        const run = { protocol, ...figures(full, cpu.stop()), bodyBytesPerEntry: full.bodyBytes / full.entries };
        // A 2xx answer must mean every entry of the body was taken, or the figures would flatter the protocol.
        const accepted = (await acceptedEntries(ingest)) - acceptedBefore;
        if (accepted !== warm.entries + full.entries) throw new Error(`${name}: ingest accepted ${accepted} of the ${warm.entries + full.entries} entries answered 2xx`);
        seq = full.nextSeq;
        runs.push(run);
        log(`protocols: round ${round + 1}/${PROTOCOL_ROUNDS} ${name} ${Math.round(run.entriesPerS)} entries/s, ack p99 ${run.ack.p99.toFixed(1)} ms, ingest ${(run.cpu.ingest ?? NaN).toFixed(2)} cores`);
      }
    }
    return { runs, warmUpS: warmUp / 1000 };
  } catch (err) {
    for (const s of cluster.services) if (s.output.trim()) log(`${s.name} output:\n${s.output.slice(-3000)}`);
    throw err;
  } finally {
    await cluster.stop();
  }
}

/** The cluster phases: grow the data through every volume, measuring e2e, lag, tail, disk, queries and memory at each. */
async function clusterPhase(options: BenchOptions, kafka: KafkaUnderTest, generator: LoadGenerator, dir: string, corpus: CorpusStream[]): Promise<ScaleFigures[]> {
  const cluster = new SiltCluster(kafka, 'main', path.join(dir, 'main'), PARTITIONS, options.services, options.profileDir);
  const probesWanted = ['all', 'e2e', 'tail'].includes(options.scenario);
  const queriesWanted = ['all', 'query'].includes(options.scenario);
  const out: ScaleFigures[] = [];
  try {
    log('cluster: starting 2 storage nodes, ingest and query');
    const nodes = await Promise.all([cluster.startStorage(0), cluster.startStorage(1)]);
    const ingest = await cluster.start('ingest', 'ingest');
    const query = await cluster.start('query', 'query');
    const servicePids = { ingest: ingest.pid, 'storage-0': nodes[0].pid, 'storage-1': nodes[1].pid, query: query.pid, kafka: kafka.pid };
    const pids = { ...servicePids, 'load generator': generator.pid };
    const maxEntries = options.unit * options.scales[options.scales.length - 1]! + (probesWanted ? options.scales.length * options.halfDurationS * MAX_HALF_RATE : 0);
    const clock = clockFor(maxEntries, 5 * DAY_MS, DAY_MS);
    const probe = new MarkerProbe(ingest.url, query.url, nodes.map((n) => n.url), TENANT);
    const job = (extra: Partial<LoadJob>, firstSeq: number): LoadJob => ({ url: ingest.url, tenant: TENANT, connections: options.connections, clock, firstSeq, ...extra });
    let seq = 0;
    let loaded = 0;
    let lineBytes = 0;

    for (const scale of options.scales) {
      // The half-rate phase of the previous volume already stored some of this step's entries.
      const want = scale * options.unit - loaded;
      if (want < options.batch) log(`${scale}x: the previous half-rate phase overshot this volume; pushing one batch only (use a larger --unit)`);
      log(`${scale}x: pushing ${want} entries at full load`);
      const cpu = new CpuMeter(pids).start();
      const load = await generator.run(job({ entries: Math.max(options.batch, want) }, seq));
      const storedAt = await appliedEverywhere(nodes, load.token, 30 * 60 * 1000);
      const loadCpu = cpu.stop();
      seq = load.nextSeq;
      loaded += load.entries;
      lineBytes += load.lineBytes;
      const storedSeconds = (storedAt - load.startedAt) / 1000;
      const loadFigures = { ...figures(load, loadCpu), storedSeconds, storedPerS: load.entries / storedSeconds };
      log(`${scale}x: ${Math.round(loadFigures.entriesPerS)} entries/s acknowledged, ${Math.round(loadFigures.storedPerS)} entries/s stored in both groups (${storedSeconds.toFixed(1)} s)`);

      // Disk and queries are measured once background merging has caught up with the load.
      const mergedAt = await mergesSettled(nodes, 30 * 60 * 1000);
      log(`${scale}x: small frames merged ${((mergedAt - storedAt) / 1000).toFixed(1)} s after the load was stored`);
      const entries = loaded + probe.pushed;
      const disk = {
        mergeSeconds: (mergedAt - storedAt) / 1000,
        entries,
        lineBytes,
        kafkaBytes: kafka.logDir ? kafkaTopicBytes(kafka.logDir, cluster.logsTopic) : null,
        levelDbBytes: [0, 1].map((g) => dirBytes(cluster.storageDir(g))),
      };
      let queries: ScaleFigures['queries'];
      let storage: ScaleFigures['storage'];
      if (queriesWanted) {
        log(`${scale}x: queries`);
        queries = await runQueries({
          queryUrl: query.url,
          tenant: TENANT,
          data: { clock, entries: seq, streams: corpus.map((s) => s.app), streamOf: streamOfEntry(corpus, options.batch) },
          pointQueries: options.pointQueries,
          scanQueries: options.scanQueries,
        });
        log(
          `${scale}x: (a) p99 ${queries.newest.p99.toFixed(1)} ms, (b) p99 ${queries.window.p99.toFixed(1)} ms, scan ${Math.round(queries.scanEntriesPerS)} entries/s, ` +
            `metric p50 ${queries.metric.p50.toFixed(0)} ms, ${Math.round(queries.metricEntriesPerS)} entries/s aggregated (${queries.metricToScan.toFixed(2)}x the scan)`,
        );
        storage = await runWordQueries({
          ingestUrl: ingest.url,
          queryUrl: query.url,
          tenant: TENANT,
          data: { clock, entries: seq, streams: corpus.map((s) => s.app), streamOf: streamOfEntry(corpus, options.batch), lineOf: lineOfEntry(corpus, options.batch) },
          lines: corpus.flatMap((s) => s.lines),
          runs: options.scanQueries,
        });
        log(
          `${scale}x: (e) rare word p50 ${storage.rareScan.p50.toFixed(0)} ms, (f) common word count p50 ${storage.commonCount.p50.toFixed(0)} ms, ` +
            `(g) count per stream p50 ${storage.countPerStream.p50.toFixed(1)} ms, (h) needle p50 ${storage.needle.p50.toFixed(1)} ms (${storage.needleSpeedup.toFixed(1)}x faster than (e))`,
        );
      }
      let probes: ScaleFigures['probes'];
      if (probesWanted) {
        const targetPerS = loadFigures.storedPerS / 2;
        log(`${scale}x: half rate (${Math.round(targetPerS)} entries/s) for ${options.halfDurationS} s with lag markers and a tail`);
        const tail = await probe.openTail();
        const halfCpu = new CpuMeter(pids).start();
        const [half, seen] = await Promise.all([
          generator.run(job({ durationMs: options.halfDurationS * 1000, ratePerS: targetPerS }, seq)),
          probe.run(tail, options.halfDurationS * 1000, MARKER_EVERY_MS),
        ]);
        await appliedEverywhere(nodes, half.token, 10 * 60 * 1000);
        seq = half.nextSeq;
        loaded += half.entries;
        lineBytes += half.lineBytes;
        probes = {
          targetPerS,
          load: figures(half, halfCpu.stop()),
          lag: summarize(seen.lagMs),
          markerAck: summarize(seen.ackMs),
          tail: summarize(seen.tailMs),
          tailBeforeAck: seen.tailBeforeAck,
          tailMissing: seen.tailMissing,
          lagMissing: seen.lagMissing,
        };
        log(`${scale}x: lag p50 ${probes.lag.p50.toFixed(0)} ms p99 ${probes.lag.p99.toFixed(0)} ms; tail p50 ${probes.tail.p50.toFixed(0)} ms p99 ${probes.tail.p99.toFixed(0)} ms`);
      }

      // Disk and queries above were measured at exactly this volume; the half-rate phase then adds to it.
      out.push({ scale, entries, load: loadFigures, ...(probes ? { probes } : {}), disk, ...(queries ? { queries } : {}), ...(storage ? { storage } : {}), memory: memories(servicePids, cluster) });
    }
    return out;
  } catch (err) {
    for (const s of cluster.services) if (s.output.trim()) log(`${s.name} output:\n${s.output.slice(-3000)}`);
    throw err;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const began = Date.now();
  const loadAverage = os.loadavg();
  const corpus = loadCorpus();
  log('physical limits: zstd and JSON.parse on one core');
  const limits = measureLimits(corpus, DEFAULT_CONFIG.ingest.zstdLevel, options.quick ? 300 : 3000);
  log(`limits: compress ${limits.compressMBps.toFixed(0)} MB/s, decompress ${limits.decompressMBps.toFixed(0)} MB/s, JSON.parse ${Math.round(limits.jsonParseLinesPerS)} lines/s`);
  const results: BenchResults = {
    startedAt: new Date(began).toISOString(),
    seconds: 0,
    command: commandLine(),
    commit: currentCommit(),
    machine: machineInfo(),
    options,
    externalKafka: Boolean(process.env.SILT_KAFKA_BROKERS),
    partitions: PARTITIONS,
    loadAverage,
    limits,
    scales: [],
  };

  if (options.scenario !== 'limits') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-bench-'));
    let kafka: KafkaUnderTest | null = null;
    let generator: LoadGenerator | null = null;
    try {
      log(results.externalKafka ? `using the broker at ${process.env.SILT_KAFKA_BROKERS}` : 'starting a Kafka broker');
      kafka = await openKafka(dir, log);
      generator = await LoadGenerator.start(options.batch);
      if (options.scenario === 'all' || options.scenario === 'ingest') results.ingest = await ingestPhase(options, kafka, generator, dir);
      if (options.scenario === 'all' || options.scenario === 'protocols') results.protocols = await protocolsPhase(options, kafka, generator, dir);
      if (options.scenario === 'all' || options.scenario === 'plugins') results.plugins = await pluginsPhase(options, kafka, generator, dir);
      if (['all', 'e2e', 'query', 'tail'].includes(options.scenario)) results.scales = await clusterPhase(options, kafka, generator, dir, corpus);
    } finally {
      await generator?.stop();
      await kafka?.stop();
      if (options.keep) log(`data kept in ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  results.seconds = (Date.now() - began) / 1000;
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.mkdirSync(path.dirname(options.json), { recursive: true });
  fs.writeFileSync(options.json, JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(options.out, renderMarkdown(results));
  log(`done in ${(results.seconds / 60).toFixed(1)} min: ${options.out}, ${options.json}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
