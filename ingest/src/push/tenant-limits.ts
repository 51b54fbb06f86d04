/**
 * The push limits each tenant's pushes are parsed under: ingest's own settings, with the tenant's
 * `maxLineBytes` and `maxLabelsPerStream` (from `limits`, where not 0) in their place.
 */
import type { IngestSettings } from '../../../core/src/config';
import { TenantTable, type LimitsConfig } from '../../../core/src/config/tenancy';
import { pushLimits, type PushLimits } from './builder';

/** Push limits by tenant, until SIGHUP replaces the limits. */
export function tenantPushLimits(settings: IngestSettings, limits: LimitsConfig): TenantTable<PushLimits> {
  const base = pushLimits(settings);
  return new TenantTable(limits, (t) =>
    t.maxLineBytes === 0 && t.maxLabelsPerStream === 0 ? base : { ...base, maxLineBytes: t.maxLineBytes || base.maxLineBytes, maxLabels: t.maxLabelsPerStream || base.maxLabels },
  );
}
