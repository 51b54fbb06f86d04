/** The harness's side of the load generator: spawns load-worker.ts as a process and runs jobs on it. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { FromWorker, LoadJob, LoadResult } from './load-protocol';

const ROOT = path.resolve(__dirname, '../..');

/** A running load-generator process. */
export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  /** The generator's process id (its CPU is reported: it shares the machine's two cores). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Spawns the generator and waits until its batch templates are built. */
  static async start(batch: number): Promise<LoadGenerator> {
    const child = spawn(process.execPath, ['-r', path.join(ROOT, 'test/support/ts-register.js'), path.join(__dirname, 'load-worker.ts'), String(batch)], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const generator = new LoadGenerator(child);
    await generator.next('ready');
    return generator;
  }

  private next(type: 'ready' | 'result'): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`load generator exited (${code}) while waiting for "${type}"`));
      this.child.once('exit', onExit);
      this.child.once('message', (message: FromWorker) => {
        this.child.off('exit', onExit);
        if (message.type === 'failed') reject(new Error(`load generator failed: ${message.message}`));
        else resolve(message);
      });
    });
  }

  /** Runs one job to completion. */
  async run(job: LoadJob): Promise<LoadResult> {
    const answer = this.next('result');
    this.child.send({ type: 'job', job });
    return ((await answer) as Extract<FromWorker, { type: 'result' }>).result;
  }

  /** Ends the process. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'exit' });
    await exited;
  }
}
