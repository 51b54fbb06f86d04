/** The Grafana dashboard and the Prometheus files in infra/ name only metrics the services publish. */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG } from '../../core/src/config';

const ROOT = path.resolve(__dirname, '../..');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every metric name the services register: literal `silt_…` names, and the per-service ones made from `silt_${ctx.service}_…`. */
function published(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['core/src', 'ingest/src', 'query/src', 'storage-node/src']) {
    for (const file of sources(path.join(ROOT, dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/['`](silt_[a-z_]+)['`]/g)) names.add(m[1]!);
      for (const m of text.matchAll(/`silt_\$\{ctx\.service\}_([a-z_]+)`/g)) for (const s of ['ingest', 'query', 'storage']) names.add(`silt_${s}_${m[1]}`);
    }
  }
  return names;
}

/** Metric names in PromQL text (histogram series resolved to their histogram). */
function referenced(promql: string): string[] {
  return [...promql.matchAll(/\b(silt_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ''));
}

describe('infra > monitoring files', () => {
  const names = published();

  it('the dashboard queries published metrics only, one panel per concern the issue lists', () => {
    const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'infra/grafana/silt-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
    for (const name of exprs.flatMap(referenced)) expect([name, names.has(name)]).toEqual([name, true]);
    const titles = dash.panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['rejections', 'lag per partition and replica group', 'disk', 'merges', 'latency', 'cache hit ratio', 'rate-limited']) expect(titles).toContain(topic);
  });

  it('the alert rules use published metrics and cover lag, a replica group without a caught-up holder, 5xx and disk', () => {
    const rules = fs.readFileSync(path.join(ROOT, 'infra/prometheus/silt-alerts.yml'), 'utf8');
    for (const name of referenced(rules)) expect([name, names.has(name)]).toEqual([name, true]);
    for (const alert of ['SiltStorageLagHigh', 'SiltReplicaGroupWithoutCaughtUpHolder', 'SiltIngest5xx', 'SiltQuery5xx', 'SiltStorageDiskGrowing']) expect(rules).toContain(`alert: ${alert}`);
    const scrape = fs.readFileSync(path.join(ROOT, 'infra/prometheus/prometheus.yml'), 'utf8');
    // The ports `npm start` gives ingest, query and the two storage nodes (DEFAULT_CONFIG).
    const c = DEFAULT_CONFIG;
    const jobs = new Map(scrape.split('- job_name: ').slice(1).map((block) => [block.split('\n')[0]!.trim(), block]));
    for (const [job, port] of [['silt-ingest', c.ingest.port], ['silt-query', c.query.port], ['silt-storage', c.storage.port], ['silt-storage', c.storage.port + 1]] as const) {
      expect([job, jobs.get(job)?.includes(`'localhost:${port}'`)]).toEqual([job, true]);
    }
  });
});
