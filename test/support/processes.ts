/** Runs Silt services as real child processes (from the TypeScript sources), for tests about crashes and restarts. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../infra/src/kafka-broker';

export { freePort };

const ROOT = path.resolve(__dirname, '../..');
const REGISTER = path.join(__dirname, 'ts-register.js');

/** Entry points of the services. */
export const ENTRIES = {
  ingest: path.join(ROOT, 'ingest/src/main.ts'),
  'storage-node': path.join(ROOT, 'storage-node/src/main.ts'),
  query: path.join(ROOT, 'query/src/main.ts'),
} as const;

/** Compiles the services into dist/ (`npm run build`), for tests that run them as `npm start` does; throws with tsc's output on failure. */
export function buildDist(): void {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
}

/** Polls `check` until it is true, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60000, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A service running as a child process. */
export class ServiceProcess {
  child: ChildProcess | null = null;
  output = '';

  constructor(
    readonly kind: keyof typeof ENTRIES,
    readonly env: Record<string, string>,
    readonly url: string,
    /** Arguments after the entry point (`--config <file>`). */
    readonly args: readonly string[] = [],
  ) {}

  /** Spawns the process and waits until its /readyz answers 200. */
  async start(timeoutMs = 90000): Promise<this> {
    const child = spawn(process.execPath, ['-r', REGISTER, ENTRIES[this.kind], ...this.args], {
      cwd: ROOT,
      env: { ...process.env, SILT_LOG_LEVEL: 'warn', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (d: Buffer): void => {
      this.output = (this.output + d.toString('utf8')).slice(-20000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    try {
      await waitFor(`${this.kind} at ${this.url} to be ready`, async () => {
        if (child.exitCode !== null) throw new Error(`${this.kind} exited with ${child.exitCode}:\n${this.output}`);
        return fetch(this.url + '/readyz').then((r) => r.status === 200, () => false);
      }, timeoutMs);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${this.output}`);
    }
    return this;
  }

  /** Sends `signal` without waiting (SIGHUP: reload the configuration). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}
