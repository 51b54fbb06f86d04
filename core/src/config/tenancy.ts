/**
 * The configuration sections that hold maps and lists of objects — API keys, per-tenant limits, the
 * results cache and the plugin list — with their defaults and their validation. The generic layer in
 * `./index` merges and type-checks scalar leaves; these need their own rules because their keys are
 * the operator's (tenant names) or their items are records.
 */
import path from 'node:path';
import { ConfigError } from '../errors';
import { TENANT_RE } from '../labels';

/** What an API key may do: push data, read it, or administer (everything, on its tenants). */
export type Scope = 'push' | 'query' | 'admin';

/** Every scope, in the order the docs list them. */
export const SCOPES: readonly Scope[] = ['push', 'query', 'admin'];

/** A tenant list item that stands for every tenant (an operator's key). */
export const ANY_TENANT = '*';

/** One API key: the SHA-256 of the key (never the key), the tenants it acts for, and its scopes. */
export interface ApiKeyConfig {
  /** Lowercase or uppercase hex of SHA-256 over the key's UTF-8 bytes. */
  sha256: string;
  /** Tenants the key may act for; the first is the one used when a request names none. `*` is any tenant. */
  tenants: string[];
  scopes: Scope[];
  /** A name for logs and metrics; empty means the first 8 hex digits of the hash. */
  name?: string;
}

/** Authentication of every public route, and of the storage nodes' internal API. */
export interface AuthConfig {
  enabled: boolean;
  keys: ApiKeyConfig[];
  /**
   * Shared secret the services send to storage nodes' internal API (`Authorization: Bearer`); empty
   * leaves that API open, which a single-machine cluster on loopback may accept. `npm start` makes
   * one for its children when auth is enabled and none is set.
   */
  clusterSecret: string;
}

/** Limits of one tenant; 0 means "no limit of this kind" (where the service's own settings still apply). */
export interface TenantLimits {
  /**
   * Sustained push rate in bytes of lines per second across every ingest process, and the bucket
   * that absorbs bursts above it (0: one second's worth of the rate).
   */
  ingestionRateBytes: number;
  ingestionBurstBytes: number;
  /** Sustained push rate in entries per second, and its burst. */
  ingestionRateEntries: number;
  ingestionBurstEntries: number;
  /** Streams the tenant may have active (pushed to within `activeStreamWindowMs`). */
  maxStreams: number;
  /** A line longer than this is refused; 0 means `ingest.maxLineBytes`. */
  maxLineBytes: number;
  /** Labels per stream; 0 means `ingest.maxLabels`. */
  maxLabelsPerStream: number;
  /** Longest `end - start` of one query, in hours; 0 means `query.maxRangeMs`. */
  maxQueryRangeHours: number;
  /** Entries one log query may return (its `limit`); 0 means `query.maxLimit`. */
  maxEntriesPerQuery: number;
  /** Queries of the tenant running at once in one query service; more get 429. */
  maxConcurrentQueries: number;
  /** Live tails of the tenant open at once in one query service. */
  maxConcurrentTails: number;
  /** A query of the tenant answers 504 after this; 0 means `query.timeoutMs`. */
  queryTimeoutMs: number;
  /**
   * Hours the tenant's entries stay readable; 0 means `storage.retentionMs`. Storage nodes answer
   * no entry older than this; segments leave disk by `storage.retentionMs` (set it to the longest).
   */
  retentionHours: number;
}

/** Global limits for every tenant, and overrides by tenant name. */
export interface LimitsConfig {
  defaults: TenantLimits;
  tenants: Record<string, Partial<TenantLimits>>;
  /** A stream counts as active for `maxStreams` while it was pushed to within this. */
  activeStreamWindowMs: number;
}

/** The query service's results cache. */
export interface CacheConfig {
  enabled: boolean;
  /** Bytes of results kept, least recently used out first. */
  maxBytes: number;
  /** Metric range queries are split into pieces of this length (aligned to it), each cached on its own. */
  splitIntervalMs: number;
}

/** One plugin to load: a built-in by `name`, or a module by `path` (relative to the config file). */
export interface PluginConfig {
  name?: string;
  path?: string;
  options?: Record<string, unknown>;
}

