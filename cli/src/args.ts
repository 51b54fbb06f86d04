/** The CLI's arguments: the options every command takes, and the connection they make. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SiltClient } from '../../client/src';

/** A usage error: printed with the command's help, exit code 2. */
export class UsageError extends Error {}

/** Options every command takes. */
export const COMMON_OPTIONS = {
  url: { type: 'string' },
  'ingest-url': { type: 'string' },
  tenant: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Help text of the common options. */
export const COMMON_HELP = `  --url URL          the query service (default $SILT_URL or http://localhost:7420)
  --ingest-url URL   the ingest service (default the --url host on port 7410)
  --tenant NAME      the tenant, sent as X-Scope-OrgID (default $SILT_TENANT)
  --key KEY          an API key, sent as a Bearer token (default $SILT_API_KEY)
  -h, --help         this help`;

/** Parses `argv` with `options` and the common ones; unknown options are usage errors. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The client the common options (then SILT_URL, SILT_TENANT, SILT_API_KEY) describe. */
export function clientOf(values: { url?: string | boolean; 'ingest-url'?: string | boolean; tenant?: string | boolean; key?: string | boolean }, env: NodeJS.ProcessEnv = process.env): SiltClient {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const url = str(values.url) ?? str(env.SILT_URL) ?? 'http://localhost:7420';
  const ingestUrl = str(values['ingest-url']) ?? str(env.SILT_INGEST_URL);
  const tenant = str(values.tenant) ?? str(env.SILT_TENANT);
  const apiKey = str(values.key) ?? str(env.SILT_API_KEY);
  return new SiltClient({ url, ...(ingestUrl ? { ingestUrl } : {}), ...(tenant ? { tenant } : {}), ...(apiKey ? { apiKey } : {}) });
}

/** `value` as one of `allowed`, or a usage error naming the option. */
export function oneOf<T extends string>(option: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${option} must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

/** A positive integer option, or a usage error naming it. */
export function positiveInt(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${option} must be a positive integer (got "${value}")`);
  return n;
}
