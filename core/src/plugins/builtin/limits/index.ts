/**
 * The built-in `limits` plugin: per-tenant limits from the `limits` section (defaults, then
 * `limits.tenants.<name>`), re-read on SIGHUP. In ingest: ingestion rate and burst in bytes and
 * entries (token buckets shared out among the live ingest processes) and active streams; in query:
 * queries and tails running at once. Line size and labels per stream (ingest), query range,
 * entries per query and query timeout (query) are read from the same table by the services'
 * parsers and engines, which already enforce their service-wide forms of them.
 */
import { Counter } from 'prom-client';
import { LimitsTable } from '../../../config/tenancy';
import type { PluginContext, PluginInstance, SiltPlugin, TenancySettings } from '../../types';
import { PushLimiter } from './push-limits';
import { installQueryLimits } from './query-limits';

function refusedCounter(ctx: PluginContext): Counter<'tenant' | 'limit'> {
  return new Counter({
    name: `silt_${ctx.service}_limits_refused_total`,
    help: 'Requests a per-tenant limit refused, by tenant and limit',
    labelNames: ['tenant', 'limit'],
    registers: [ctx.registry],
  });
}

/** Creates the limits plugin of one service. */
export const limitsPlugin: SiltPlugin = {
  name: 'limits',
  services: ['ingest', 'query'],
  create: (_options, ctx): PluginInstance => {
    const table = new LimitsTable(ctx.config.limits);
    const refused = refusedCounter(ctx);
    const count = (tenant: string, limit: string): void => refused.inc({ tenant, limit });
    const reload = (config: Readonly<TenancySettings>): void => table.replace(config.limits);
    if (ctx.service === 'query') return { hooks: (app) => installQueryLimits(app, table, count), reload };
    const push = new PushLimiter(table, ctx.liveIngestProcesses, count);
    return {
      beforePush: (tenant) => push.before(tenant),
      admitPush: (tenant, size) => push.admit(tenant, size),
      reload: (config) => {
        reload(config);
        push.reset();
      },
    };
  },
};
