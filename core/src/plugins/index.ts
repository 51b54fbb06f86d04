/**
 * Where a service gets its plugins: the built-ins it always runs (auth, then limits), then the
 * configured list — built-in pipeline rules by name, operators' modules by path — in order.
 */
import type { Registry } from 'prom-client';
import { DEFAULT_AUTH, DEFAULT_CACHE, DEFAULT_LIMITS, type PluginConfig } from '../config';
import { SiltError } from '../errors';
import type { Logger } from '../logger';
import { authPlugin } from './builtin/auth';
import { dropPlugin, samplePlugin } from './builtin/drop';
import { limitsPlugin } from './builtin/limits';
import { logPlugin } from './builtin/log';
import { redactPlugin } from './builtin/redact';
import { relabelPlugin } from './builtin/relabel';
import { PluginHost } from './host';
import type { ServiceName, SiltPlugin, TenancySettings } from './types';

export { PluginHost } from './host';
export type * from './types';

/** The plugin sections of a service's configuration; absent ones take their defaults. */
export interface PluginSettings extends Partial<TenancySettings> {
  plugins?: PluginConfig[];
}

/** Built-ins every service runs first, in this order (auth, then limits); each does nothing unless its section turns it on. */
const FIRST: readonly SiltPlugin[] = [authPlugin, limitsPlugin];

/** Built-ins a `plugins` entry names. */
const NAMED: ReadonlyMap<string, SiltPlugin> = new Map(
  ([relabelPlugin, dropPlugin, samplePlugin, redactPlugin, logPlugin] satisfies SiltPlugin[]).map((p) => [p.name, p]),
);

/** An error a hook throws for the client to see: `status` must be 4xx or 503. */
function refuse(status: number, code: string, message: string, retryAfterSeconds?: number): Error {
  const ok = Number.isInteger(status) && ((status >= 400 && status < 500) || status === 503) && /^SILT_[A-Z0-9_]+$/.test(code);
  if (!ok) return new Error(`refuse(${status}, ${code}): status must be 4xx or 503 and code SILT_[A-Z0-9_]+`);
  return new SiltError(code, status, status === 429 || status === 503, message, undefined, retryAfterSeconds);
}

/** Settings with every absent plugin section at its default. */
export function tenancyOf(settings: PluginSettings): TenancySettings {
  return { auth: settings.auth ?? DEFAULT_AUTH, limits: settings.limits ?? DEFAULT_LIMITS, cache: settings.cache ?? DEFAULT_CACHE };
}

/**
 * Loads the plugins of `service`; throws ConfigError naming a bad `plugins[i]` entry.
 * `liveIngestProcesses` (ingest) tells how many ingest processes share each tenant's rate.
 */
export function loadPlugins(service: ServiceName, settings: PluginSettings, logger: Logger, registry: Registry, liveIngestProcesses: () => number = () => 1): PluginHost {
  return new PluginHost({ service, config: tenancyOf(settings), logger, registry, refuse, liveIngestProcesses }, FIRST, NAMED, settings.plugins ?? []);
}
