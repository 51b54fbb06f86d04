import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';
import { testBrokers, uniqueName } from '../support/kafka';

const OWN_BROKER_TIMEOUT_MS = 240_000;

async function createTopic(brokers: string[], topic: string): Promise<void> {
  const admin = new Kafka({ clientId: 'kafka-broker-test', brokers, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  } finally {
    await admin.disconnect();
  }
}

async function produce(brokers: string[], topic: string, values: string[]): Promise<void> {
  const producer = new Kafka({ clientId: 'kafka-broker-test', brokers, logLevel: logLevel.NOTHING }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
  });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

async function consume(brokers: string[], topic: string, count: number): Promise<string[]> {
  const consumer = new Kafka({ clientId: 'kafka-broker-test', brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: uniqueName('kafka-broker-test'),
    maxWaitTimeInMs: 100,
  });
  const values: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`consumed ${values.length} of ${count} messages in 60 s`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString('utf8') ?? '');
            if (values.length >= count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return values;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'silt-kafka-broker-test-'));
}

function pidsWithArgument(argument: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(argument);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('infra > kafka broker', () => {
  describe('shared test broker', () => {
    it('produces and consumes a message', async () => {
      const brokers = testBrokers();
      const topic = uniqueName('kafka-broker-shared');
      await createTopic(brokers, topic);
      await produce(brokers, topic, ['hello silt']);
      expect(await consume(brokers, topic, 1)).toEqual(['hello silt']);
    });
  });

  describe('restarts on the same data dir', () => {
    let dataDir: string;
    let broker: BrokerHandle | undefined;

    beforeAll(() => {
      dataDir = tempDir();
    });

    afterAll(async () => {
      await broker?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it(
      'keeps acknowledged messages across a stop and a kill -9',
      async () => {
        broker = await startBroker({ dataDir });
        const { port, controllerPort, brokers } = broker;
        const topic = uniqueName('kafka-broker-restart');
        await createTopic(brokers, topic);
        await produce(brokers, topic, ['before stop']);

        await broker.stop();
        broker = await startBroker({ dataDir, port, controllerPort });
        await produce(brokers, topic, ['before kill']);

        await broker.kill();
        broker = await startBroker({ dataDir, port, controllerPort });
        expect(broker.brokers).toEqual(brokers);
        expect(await consume(brokers, topic, 2)).toEqual(['before stop', 'before kill']);
      },
      OWN_BROKER_TIMEOUT_MS,
    );
  });

  describe('start-up failure', () => {
    let dataDir: string;
    // Destroying accepted sockets lets close() finish although the broker probe connects here.
    const blocker = net.createServer((socket) => socket.destroy());

    beforeAll(() => {
      dataDir = tempDir();
    });

    afterAll(async () => {
      if (blocker.listening) await new Promise((resolve) => blocker.close(resolve));
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it(
      'reports the broker output when the JVM exits early',
      async () => {
        await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        const { port } = blocker.address() as net.AddressInfo;
        await expect(startBroker({ dataDir, port })).rejects.toThrow(/ended during start-up[\s\S]*Address already in use/);
        expect(pidsWithArgument(path.join(dataDir, 'server.properties'))).toEqual([]);
      },
      OWN_BROKER_TIMEOUT_MS,
    );
  });

  (process.platform === 'linux' ? describe : describe.skip)('orphan protection', () => {
    let dataDir: string;

    beforeAll(() => {
      dataDir = tempDir();
    });

    afterAll(() => {
      for (const pid of pidsWithArgument(path.join(dataDir, 'server.properties'))) process.kill(pid, 'SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it(
      'kills the JVM when the Node process that started it is killed with SIGKILL',
      async () => {
        // The parent loads the TypeScript source through swc, as jest does, and reports readiness on stdout.
        const script = `
          require(${JSON.stringify(path.resolve(__dirname, '../support/ts-register.js'))});
          require(${JSON.stringify(path.resolve(__dirname, '../../infra/src/kafka-broker.ts'))})
            .startBroker({ dataDir: ${JSON.stringify(dataDir)} })
            .then(() => process.stdout.write('ready\\n'), (err) => { process.stderr.write(err.message); process.exit(1); });
        `;
        const parent = spawn(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        parent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        parent.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        const parentGone = new Promise((resolve) => parent.once('close', resolve));
        try {
          await waitFor('the parent to start a broker', () => output.includes('ready') || parent.exitCode !== null, 120_000);
          expect(output).toContain('ready');
          const jvms = pidsWithArgument(path.join(dataDir, 'server.properties'));
          expect(jvms).toHaveLength(1);

          parent.kill('SIGKILL');
          await parentGone;
          await waitFor('the orphaned JVM to die', () => pidsWithArgument(path.join(dataDir, 'server.properties')).length === 0, 5_000);
        } finally {
          parent.kill('SIGKILL');
          await parentGone;
        }
      },
      OWN_BROKER_TIMEOUT_MS,
    );
  });
});
