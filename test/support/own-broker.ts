/** A Kafka broker of a test's own, for tests that stop Kafka under a running service (the shared test broker must stay up). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';

/** A broker in a temp dir that can be killed and started again on the same dir and ports. */
export class OwnBroker {
  private constructor(
    private handle: BrokerHandle,
    private readonly dataDir: string,
  ) {}

  /** Starts a fresh broker; `name` prefixes its temp dir. */
  static async start(name: string): Promise<OwnBroker> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `silt-${name}-`));
    try {
      return new OwnBroker(await startBroker({ dataDir }), dataDir);
    } catch (err) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Its bootstrap address, the same across restarts. */
  get brokers(): string[] {
    return this.handle.brokers;
  }

  /** Kills the broker process (SIGKILL), as a crash would. */
  kill(): Promise<void> {
    return this.handle.kill();
  }

  /** Starts it again on the same data dir and ports. */
  async restart(): Promise<void> {
    this.handle = await startBroker({ dataDir: this.dataDir, port: this.handle.port, controllerPort: this.handle.controllerPort });
  }

  /** Stops it and removes its data. */
  async close(): Promise<void> {
    await this.handle.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * Sends with `send` until it answers `ok` (a client retrying after Kafka came back), failing on any
 * answer other than `ok` or 503, or after `timeoutMs`.
 */
export async function retryUntil(ok: number, send: () => Promise<number>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let status = 0;
  while (Date.now() < deadline) {
    status = await send();
    if (status === ok) return;
    if (status !== 503) throw new Error(`answered ${status} while Kafka came back, not ${ok} or 503`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`still ${status} after ${timeoutMs} ms, not ${ok}`);
}
