/** The process entry every service shares: load config once, start, and stop cleanly on SIGINT/SIGTERM. */
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
  const service = build(config);
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
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  service.start().catch((err: unknown) => {
    const code = err instanceof SiltError ? err.code : 'SILT_START_FAILED';
    logger.error('start failed', { code, err: (err as Error).message });
    process.exit(1);
  });
}