/** Defaults: auth off, no rate limits, query limits those of the query service's own settings. */
export const DEFAULT_AUTH: AuthConfig = { enabled: false, keys: [], clusterSecret: '' };
/** See DEFAULT_AUTH. */
export const DEFAULT_LIMITS: LimitsConfig = {
  defaults: {
    ingestionRateBytes: 0,
    ingestionBurstBytes: 0,
    ingestionRateEntries: 0,
    ingestionBurstEntries: 0,
    maxStreams: 0,
    maxLineBytes: 0,
    maxLabelsPerStream: 0,
    maxQueryRangeHours: 0,
    maxEntriesPerQuery: 0,
    maxConcurrentQueries: 0,
    maxConcurrentTails: 0,
    queryTimeoutMs: 0,
    retentionHours: 0,
  },
  tenants: {},
  activeStreamWindowMs: 3600 * 1000,
};
/** See DEFAULT_AUTH. */
export const DEFAULT_CACHE: CacheConfig = { enabled: false, maxBytes: 256 * 1024 * 1024, splitIntervalMs: 3600 * 1000 };

/** Config paths whose value is a list of records: replaced whole by a layer, never given an environment form. */
export const RECORD_LISTS: ReadonlySet<string> = new Set(['auth.keys', 'plugins']);
/** Config paths whose keys are the operator's: merged key by key, checked here. */
export const OPEN_MAPS: ReadonlySet<string> = new Set(['limits.tenants']);

