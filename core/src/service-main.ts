/** The process entry every service shares: load config once, start, reload on SIGHUP, and stop cleanly on SIGINT/SIGTERM. */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { configFileFromArgv, loadConfig, type SiltConfig } from './config';
import { SiltError } from './errors';
import { createLogger } from './logger';

/** What every service's `build` returns: the fastify app (for `inject`), its registry, and its lifecycle. */
export interface SiltService {
  app: FastifyInstance;
  registry: Registry;
  /** Connects, starts its work, and listens; resolves with the bound address. */
  start(): Promise<string>;
  /** Stops accepting work, finishes or hands off what is in flight, and disconnects. */
  stop(): Promise<void>;
  /** SIGHUP: the configuration was read again; keys and limits take effect for the next request, connections stay. */
  reload?(config: Readonly<SiltConfig>): void;
}

/** Runs the service built by `build` as this process; exits non-zero with a clear message when start fails. */
export function runService(name: string, build: (config: Readonly<SiltConfig>) => SiltService): void {
  let config: Readonly<SiltConfig>;
  try {
    config = loadConfig({ file: configFileFromArgv(process.argv.slice(2)), env: process.env });
  } catch (err) {
    process.stderr.write(`silt ${name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, { service: name });
  let service: SiltService;
  try {
    service = build(config);
  } catch (err) {
    // A plugin's options are checked when the service is built: still a configuration error.
    process.stderr.write(`silt ${name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    // A stuck shutdown must not keep the process alive forever.
    setTimeout(() => process.exit(1), 15000).unref();
    service.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error('stop failed', { err: String(err) });
        process.exit(1);
      },
    );
  };
  // Keys and limits change without a restart; a file that no longer validates leaves the running config as it was.
  process.on('SIGHUP', () => {
    try {
      const next = loadConfig({ file: configFileFromArgv(process.argv.slice(2)), env: process.env });
      service.reload?.(next);
      logger.info('configuration reloaded', { signal: 'SIGHUP' });
    } catch (err) {
      logger.error('reload refused, configuration kept', { err: (err as Error).message });
    }
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  service.start().catch((err: unknown) => {
    const code = err instanceof SiltError ? err.code : 'SILT_START_FAILED';
    logger.error('start failed', { code, err: (err as Error).message });
    process.exit(1);
  });
}
