/**
 * The plugins phase (`--scenario plugins`): what auth, limits and pipeline rules cost ingest, whether
 * a tenant pushing over its rate slows the others, and what the results cache does for a dashboard.
 *
 * 1. Three ingest processes on one topic, no consumer: one without plugins, one with auth (every
 *    push carries a key) and limits (a rate far above the load, so every push goes through the
 *    buckets), one with those and pipeline rules (relabel, redact, drop) for the bench tenant.
 *    Closed loop, in interleaved rounds.
 * 2. On the plugin ingest, the bench tenant at half rate, open loop, alone and then while another
 *    tenant pushes at 3x its (small) rate and is refused with 429s.
 * 3. A storage node, and two query services, one with the cache: a day of entries over the last six
 *    hours, then a dashboard query over a window sliding by one step, asked of each in turn.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hashKey } from '../../core/src/auth/key-ring';
import { clockFor, type Clock } from './bodies';
import { SiltCluster, type KafkaUnderTest, type ServiceUnderTest } from './cluster';
import type { LoadGenerator } from './load-client';
import type { LoadJob } from './load-protocol';
import { CpuMeter, figures, warmUpMs } from './measure';
import type { BenchOptions } from './options';
import type { PluginFigures } from './results';
import { sleep, summarize, wallMs } from './stats';

const TENANT = 'bench';
const FLOOD_TENANT = 'flood';
const KEY = 'bench-api-key-0123456789abcdef';
const DAY_MS = 24 * 3600 * 1000;
/** Short runs in many rotating rounds: the shared machine's swings fall on every variant alike, and medians shrug off a disturbed run. */
const ROUNDS = 6;
/** Alternations of the bench tenant alone and beside the flooding tenant, sharing the half-rate phase's time. */
const ISOLATION_PAIRS = 4;
/** The flooding tenant's rate (line bytes/s): it pushes three times this. */
const FLOOD_RATE = 1_000_000;
const FLOOD_BODY_LINES = 200;
const FLOOD_LINE_BYTES = 250;
const MINUTE_NS = 60_000_000_000n;
/** Entries of the cache part, spread over its six hours. */
const CACHE_ENTRIES = 1_000_000;
const CACHE_APPS = 8;

/** Auth and limits: the config of the second ingest. */
function authAndLimits(): Record<string, unknown> {
  return {
    auth: { enabled: true, keys: [{ name: 'bench', sha256: hashKey(KEY), tenants: [TENANT, FLOOD_TENANT], scopes: ['push', 'query'] }] },
    limits: {
      defaults: { ingestionRateBytes: 10_000_000_000, ingestionRateEntries: 100_000_000, maxStreams: 100_000 },
      tenants: { [FLOOD_TENANT]: { ingestionRateBytes: FLOOD_RATE, ingestionBurstBytes: FLOOD_RATE } },
    },
  };
}

/** Auth, limits and pipeline rules: the config of the third ingest and of the cached query service. */
function withPipeline(): Record<string, unknown> {
  return {
    ...authAndLimits(),
    plugins: [
      { name: 'relabel', options: { tenants: [TENANT], rules: [{ source_labels: ['app'], regex: '(.+)', target_label: 'service', replacement: 'svc-$1' }] } },
      { name: 'redact', options: { tenants: [TENANT], patterns: ['\\b\\d{16}\\b', '[\\w.+-]+@[\\w-]+\\.[\\w.]+'] } },
      { name: 'drop', options: { tenants: [TENANT], query: '{app="never-there"} |= "x"' } },
    ],
  };
}

const auth = { Authorization: `Bearer ${KEY}` };

