/** The config sections with maps and record lists: auth keys, per-tenant limits, cache and plugins. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { limitsOf, loadConfig } from '../../core/src/config';
import { ConfigError } from '../../core/src/errors';

const HASH = 'a'.repeat(64);

function file(content: unknown): string {
  const p = path.join(mkdtempSync(path.join(tmpdir(), 'silt-config-')), 'silt.json');
  writeFileSync(p, JSON.stringify(content));
  return p;
}

describe('core > config > tenancy', () => {
  it('reads the contract example: keys, per-tenant limits, cache and plugins', () => {
    const f = file({
      auth: { enabled: true, keys: [{ sha256: HASH, tenants: ['team-a'], scopes: ['push', 'query'] }] },
      limits: {
        defaults: { ingestionRateBytes: 8388608, ingestionBurstBytes: 16777216, ingestionRateEntries: 100000, maxStreams: 10000, maxQueryRangeHours: 744, maxEntriesPerQuery: 5000, maxConcurrentQueries: 16 },
        tenants: { 'team-a': { ingestionRateBytes: 1048576 } },
      },
      cache: { enabled: true, maxBytes: 268435456 },
      plugins: [{ name: 'redact', options: { tenants: ['team-a'], patterns: ['\\b\\d{16}\\b'] } }, { path: './my-plugin.js', options: {} }],
    });
    const c = loadConfig({ file: f });
    expect(c.auth.keys[0]!.tenants).toEqual(['team-a']);
    expect(limitsOf(c.limits, 'team-a').ingestionRateBytes).toBe(1048576);
    expect(limitsOf(c.limits, 'team-a').ingestionBurstBytes).toBe(16777216);
    expect(limitsOf(c.limits, 'other').ingestionRateBytes).toBe(8388608);
    expect(c.plugins[1]!.path).toBe(path.join(path.dirname(f), 'my-plugin.js'));
    expect(Object.isFrozen(c.auth.keys[0])).toBe(true);
    expect(Object.isFrozen(c.limits.tenants['team-a'])).toBe(true);
  });

  it('gives scalars their environment form', () => {
    const c = loadConfig({ env: { SILT_AUTH_ENABLED: 'true', SILT_LIMITS_DEFAULTS_INGESTION_RATE_BYTES: '1000', SILT_CACHE_MAX_BYTES: '2097152' } });
    expect(c.auth.enabled).toBe(true);
    expect(c.limits.defaults.ingestionRateBytes).toBe(1000);
    expect(c.cache.maxBytes).toBe(2097152);
  });

  it('merges tenant overrides layer by layer', () => {
    const c = loadConfig({ file: file({ limits: { tenants: { a: { maxStreams: 5 } } } }), overrides: { limits: { tenants: { b: { maxStreams: 6 } } } } });
    expect(Object.keys(c.limits.tenants).sort()).toEqual(['a', 'b']);
  });

  it.each([
    [{ auth: { keys: [{ sha256: 'xyz', tenants: ['a'], scopes: ['push'] }] } }, 'auth.keys[0].sha256'],
    [{ auth: { keys: [{ sha256: HASH, tenants: [], scopes: ['push'] }] } }, 'auth.keys[0].tenants'],
    [{ auth: { keys: [{ sha256: HASH, tenants: ['bad tenant'], scopes: ['push'] }] } }, 'auth.keys[0].tenants'],
    [{ auth: { keys: [{ sha256: HASH, tenants: ['a'], scopes: ['write'] }] } }, 'auth.keys[0].scopes'],
    [{ auth: { keys: [{ sha256: HASH, tenants: ['a'], scopes: ['push'], key: 'x' }] } }, 'auth.keys[0].key'],
    [{ auth: { keys: [{ sha256: HASH, tenants: ['a'], scopes: ['push'] }, { sha256: HASH.toUpperCase(), tenants: ['b'], scopes: ['push'] }] } }, 'auth.keys[1].sha256'],
    [{ auth: { keys: 'k' } }, 'auth.keys'],
    [{ limits: { tenants: { a: { ingestionRate: 1 } } } }, 'limits.tenants.a.ingestionRate'],
    [{ limits: { tenants: { a: { maxStreams: -1 } } } }, 'limits.tenants.a.maxStreams'],
    [{ limits: { tenants: { 'a b': {} } } }, 'limits.tenants.a b'],
    [{ limits: { defaults: { maxStreams: 1.5 } } }, 'limits.defaults.maxStreams'],
    [{ plugins: [{ name: 'redact', path: './x.js' }] }, 'plugins[0]'],
    [{ plugins: [{}] }, 'plugins[0]'],
    [{ plugins: [{ name: 'redact', options: [] }] }, 'plugins[0].options'],
    [{ cache: { maxBytes: 10 } }, 'cache.maxBytes'],
  ])('rejects %j naming %s', (content, key) => {
    const f = file(content);
    expect(() => loadConfig({ file: f })).toThrow(ConfigError);
    expect(() => loadConfig({ file: f })).toThrow(key);
  });
});
