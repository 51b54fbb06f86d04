/**
 * The query settings a tenant's requests run under: the query service's own, with the tenant's
 * `maxQueryRangeHours`, `maxEntriesPerQuery` and `queryTimeoutMs` (from `limits`, where not 0) in
 * their place.
 */
import type { QuerySettings } from '../../core/src/config';
import { TenantTable, type LimitsConfig } from '../../core/src/config/tenancy';

/** Query settings by tenant, until SIGHUP replaces the limits. */
export function tenantQuerySettings(base: QuerySettings, limits: LimitsConfig): TenantTable<QuerySettings> {
  return new TenantTable(limits, (l) =>
    l.maxQueryRangeHours === 0 && l.maxEntriesPerQuery === 0 && l.queryTimeoutMs === 0
      ? base
      : {
          ...base,
          maxRangeMs: l.maxQueryRangeHours > 0 ? l.maxQueryRangeHours * 3600 * 1000 : base.maxRangeMs,
          maxLimit: l.maxEntriesPerQuery || base.maxLimit,
          defaultLimit: Math.min(base.defaultLimit, l.maxEntriesPerQuery || base.maxLimit),
          timeoutMs: l.queryTimeoutMs || base.timeoutMs,
        },
  );
}