/** Pushes `FLOOD_TENANT` at 3x its rate until `stop()`; counts what was accepted and refused. */
function flood(url: string): { stop(): Promise<{ sent: number; accepted: number; refused: number; otherStatuses: number }> } {
  const line = 'x'.repeat(FLOOD_LINE_BYTES);
  const body = JSON.stringify({ streams: [{ labels: { app: 'flood' }, entries: Array.from({ length: FLOOD_BODY_LINES }, () => ({ line })) }] });
  const everyMs = (FLOOD_BODY_LINES * FLOOD_LINE_BYTES * 1000) / (3 * FLOOD_RATE);
  const counts = { sent: 0, accepted: 0, refused: 0, otherStatuses: 0 };
  let stopping = false;
  const loop = (async () => {
    const began = wallMs();
    for (let i = 0; !stopping; i++) {
      const due = began + i * everyMs;
      if (due > wallMs()) await sleep(due - wallMs());
      counts.sent++;
      const res = await fetch(`${url}/api/v1/push`, { method: 'POST', body, headers: { ...auth, 'Content-Type': 'application/json', 'X-Scope-OrgID': FLOOD_TENANT } });
      await res.arrayBuffer();
      if (res.status === 200) counts.accepted++;
      else if (res.status === 429) counts.refused++;
      else counts.otherStatuses++;
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return counts;
    },
  };
}

/** Ingest with and without plugins, and a flooding tenant beside the bench tenant. */
async function ingestParts(options: BenchOptions, cluster: SiltCluster, generator: LoadGenerator, files: { authLimits: string; pipeline: string }, kafka: KafkaUnderTest): Promise<Omit<PluginFigures, 'cache'>> {
  const plain = await cluster.start('ingest', 'ingest-plain');
  const guarded = await cluster.start('ingest', 'ingest-auth-limits', {}, ['--config', files.authLimits]);
  const plugged = await cluster.start('ingest', 'ingest-plugins', {}, ['--config', files.pipeline]);
  const runMs = (options.durationS * 1000) / ROUNDS;
  const seconds = (3 * ROUNDS * (runMs + warmUpMs(runMs / 1000)) + 2 * options.halfDurationS * 1000 + 2 * ISOLATION_PAIRS * warmUpMs(options.halfDurationS / ISOLATION_PAIRS)) / 1000;
  const clock: Clock = clockFor(Math.max(1, seconds * 400_000), DAY_MS, 5 * DAY_MS);
  let seq = 0;
  const run = async (ingest: ServiceUnderTest, extra: Partial<LoadJob>, measureMs: number): Promise<ReturnType<typeof figures>> => {
    const job = (durationMs: number): LoadJob => ({ url: ingest.url, tenant: TENANT, connections: options.connections, clock, firstSeq: seq, durationMs, ...(ingest === plain ? {} : { headers: auth }), ...extra });
    const warm = await generator.run(job(warmUpMs(measureMs / 1000)));
    seq = warm.nextSeq;
    const cpu = new CpuMeter({ ingest: ingest.pid, kafka: kafka.pid, 'load generator': generator.pid }).start();
    const result = await generator.run(job(measureMs));
    seq = result.nextSeq;
    return figures(result, cpu.stop());
  };
  const rounds: PluginFigures['rounds'] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Each round's order rotates, so drift on the shared machine falls on all alike.
    const all = [
      { ingest: plain, key: 'plain' as const },
      { ingest: guarded, key: 'authLimits' as const },
      { ingest: plugged, key: 'plugins' as const },
    ];
    const out: Partial<PluginFigures['rounds'][number]> = {};
    for (let k = 0; k < all.length; k++) {
      const { ingest, key } = all[(k + round) % all.length]!;
      const f = await run(ingest, {}, runMs);
      out[key] = f;
      process.stderr.write(`[bench] plugins: round ${round + 1}/${ROUNDS} ${key} ${Math.round(f.entriesPerS)} entries/s\n`);
    }
    rounds.push(out as PluginFigures['rounds'][number]);
  }
  await plain.stop();
  await guarded.stop();
  const halfRate = Math.min(...rounds.map((r) => r.plugins.entriesPerS)) / 2;
  // Alone and flooded in alternation: the spread of the runs alone is the noise a flooded run is judged against.
  const pairs: PluginFigures['isolation']['pairs'] = [];
  const totals = { sent: 0, accepted: 0, refused: 0, otherStatuses: 0 };
  const pairMs = (options.halfDurationS * 1000) / ISOLATION_PAIRS;
  for (let i = 0; i < ISOLATION_PAIRS; i++) {
    const alone = await run(plugged, { ratePerS: halfRate }, pairMs);
    const flooding = flood(plugged.url);
    const flooded = await run(plugged, { ratePerS: halfRate }, pairMs);
    const counts = await flooding.stop();
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += counts[k];
    pairs.push({ alone, flooded });
    process.stderr.write(`[bench] plugins: half rate ack p99 alone ${alone.ack.p99.toFixed(1)} ms, beside a flooding tenant ${flooded.ack.p99.toFixed(1)} ms (${counts.refused} of ${counts.sent} flood pushes refused)\n`);
  }
  await plugged.stop();
  return { rounds, isolation: { halfRatePerS: halfRate, pairs, flood: { ...totals, ratePerS: FLOOD_RATE } } };
}

