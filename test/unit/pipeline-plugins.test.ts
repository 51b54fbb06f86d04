import { Registry } from 'prom-client';
import { DEFAULT_AUTH, DEFAULT_CACHE, DEFAULT_LIMITS, type PluginConfig } from '../../core/src/config';
import { ConfigError } from '../../core/src/errors';
import { createLogger } from '../../core/src/logger';
import { loadPlugins, type PushStreamView } from '../../core/src/plugins';
import { applyRule, expandTemplate } from '../../core/src/plugins/builtin/relabel';

function host(plugins: PluginConfig[], registry = new Registry()) {
  return { host: loadPlugins('ingest', { auth: DEFAULT_AUTH, limits: DEFAULT_LIMITS, cache: DEFAULT_CACHE, plugins }, createLogger('silent'), registry), registry };
}

const stream = (labels: Record<string, string>, ...lines: string[]): PushStreamView => ({ labels, entries: lines.map((line, i) => ({ ts: BigInt(i + 1), line })) });

async function counted(registry: Registry): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('silt_ingest_pipeline_entries_total')!.get();
  return Object.fromEntries(m.values.map((v) => [`${v.labels.rule}/${v.labels.action}`, v.value]));
}

describe('plugins > relabel > Prometheus rules', () => {
  const rule = (r: Record<string, unknown>) => {
    const { host: h } = host([{ name: 'relabel', options: { rules: [r] } }]);
    return async (labels: Record<string, string>) => (await h.onPush('t', [stream(labels, 'x')]))[0]?.labels ?? null;
  };

  it('expands $1, ${1}, $name, ${name} and $$ as Go does, absent groups as empty', () => {
    const m = /^(?<a>x)(y)?(z)$/.exec('xz')!;
    expect(expandTemplate('$1-${1}-$a-${a}-$2-$$-$9', m)).toBe('x-x-x-x--$-');
  });

  it('replace joins source labels with the separator, anchors the regex, and an empty result removes the target', async () => {
    const r = rule({ source_labels: ['app', 'env'], separator: '/', regex: '(.+)/(prod|dev)', target_label: 'svc', replacement: '$2-$1' });
    expect(await r({ app: 'api', env: 'prod' })).toEqual({ app: 'api', env: 'prod', svc: 'prod-api' });
    expect(await r({ app: 'api', env: 'production' })).toEqual({ app: 'api', env: 'production' });
    const empty = rule({ source_labels: ['nothing'], regex: '(.*)', target_label: 'app' });
    expect(await empty({ app: 'api', x: '1' })).toEqual({ x: '1' });
  });

  it('keep and drop decide on the joined value; labelmap copies, labeldrop and labelkeep filter names', async () => {
    expect(await rule({ action: 'keep', source_labels: ['env'], regex: 'prod' })({ env: 'prod' })).toEqual({ env: 'prod' });
    expect(await rule({ action: 'keep', source_labels: ['env'], regex: 'prod' })({ env: 'prod2' })).toBeNull();
    expect(await rule({ action: 'drop', source_labels: ['env'], regex: 'dev|test' })({ env: 'dev' })).toBeNull();
    expect(await rule({ action: 'labelmap', regex: 'k8s_(.+)', replacement: '$1' })({ k8s_pod: 'p1', app: 'a' })).toEqual({ k8s_pod: 'p1', pod: 'p1', app: 'a' });
    expect(await rule({ action: 'labeldrop', regex: 'k8s_.*' })({ k8s_pod: 'p1', app: 'a' })).toEqual({ app: 'a' });
    expect(await rule({ action: 'labelkeep', regex: 'app|env' })({ k8s_pod: 'p1', app: 'a', env: 'e' })).toEqual({ app: 'a', env: 'e' });
  });

  it('a stream a rule drops meets no later rule; counts are by rule and action', async () => {
    const { host: h, registry } = host([
      { name: 'relabel', options: { rules: [{ action: 'drop', source_labels: ['app'], regex: 'noisy' }, { source_labels: ['app'], target_label: 'copy' }] } },
    ]);
    const out = await h.onPush('t', [stream({ app: 'noisy' }, 'a', 'b'), stream({ app: 'api' }, 'c')]);
    expect(out.map((s) => s.labels)).toEqual([{ app: 'api', copy: 'api' }]);
    expect(await counted(registry)).toEqual({ 'plugins[0]/dropped': 2, 'plugins[0]/relabelled': 1 });
  });

  it('applyRule leaves labels as they are when replace does not match', () => {
    const labels = { app: 'a' };
    expect(applyRule({ action: 'replace', sourceLabels: ['app'], separator: ';', regex: /^(?:b)$/, targetLabel: 'x', replacement: '$1' }, labels)).toBe(labels);
  });

  it.each([
    [{ rules: [] }, /plugins\[0\]\.options: rules: must be a list of at least one rule/],
    [{ rules: [{ action: 'rename' }] }, /rules\[0\]: action: "rename" is not one of/],
    [{ rules: [{ source_labels: ['a'], target_label: '1bad' }] }, /rules\[0\]: target_label: "1bad" must be a label name/],
    [{ rules: [{ source_labels: ['a'], target_label: 'b', regex: '(' }] }, /rules\[0\]: regex: invalid regex/],
    [{ rules: [{ action: 'keep' }] }, /rules\[0\]: source_labels: keep needs at least one/],
    [{ rules: [{ source_labels: ['a'], target_label: 'b', bogus: 1 }] }, /rules\[0\]: unknown option "bogus"/],
    [{ tenants: ['bad tenant'], rules: [{ action: 'labeldrop', regex: 'x' }] }, /tenants: "bad tenant" is not a tenant name/],
  ])('refuses bad options %j naming them', (options, message) => {
    let err: unknown;
    try {
      host([{ name: 'relabel', options }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('plugins > drop, sample and redact', () => {
  it('drop leaves out the entries its query selects, only for its tenants', async () => {
    const { host: h, registry } = host([{ name: 'drop', options: { tenants: ['a'], query: '{app="api"} |= "health"' } }]);
    expect(h.hasPushHooks('a')).toBe(true);
    expect(h.hasPushHooks('b')).toBe(false);
    const out = await h.onPush('a', [stream({ app: 'api' }, 'GET /health', 'GET /x', 'health again'), stream({ app: 'web' }, 'GET /health')]);
    expect(out.map((s) => s.entries.map((e) => e.line))).toEqual([['GET /x'], ['GET /health']]);
    expect(await counted(registry)).toEqual({ 'plugins[0]/dropped': 2 });
  });

  it('sample keeps one in N of the selected entries and every other entry', async () => {
    const { host: h } = host([{ name: 'sample', options: { query: '{app="api"}', oneIn: 3 } }]);
    const lines = Array.from({ length: 9 }, (_, i) => `l${i}`);
    const out = await h.onPush('t', [stream({ app: 'api' }, ...lines), stream({ app: 'web' }, 'w')]);
    expect(out[0]!.entries.map((e) => e.line)).toEqual(['l0', 'l3', 'l6']);
    expect(out[1]!.entries).toHaveLength(1);
    expect(() => host([{ name: 'sample', options: { query: '{app="api"}', oneIn: 0 } }])).toThrow(/oneIn: must be a positive integer/);
    expect(() => host([{ name: 'sample', options: { query: 'count_over_time({a="b"}[1m])', oneIn: 2 } }])).toThrow(/plugins\[0\]\.options: query: metric queries/);
  });

  it('redact replaces every match in lines and attribute values, and leaves attrs alone when told', async () => {
    const { host: h, registry } = host([{ name: 'redact', options: { patterns: ['\\b\\d{16}\\b', '[a-z]+@[a-z]+\\.com'] } }]);
    const s: PushStreamView = { labels: { app: 'pay' }, entries: [{ ts: 1n, line: 'card 4111111111111111 by bob@example.com and 4000000000000002', attrs: { email: 'eve@corp.com', id: '7' } }, { ts: 2n, line: 'clean' }] };
    const [out] = await h.onPush('t', [s]);
    expect(out!.entries).toEqual([
      { ts: 1n, line: 'card [REDACTED] by [REDACTED] and [REDACTED]', attrs: { email: '[REDACTED]', id: '7' } },
      { ts: 2n, line: 'clean' },
    ]);
    expect(await counted(registry)).toEqual({ 'plugins[0]/redacted': 1 });
    const { host: lines } = host([{ name: 'redact', options: { patterns: ['secret'], replacement: '***', attrs: false } }]);
    const [kept] = await lines.onPush('t', [{ labels: { a: 'b' }, entries: [{ ts: 1n, line: 'a secret', attrs: { k: 'secret' } }] }]);
    expect(kept!.entries[0]).toEqual({ ts: 1n, line: 'a ***', attrs: { k: 'secret' } });
    expect(() => host([{ name: 'redact', options: { patterns: ['x*'] } }])).toThrow(/patterns\[0\]: "x\*" matches the empty string/);
  });

  it('rules run in the configured order, and a name that is not a built-in is refused', async () => {
    const { host: h } = host([
      { name: 'relabel', options: { rules: [{ source_labels: ['app'], target_label: 'app', replacement: 'renamed' }] } },
      { name: 'drop', options: { query: '{app="renamed"} |= "x"' } },
    ]);
    const [out] = await h.onPush('t', [stream({ app: 'api' }, 'x1', 'y1')]);
    expect(out).toEqual({ labels: { app: 'renamed' }, entries: [{ ts: 2n, line: 'y1' }] });
    expect(() => host([{ name: 'nope' }])).toThrow(/plugins\[0\]\.name: no built-in plugin "nope" \(built-in: relabel, drop, sample, redact, log\)/);
  });
});