function fail(key: string, message: string): never {
  throw new ConfigError(`${key}: ${message}`, { key });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkLimitValue(key: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(key, `must be a non-negative integer, got ${JSON.stringify(v)}`);
}

function checkKeys(keys: unknown): void {
  if (!Array.isArray(keys)) fail('auth.keys', 'must be a list of {sha256, tenants, scopes}');
  keys.forEach((k: unknown, i) => {
    const at = `auth.keys[${i}]`;
    if (!isRecord(k)) fail(at, 'must be an object {sha256, tenants, scopes}');
    for (const name of Object.keys(k)) if (!['sha256', 'tenants', 'scopes', 'name'].includes(name)) fail(`${at}.${name}`, 'unknown key');
    if (typeof k.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(k.sha256)) fail(`${at}.sha256`, 'must be the 64 hex digits of SHA-256 over the key');
    if (!Array.isArray(k.tenants) || k.tenants.length === 0) fail(`${at}.tenants`, 'must be a non-empty list of tenant names (or "*")');
    for (const t of k.tenants) if (typeof t !== 'string' || (t !== ANY_TENANT && !TENANT_RE.test(t))) fail(`${at}.tenants`, `"${String(t)}" is not a tenant name ([a-zA-Z0-9_.-]{1,64}) or "*"`);
    if (!Array.isArray(k.scopes) || k.scopes.length === 0) fail(`${at}.scopes`, `must be a non-empty list of ${SCOPES.join(', ')}`);
    for (const s of k.scopes) if (!SCOPES.includes(s as Scope)) fail(`${at}.scopes`, `"${String(s)}" is not one of ${SCOPES.join(', ')}`);
    if (k.name !== undefined && typeof k.name !== 'string') fail(`${at}.name`, 'must be a string');
  });
  const seen = new Set<string>();
  keys.forEach((k: ApiKeyConfig, i) => {
    const h = k.sha256.toLowerCase();
    if (seen.has(h)) fail(`auth.keys[${i}].sha256`, 'the same key is listed twice');
    seen.add(h);
  });
}

function checkPlugins(plugins: unknown): void {
  if (!Array.isArray(plugins)) fail('plugins', 'must be a list of {name, options} or {path, options}');
  plugins.forEach((p: unknown, i) => {
    const at = `plugins[${i}]`;
    if (!isRecord(p)) fail(at, 'must be an object {name, options} or {path, options}');
    for (const k of Object.keys(p)) if (!['name', 'path', 'options'].includes(k)) fail(`${at}.${k}`, 'unknown key');
    const hasName = typeof p.name === 'string' && p.name !== '';
    const hasPath = typeof p.path === 'string' && p.path !== '';
    if (hasName === hasPath) fail(at, 'needs exactly one of "name" (a built-in plugin) or "path" (a module file)');
    if (p.name !== undefined && !hasName) fail(`${at}.name`, 'must be a non-empty string');
    if (p.path !== undefined && !hasPath) fail(`${at}.path`, 'must be a non-empty string');
    if (p.options !== undefined && !isRecord(p.options)) fail(`${at}.options`, 'must be an object');
  });
}

/** Checks the sections this module owns; throws ConfigError naming the bad key. */
export function validateTenancy(c: { auth: AuthConfig; limits: LimitsConfig; cache: CacheConfig; plugins: PluginConfig[] }): void {
  checkKeys(c.auth.keys);
  checkPlugins(c.plugins);
  for (const [k, v] of Object.entries(c.limits.defaults)) checkLimitValue(`limits.defaults.${k}`, v);
  if (!isRecord(c.limits.tenants)) fail('limits.tenants', 'must be an object of tenant name → limits');
  for (const [tenant, over] of Object.entries(c.limits.tenants)) {
    const at = `limits.tenants.${tenant}`;
    if (!TENANT_RE.test(tenant)) fail(at, 'is not a tenant name ([a-zA-Z0-9_.-]{1,64})');
    if (!isRecord(over)) fail(at, 'must be an object of limits');
    for (const [k, v] of Object.entries(over)) {
      if (!(k in c.limits.defaults)) fail(`${at}.${k}`, `unknown limit (known: ${Object.keys(c.limits.defaults).join(', ')})`);
      checkLimitValue(`${at}.${k}`, v);
    }
  }
  if (!Number.isInteger(c.cache.maxBytes) || c.cache.maxBytes < 1024 * 1024) fail('cache.maxBytes', 'must be an integer of at least 1 MiB');
  if (!Number.isInteger(c.cache.splitIntervalMs) || c.cache.splitIntervalMs < 1000) fail('cache.splitIntervalMs', 'must be an integer of at least 1000 (ms)');
  if (c.auth.clusterSecret !== '' && c.auth.clusterSecret.length < 16) fail('auth.clusterSecret', 'must be empty or at least 16 characters');
}

/** Makes relative plugin paths of a config file absolute, from that file's folder (as the file's author wrote them). */
export function resolvePluginPaths(plugins: PluginConfig[], file: string): void {
  for (const p of plugins) if (typeof p.path === 'string' && p.path !== '' && !path.isAbsolute(p.path)) p.path = path.resolve(path.dirname(file), p.path);
}

/** The limits of `tenant`: its overrides over the defaults. */
export function limitsOf(limits: LimitsConfig, tenant: string): TenantLimits {
  const over = limits.tenants[tenant];
  return over === undefined ? limits.defaults : { ...limits.defaults, ...over };
}

/** Tenants whose limits a table remembers; past this it starts over (auth off lets any name in). */
const TABLE_TENANTS = 10_000;

/**
 * What each tenant's limits come to for one use (the limits themselves, a service's settings with
 * the tenant's in their place), worked out once per tenant until SIGHUP replaces the limits.
 */
export class TenantTable<T> {
  private readonly known = new Map<string, T>();

  constructor(
    private config: LimitsConfig,
    private readonly derive: (limits: TenantLimits) => T,
  ) {}

  /** What the limits of `tenant` come to. */
  of(tenant: string): T {
    let v = this.known.get(tenant);
    if (v === undefined) {
      if (this.known.size >= TABLE_TENANTS) this.known.clear();
      v = this.derive(limitsOf(this.config, tenant));
      this.known.set(tenant, v);
    }
    return v;
  }

  /** The re-read configuration's limits replace these. */
  replace(config: LimitsConfig): void {
    this.config = config;
    this.known.clear();
  }

  /** The active-stream window of `maxStreams`. */
  get activeStreamWindowMs(): number {
    return this.config.activeStreamWindowMs;
  }
}

/** The oldest entry timestamp (ns) each tenant may read now: `now − retentionHours`, or 0 without a retention of its own. */
export class ReadableFrom {
  private readonly hours: TenantTable<number>;
  private any: boolean;

  constructor(limits: LimitsConfig) {
    this.hours = new TenantTable(limits, (l) => l.retentionHours);
    this.any = hasRetention(limits);
  }

  /** Whether any tenant has a retention of its own (else `of` is 0n for every tenant). */
  bounded(): boolean {
    return this.any;
  }

  /** The cutoff of `tenant` at `nowNs`. */
  of(tenant: string, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): bigint {
    const h = this.hours.of(tenant);
    return h === 0 ? 0n : nowNs - BigInt(h) * 3_600_000_000_000n;
  }

  /** The re-read limits replace these. */
  replace(limits: LimitsConfig): void {
    this.hours.replace(limits);
    this.any = hasRetention(limits);
  }
}

function hasRetention(limits: LimitsConfig): boolean {
  return limits.defaults.retentionHours > 0 || Object.values(limits.tenants).some((t) => (t.retentionHours ?? 0) > 0);
}

/** Each tenant's limits themselves. */
export class LimitsTable extends TenantTable<TenantLimits> {
  constructor(config: LimitsConfig) {
    super(config, (l) => l);
  }
}