/** The dashboard query with and without the results cache. */
async function cachePart(options: BenchOptions, cluster: SiltCluster, configFile: string): Promise<PluginFigures['cache']> {
  await cluster.startStorage(0);
  const ingest = await cluster.start('ingest', 'ingest-cache');
  const plainQuery = await cluster.start('query', 'query-plain');
  const cachedQuery = await cluster.start('query', 'query-cached', {}, ['--config', configFile]);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const span = 6n * 60n * MINUTE_NS;
  const entries = options.quick ? 20_000 : CACHE_ENTRIES;
  const perBody = 5000;
  let token = '';
  for (let first = 0; first < entries; first += perBody) {
    const streams = Array.from({ length: CACHE_APPS }, (_, a) => ({
      labels: { app: `app-${a}` },
      entries: [] as { ts: string; line: string }[],
    }));
    for (let i = first; i < Math.min(entries, first + perBody); i++) {
      const ts = nowNs - span + (span * BigInt(i)) / BigInt(entries);
      streams[i % CACHE_APPS]!.entries.push({ ts: ts.toString(), line: `GET /api/items/${i % 977} 200 ${i % 89}ms user=${i % 131}` });
    }
    const res = await fetch(`${ingest.url}/api/v1/push`, { method: 'POST', body: JSON.stringify({ streams }), headers: { ...auth, 'Content-Type': 'application/json', 'X-Scope-OrgID': TENANT } });
    if (res.status !== 200) throw new Error(`cache load: push answered ${res.status}: ${await res.text()}`);
    token = ((await res.json()) as { token: string }).token;
  }
  await ingest.stop();
  // Both query services read the same node: wait until it holds the last push.
  const node = cluster.services.find((s) => s.name === 'storage-0')!;
  for (const started = wallMs(); wallMs() - started < 300_000; await sleep(200)) {
    const res = await fetch(`${node.url}/internal/v1/read?${new URLSearchParams({ query: '{app="app-0"}', start: '0', end: String(nowNs + MINUTE_NS), limit: '1', token })}`, { headers: { 'X-Scope-OrgID': TENANT } });
    await res.arrayBuffer();
    if (res.status === 200) break;
  }
  const queries = options.quick ? 5 : 30;
  const end0 = (nowNs / MINUTE_NS) * MINUTE_NS;
  const timings = { without: [] as number[], with: [] as number[] };
  const ask = async (service: ServiceUnderTest, i: number): Promise<number> => {
    const end = end0 + BigInt(i) * MINUTE_NS;
    const params = new URLSearchParams({ query: 'sum by (app) (count_over_time({app=~"app-.*"}[1m]))', start: String(end - span), end: String(end), step: '60' });
    const began = wallMs();
    const res = await fetch(`${service.url}/loki/api/v1/query_range?${params}`, { headers: { ...auth, 'X-Scope-OrgID': TENANT } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`dashboard query answered ${res.status}`);
    return wallMs() - began;
  };
  for (let i = 0; i < queries; i++) {
    timings.without.push(await ask(plainQuery, i));
    timings.with.push(await ask(cachedQuery, i));
  }
  const metrics = await (await fetch(`${cachedQuery.url}/metrics`)).text();
  const count = (result: string): number => Number(new RegExp(`silt_query_cache_requests_total\\{kind="metric",result="${result}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  const figures = { queries, entries, withoutMs: summarize(timings.without), withMs: summarize(timings.with), hits: count('hit'), misses: count('miss'), stale: count('stale') };
  process.stderr.write(`[bench] cache: dashboard p50 ${figures.withoutMs.p50.toFixed(1)} ms without, ${figures.withMs.p50.toFixed(1)} ms with (${figures.hits} hits, ${figures.misses} misses)\n`);
  return figures;
}

/** Runs the plugins phase; see the module comment. */
export async function pluginsPhase(options: BenchOptions, kafka: KafkaUnderTest, generator: LoadGenerator, dir: string): Promise<PluginFigures> {
  const files = { authLimits: path.join(dir, 'auth-limits.json'), pipeline: path.join(dir, 'pipeline.json') };
  fs.writeFileSync(files.authLimits, JSON.stringify(authAndLimits()));
  fs.writeFileSync(files.pipeline, JSON.stringify({ ...withPipeline(), cache: { enabled: true, maxBytes: 64 * 1024 * 1024, splitIntervalMs: 3600_000 } }));
  const ingestCluster = new SiltCluster(kafka, 'plugins', path.join(dir, 'plugins'), 8, options.services, options.profileDir);
  let parts: Omit<PluginFigures, 'cache'>;
  try {
    parts = await ingestParts(options, ingestCluster, generator, files, kafka);
  } catch (err) {
    for (const s of ingestCluster.services) if (s.output.trim()) process.stderr.write(`${s.name} output:\n${s.output.slice(-3000)}\n`);
    throw err;
  } finally {
    await ingestCluster.stop();
  }
  const cacheCluster = new SiltCluster(kafka, 'cache', path.join(dir, 'cache'), 8, options.services, options.profileDir);
  try {
    return { ...parts, cache: await cachePart(options, cacheCluster, files.pipeline) };
  } catch (err) {
    for (const s of cacheCluster.services) if (s.output.trim()) process.stderr.write(`${s.name} output:\n${s.output.slice(-3000)}\n`);
    throw err;
  } finally {
    await cacheCluster.stop();
  }
}
