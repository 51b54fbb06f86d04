/**
 * API keys as the config file holds them (SHA-256 hashes, never keys) and the credentials a request
 * carries: `Authorization: Bearer <key>`, `X-API-Key: <key>`, or `Authorization: Basic` with the
 * tenant as user and the key as password (what Promtail, Alloy, Grafana and the OpenTelemetry
 * Collector send). Every comparison of secret material takes the same time whichever key matches.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ANY_TENANT, type ApiKeyConfig, type Scope } from '../config/tenancy';

/** A key the ring knows: its hash as bytes, and what it grants. */
export interface KnownKey {
  readonly hash: Buffer;
  readonly name: string;
  readonly tenants: readonly string[];
  /** True when `*` is among its tenants. */
  readonly anyTenant: boolean;
  readonly scopes: ReadonlySet<Scope>;
}

/** What a request presented: the key, and the tenant a Basic user name asked for. */
export interface Credentials {
  key: string;
  basicUser?: string;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The hex of SHA-256 over a key, as the config file holds it. */
export function hashKey(key: string): string {
  return sha256(key).toString('hex');
}

/** The configured keys; `find` compares a presented key against every one of them. */
export class KeyRing {
  private readonly keys: KnownKey[];

  constructor(config: readonly ApiKeyConfig[]) {
    this.keys = config.map((k) => {
      const hex = k.sha256.toLowerCase();
      return {
        hash: Buffer.from(hex, 'hex'),
        name: k.name !== undefined && k.name !== '' ? k.name : hex.slice(0, 8),
        tenants: k.tenants.filter((t) => t !== ANY_TENANT),
        anyTenant: k.tenants.includes(ANY_TENANT),
        scopes: new Set(k.scopes),
      };
    });
  }

  /** The key whose hash is SHA-256 of `key`, or undefined; looks at every key so the time says nothing of which matched. */
  find(key: string): KnownKey | undefined {
    const digest = sha256(key);
    let found: KnownKey | undefined;
    for (const k of this.keys) if (timingSafeEqual(digest, k.hash) && found === undefined) found = k;
    return found;
  }
}

/** True when `presented` equals `secret`; compares digests, so neither the time nor an early exit tells how much matched. */
export function secretEquals(presented: string, secret: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(secret));
}

/**
 * The credentials of a request's headers, or undefined when it carries none. A malformed
 * `Authorization` header counts as none presented (the request then gets 401).
 */
export function credentialsOf(headers: Record<string, string | string[] | undefined>): Credentials | undefined {
  const auth = headers.authorization;
  const value = Array.isArray(auth) ? auth[0] : auth;
  if (value !== undefined) {
    const space = value.indexOf(' ');
    const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
    const rest = space < 0 ? '' : value.slice(space + 1).trim();
    if (scheme === 'bearer' && rest !== '') return { key: rest };
    if (scheme === 'basic' && rest !== '') {
      const decoded = Buffer.from(rest, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0 && colon < decoded.length - 1) return { key: decoded.slice(colon + 1), basicUser: decoded.slice(0, colon) };
    }
  }
  const apiKey = headers['x-api-key'];
  const k = Array.isArray(apiKey) ? apiKey[0] : apiKey;
  if (k !== undefined && k.trim() !== '') return { key: k.trim() };
  return undefined;
}
