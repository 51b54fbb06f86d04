/**
 * Checks of built-in plugins' options: each throws an Error whose message names the option, which
 * the loader reports as `plugins[i].options: …`.
 */
import { Counter, type Registry } from 'prom-client';
import { TENANT_RE } from '../../labels';
import { ANY_TENANT } from '../../config/tenancy';

/** Raw options as the config file gave them. */
export type RawOptions = Record<string, unknown>;

/** Throws unless every key of `raw` is one of `known`. */
export function onlyKeys(raw: RawOptions, known: readonly string[]): void {
  for (const key of Object.keys(raw)) if (!known.includes(key)) throw new Error(`unknown option "${key}" (known: ${known.join(', ')})`);
}

/** A string option; `fallback` when absent (required when there is none). */
export function stringOption(raw: RawOptions, key: string, fallback?: string): string {
  const v = raw[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') throw new Error(`${key}: must be a string${v === undefined ? ' (it is required)' : ''}`);
  return v;
}

/** A list of strings; `fallback` when absent (required when there is none). */
export function stringList(raw: RawOptions, key: string, fallback?: string[]): string[] {
  const v = raw[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${key}: must be a list of strings${v === undefined ? ' (it is required)' : ''}`);
  return v as string[];
}

/** A positive integer option. */
export function positiveInteger(raw: RawOptions, key: string): number {
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${key}: must be a positive integer`);
  return v;
}

/** The tenants a pipeline rule applies to: the `tenants` option (`*` or absent: all). */
export function tenantsOption(raw: RawOptions): (tenant: string) => boolean {
  const list = stringList(raw, 'tenants', [ANY_TENANT]);
  for (const t of list) if (t !== ANY_TENANT && !TENANT_RE.test(t)) throw new Error(`tenants: "${t}" is not a tenant name ([a-zA-Z0-9_.-]{1,64}) or "*"`);
  if (list.includes(ANY_TENANT)) return () => true;
  const set = new Set(list);
  return (tenant) => set.has(tenant);
}

/** Runs `check`, turning what it throws (a SiltError from a regex compile too) into an Error prefixed with `where`. */
export function within<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/** The counter every pipeline rule counts the entries it acted on in, by rule and action; one per registry. */
export function pipelineCounter(registry: Registry): Counter<'rule' | 'action'> {
  const name = 'silt_ingest_pipeline_entries_total';
  const existing = registry.getSingleMetric(name) as Counter<'rule' | 'action'> | undefined;
  if (existing) return existing;
  return new Counter({
    name,
    help: 'Entries a pipeline rule acted on, by rule (where it is configured) and action (dropped, relabelled, redacted, sampled_out)',
    labelNames: ['rule', 'action'],
    registers: [registry],
  });
}
