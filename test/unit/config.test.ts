import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG, configFileFromArgv, loadConfig } from '../../core/src/config';
import { ConfigError } from '../../core/src/errors';

function file(content: unknown): string {
  const p = path.join(mkdtempSync(path.join(tmpdir(), 'silt-config-')), 'silt.json');
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

describe('core > config', () => {
  it('uses the documented defaults', () => {
    const c = loadConfig();
    expect(c.ingest.port).toBe(7410);
    expect(c.kafka.partitions).toBe(8);
    expect(c.replicas).toBe(2);
    expect(c.ingest.bodyLimitBytes).toBe(16 * 1024 * 1024);
    expect(c.ingest.decompressedLimitBytes).toBe(64 * 1024 * 1024);
    expect(c.ingest.maxLineBytes).toBe(256 * 1024);
    expect(c.ingest.maxLabels).toBe(15);
  });

  it('layers defaults, then file, then environment', () => {
    const f = file({ ingest: { port: 8000, lingerMs: 20 }, kafka: { partitions: 4 } });
    const c = loadConfig({ file: f, env: { SILT_INGEST_PORT: '9000', SILT_KAFKA_BROKERS: 'a:1, b:2', SILT_PARTITIONS: '16' } });
    expect(c.ingest.port).toBe(9000);
    expect(c.ingest.lingerMs).toBe(20);
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(c.kafka.partitions).toBe(16);
    expect(loadConfig({ env: { SILT_KAFKA_LOCAL_BROKER_HEAP_MB: '384' } }).kafka.localBrokerHeapMb).toBe(384);
  });

  it('is frozen', () => {
    const c = loadConfig();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.ingest)).toBe(true);
    expect(DEFAULT_CONFIG.ingest.port).toBe(7410);
  });

  it.each([
    [{ env: { SILT_INGEST_PORT: 'abc' } }, 'ingest.port'],
    [{ env: { SILT_PARTITIONS: '0' } }, 'kafka.partitions'],
    [{ env: { SILT_KAFKA_BROKERS: 'nohostport' } }, 'kafka.brokers'],
    [{ env: { SILT_KAFKA_LOCAL_BROKER_HEAP_MB: '64' } }, 'kafka.localBrokerHeapMb'],
    [{ file: file({ ingest: { prot: 1 } }) }, 'ingest.prot'],
    [{ file: file({ ingest: { port: '80' } }) }, 'ingest.port'],
    [{ file: file('{not json') }, 'config file'],
  ])('rejects %j naming the bad key', (sources, key) => {
    expect(() => loadConfig(sources)).toThrow(ConfigError);
    expect(() => loadConfig(sources)).toThrow(key);
  });

  it('reads --config from argv', () => {
    expect(configFileFromArgv(['--config', 'x.json'])).toBe('x.json');
    expect(configFileFromArgv(['--config=y.json'])).toBe('y.json');
    expect(configFileFromArgv([])).toBeUndefined();
  });
});
