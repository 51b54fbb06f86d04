/**
 * `npm start`: the whole cluster on one machine, each service its own process as in production,
 * plus a local Kafka broker unless SILT_KAFKA_BROKERS names one. Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { configFileFromArgv, loadConfig } from '../../core/src/config';
import { loadPlugins } from '../../core/src/plugins';
import { createLogger } from '../../core/src/logger';
import { ensureKafkaJars, startBroker, type BrokerHandle } from './kafka-broker';

interface ServiceSpec {
  name: string;
  entry: string;
  env: Record<string, string>;
}

async function main(): Promise<void> {
  const configFile = configFileFromArgv(process.argv.slice(2));
  const config = loadConfig({ file: configFile, env: process.env });
  const logger = createLogger(config.logLevel, { service: 'launcher' });
  // Plugin options are checked by loading each service's plugins once: a bad entry stops here, named, not in a restart loop.
  for (const service of ['ingest', 'query', 'storage'] as const) await loadPlugins(service, config, logger, new Registry()).close();
  const dataDir = path.resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });

  let broker: BrokerHandle | null = null;
  let brokers = config.kafka.brokers.join(',');
  if (brokers === '') {
    logger.info('resolving Kafka jars (first run downloads them with Maven)');
    await ensureKafkaJars({ log: (m) => logger.info(m) });
    const { localBrokerPort: port, localControllerPort: controllerPort, localBrokerHeapMb: heapMb } = config.kafka;
    logger.info('starting the local Kafka broker', { port, heapMb });
    broker = await startBroker({ dataDir: path.join(dataDir, 'kafka'), port, controllerPort, heapMb });
    brokers = broker.brokers.join(',');
  }

  const services: ServiceSpec[] = [{ name: 'ingest', entry: path.resolve(__dirname, '../../ingest/src/main.js'), env: {} }];
  // One storage node per replica group, each on its own port and data dir: R copies of every partition.
  for (let r = 0; r < config.replicas; r++) {
    services.push({
      name: `storage-${r}`,
      entry: path.resolve(__dirname, '../../storage-node/src/main.js'),
      env: { SILT_STORAGE_REPLICA_GROUP: String(r), SILT_STORAGE_PORT: String(config.storage.port + r) },
    });
  }
  services.push({ name: 'query', entry: path.resolve(__dirname, '../../query/src/main.js'), env: {} });
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  // With auth on, the storage nodes' internal API needs a shared secret; one made here for this run serves when the operator set none.
  const secret = config.auth.enabled && config.auth.clusterSecret === '' ? { SILT_AUTH_CLUSTER_SECRET: randomBytes(32).toString('hex') } : {};

  const launch = (spec: ServiceSpec, attempt: number): void => {
    const args = [spec.entry, ...(configFile ? ['--config', configFile] : [])];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...spec.env, ...secret, SILT_KAFKA_BROKERS: brokers, SILT_DATA_DIR: dataDir },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.set(spec.name, child);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      children.delete(spec.name);
      if (stopping) return;
      // A crash loop backs off; a service that ran a while restarts at once.
      const next = Date.now() - startedAt > 30000 ? 0 : attempt + 1;
      const delay = Math.min(30000, 500 * 2 ** next);
      logger.warn('service exited; restarting', { name: spec.name, code, signal, inMs: delay });
      setTimeout(() => !stopping && launch(spec, next), delay);
    });
  };
  for (const spec of services) launch(spec, 0);
  logger.info('Silt is running', {
    ingest: `http://localhost:${config.ingest.port}`,
    query: `http://localhost:${config.query.port}`,
    storage: Array.from({ length: config.replicas }, (_, r) => `http://localhost:${config.storage.port + r}`),
    kafka: brokers,
  });

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping the cluster', { signal });
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await broker?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  // SIGHUP re-reads keys and limits in every service, without restarting any.
  process.on('SIGHUP', () => {
    logger.info('reloading the configuration', { signal: 'SIGHUP' });
    for (const child of children.values()) child.kill('SIGHUP');
  });
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`silt: ${(err as Error).message}\n`);
  process.exit(1);
});
