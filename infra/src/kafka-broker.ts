import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

/** Options of {@link startBroker}. */
export interface StartBrokerOptions {
  dataDir: string;
  port?: number;
  controllerPort?: number;
  log?: (msg: string) => void;
  heapMb?: number;
}

/** A running single-node Kafka broker started by {@link startBroker}. */
export interface BrokerHandle {
  brokers: string[];
  port: number;
  controllerPort: number;
  dataDir: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const TAIL_LINES = 50;

const liveBrokers = new Set<ChildProcess>();
let exitHookInstalled = false;

// The synchronous 'exit' hook covers Node ending on its own or by an uncaught error; pdeathsig (see
// launcher) covers Node being killed by a signal, when no JavaScript runs any more.
function guardAgainstOrphans(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const live of liveBrokers) live.kill('SIGKILL');
    });
  }
  liveBrokers.add(child);
  child.once('exit', () => liveBrokers.delete(child));
}

let cachedRoot: string | undefined;

function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  // Walk up because this file runs both from source (infra/src) and compiled (dist/infra/src).
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'silt') {
      cachedRoot = dir;
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json named "silt" above ${__dirname}`);
  }
}

function kafkaDir(): string {
  return path.join(repoRoot(), 'infra', 'kafka');
}

/** Resolves the Kafka broker jars with Maven when missing or stale and returns their directory. */
export async function ensureKafkaJars(options: { log?: (msg: string) => void } = {}): Promise<string> {
  const dir = kafkaDir();
  const libs = path.join(dir, 'libs');
  const marker = path.join(libs, '.resolved');
  // The marker holds the pom's hash, so editing the pom (a version bump) resolves again.
  const stamp = createHash('sha256').update(fs.readFileSync(path.join(dir, 'pom.xml'))).digest('hex');
  if (readIfExists(marker) === stamp) return libs;

  options.log?.('resolving Kafka broker jars with Maven (first run only)');
  const started = Date.now();
  // Maven copies into a private staging dir that is renamed into place only when complete, so an
  // interrupted run never leaves a half-filled libs/ and two concurrent runs cannot mix their files.
  const target = path.join(dir, 'target');
  fs.mkdirSync(target, { recursive: true });
  const staging = fs.mkdtempSync(path.join(target, 'libs-'));
  try {
    const result = await run('mvn', ['-q', '-B', '-f', path.join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-Dsilt.kafka.libs=${staging}`]);
    if (result.code !== 0) {
      throw new Error(`mvn dependency:copy-dependencies failed (exit ${result.code}):\n${result.output.slice(-4000)}`);
    }
    fs.writeFileSync(path.join(staging, '.resolved'), stamp);
    if (readIfExists(marker) !== stamp) {
      fs.rmSync(libs, { recursive: true, force: true });
      try {
        fs.renameSync(staging, libs);
      } catch (err) {
        if (readIfExists(marker) !== stamp) throw err;
      }
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  options.log?.(`Kafka broker jars resolved in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return libs;
}

/** Starts (or restarts, on an existing dataDir) a one-node KRaft Kafka broker on loopback. */
export async function startBroker(options: StartBrokerOptions): Promise<BrokerHandle> {
  const libs = await ensureKafkaJars({ log: options.log });
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  let controllerPort = options.controllerPort ?? (await freePort());
  while (controllerPort === port) controllerPort = await freePort();
  const logDir = path.join(dataDir, 'kraft-logs');
  const propsFile = path.join(dataDir, 'server.properties');
  fs.writeFileSync(propsFile, serverProperties({ port, controllerPort, logDir }));

  const jvmArgs = [
    `-Xmx${options.heapMb ?? 512}m`,
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${path.join(kafkaDir(), 'log4j.properties')}`,
    '-cp',
    path.join(libs, '*'),
  ];
  const tail: string[] = [];
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    options.log?.(line);
  };

  if (!fs.existsSync(path.join(logDir, 'meta.properties'))) {
    const format = await run(...launcher([...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', clusterId(dataDir), '-c', propsFile, '--ignore-formatted']), dataDir);
    format.output.split('\n').filter(Boolean).forEach(onLine);
    if (format.code !== 0) throw new Error(`Kafka StorageTool format failed (exit ${format.code}):\n${tail.join('\n')}`);
  }

  const [command, args] = launcher([...jvmArgs, 'kafka.Kafka', propsFile]);
  // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) must reach the
  // services, not the broker, so they can still leave their groups and announce before it stops.
  const child = spawn(command, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  guardAgainstOrphans(child);
  let endedHow: string | undefined;
  // 'close' rather than 'exit': the error message needs the last lines, which arrive before 'close'.
  const ended = new Promise<string>((resolve) => {
    child.once('close', (code, signal) => resolve(`exit ${code ?? signal}`));
    child.once('error', (err) => resolve(`cannot run ${command}: ${err.message}`));
  }).then((how) => (endedHow = how));
  pipeLines(child.stdout, onLine);
  pipeLines(child.stderr, onLine);

  const stopWith = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (endedHow === undefined) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await ended;
      clearTimeout(timer);
    }
  };
  const brokers = [`127.0.0.1:${port}`];
  const outcome = await waitReady(brokers, () => endedHow !== undefined);
  if (outcome !== 'ready') {
    await stopWith('SIGKILL', 0);
    const why = outcome === 'ended' ? `ended during start-up (${endedHow})` : `not ready after ${STARTUP_TIMEOUT_MS / 1000} s`;
    throw new Error(`Kafka broker on ${brokers[0]} ${why}:\n${tail.join('\n')}`);
  }

  return {
    brokers,
    port,
    controllerPort,
    dataDir,
    stop: () => stopWith('SIGTERM', STOP_GRACE_MS),
    kill: () => stopWith('SIGKILL', 0),
  };
}

function serverProperties(p: { port: number; controllerPort: number; logDir: string }): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${p.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${p.logDir}`,
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'group.initial.rebalance.delay.ms=0',
    // After a kill -9 the restarted controller refuses the broker's re-registration until the old
    // session expires: 9 s by default, which is most of a restart.
    'broker.session.timeout.ms=4000',
    'broker.heartbeat.interval.ms=1000',
    // Retention is checked every 5 minutes by default: a local cluster with a short silt.logs
    // retention (and the tests of rebuild from a peer) would keep deleted data that long.
    'log.retention.check.interval.ms=10000',
    // Two cores: the defaults (3 network, 8 I/O threads) only add contention.
    'num.network.threads=2',
    'num.io.threads=4',
    '',
  ].join('\n');
}

function clusterId(dataDir: string): string {
  // Kept in the data dir so that a format interrupted before meta.properties is retried with the same id.
  const file = path.join(dataDir, 'cluster-id');
  const existing = readIfExists(file)?.trim();
  if (existing) return existing;
  let id: string;
  // Kafka's Uuid rejects the all-zero id and its tools misparse ids that begin with '-'.
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-') || id === 'AAAAAAAAAAAAAAAAAAAAAA');
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

// setpriv makes the kernel SIGKILL the JVM when this Node process dies, even by SIGKILL; without it
// (not Linux) only the 'exit' hook protects against orphans.
function launcher(javaArgs: string[]): [string, string[]] {
  return hasSetpriv() ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', 'java', ...javaArgs]] : ['java', javaArgs];
}

let setprivAvailable: boolean | undefined;

function hasSetpriv(): boolean {
  setprivAvailable ??= spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  return setprivAvailable;
}

async function waitReady(brokers: string[], ended: () => boolean): Promise<'ready' | 'ended' | 'timeout'> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (!ended()) {
    const admin = new Kafka({
      clientId: 'silt-broker-probe',
      brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      if ((await admin.describeCluster()).brokers.length > 0) return 'ready';
    } catch {
      // Not listening or not serving metadata yet: probe again until the deadline.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() > deadline) return 'timeout';
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return 'ended';
}

/** A free loopback port: bound to port 0 and released, good enough on one machine. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], cwd?: string): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (err) => reject(new Error(`cannot run ${command}: ${err.message}`)));
    child.once('close', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', output: Buffer.concat(chunks).toString('utf8') }));
  });
}

function pipeLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line) onLine(line);
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
  });
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
