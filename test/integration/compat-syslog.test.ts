/**
 * Syslog compatibility against the real syslog-ng (Debian's syslog-ng-core, 3.38) as a child
 * process, sending 1,000 numbered lines by each of its TCP, UDP and TLS destinations, read back
 * through the query service; then the limits (a 1 MiB line, garbage that never ends) with a plain
 * socket, and, on a broker of its own, TCP backpressure while Kafka is down.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { loadConfig } from '../../core/src/config';
import { createLogger } from '../../core/src/logger';
import { build } from '../../ingest/src';
import { CompatCluster } from '../support/compat-cluster';
import { readTopic, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { OwnBroker } from '../support/own-broker';
import { testBrokers, uniqueName } from '../support/kafka';
import { waitFor } from '../support/processes';
import type { QueryEntry } from '../support/query-client';

const SYSLOG_NG = '/usr/sbin/syslog-ng';
const TENANT = 'syslog-compat';
const LINES = 1000;

const numbered = (n: number): string[] => Array.from({ length: n }, (_, i) => `line ${String(i + 1).padStart(4, '0')}`);

/** A metric's current value on a registry (0 when that label set was never touched). */
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const values = (await m.get()).values;
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

/** One syslog-ng run: its own config, pid, control socket and persist file in a temp dir; reads `in.log` and sends it to one destination. */
class SyslogNg {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
  ) {
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
  }

  static readonly running = new Set<SyslogNg>();

  /** Writes `lines` to a file and starts syslog-ng sending them, as `app` from `host`, local3.warning, to `destination`. */
  static start(root: string, name: string, lines: string[], destination: string, app: string, host: string): SyslogNg {
    const dir = fs.mkdtempSync(path.join(root, `${name}-`));
    fs.writeFileSync(path.join(dir, 'in.log'), lines.join('\n') + '\n');
    const conf = `@version: 3.38
options { keep-hostname(yes); };
source s_lines { file("${dir}/in.log" flags(no-parse) program-override("${app}") host-override("${host}") default-facility(local3) default-priority(warning) follow-freq(1)); };
rewrite r_fields { set("4242" value("PID")); set("ID7" value("MSGID")); set("3" value(".SDATA.test@32473.iut")); };
destination d_silt { ${destination}; };
log { source(s_lines); rewrite(r_fields); destination(d_silt); flags(flow-control); };
`;
    fs.writeFileSync(path.join(dir, 'syslog-ng.conf'), conf);
    const child = spawn(
      SYSLOG_NG,
      ['-F', '-f', `${dir}/syslog-ng.conf`, `--pidfile=${dir}/pid`, `--control=${dir}/ctl`, `--persist-file=${dir}/persist`, '--no-caps'],
      { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const run = new SyslogNg(child, dir);
    SyslogNg.running.add(run);
    return run;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  async stop(): Promise<string> {
    SyslogNg.running.delete(this);
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    return this.output;
  }
}

/** Connects a plain TCP client, resolving once connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

function endSocket(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.end(() => resolve()));
}

describe('ingest > syslog > compat (real syslog-ng)', () => {
  let root: string;
  let cluster: CompatCluster;
  let registry: Registry;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-syslog-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${root}/key.pem`, '-out', `${root}/cert.pem`, '-days', '1', '-subj', '/CN=localhost'], {
      stdio: 'ignore',
    });
    cluster = await CompatCluster.start({
      ingest: {
        syslogEnabled: true,
        syslogPort: 0,
        syslogTlsPort: 0,
        syslogTlsKeyFile: `${root}/key.pem`,
        syslogTlsCertFile: `${root}/cert.pem`,
        syslogTenant: TENANT,
      },
    });
    registry = cluster.ingest.service.registry;
  }, 180000);

  afterAll(async () => {
    await Promise.all([...SyslogNg.running].map((r) => r.stop()));
    await cluster?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }, 60000);

  const ports = (): { tcp: number; udp: number; tls: number } => {
    const a = cluster.ingest.service.syslogAddresses();
    return { tcp: a.tcp!.port, udp: a.udp!.port, tls: a.tls!.port };
  };

  /** Runs syslog-ng to one destination and returns the entries of `app`, after checking each numbered line arrived exactly once. */
  async function sendAll(name: string, destination: (p: ReturnType<typeof ports>) => string, app: string): Promise<QueryEntry[]> {
    const started = BigInt(Date.now() - 1000) * 1_000_000n;
    const run = SyslogNg.start(root, name, numbered(LINES), destination(ports()), app, `h-${app}`);
    let entries: QueryEntry[];
    try {
      entries = await cluster.waitForEntries(`{app="${app}"}`, LINES, TENANT);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nsyslog-ng said:\n${await run.stop()}`);
    }
    await run.stop();
    expect(entries.map((e) => e.line).sort()).toEqual(numbered(LINES));
    const ended = BigInt(Date.now()) * 1_000_000n;
    for (const e of entries) {
      expect(e.labels).toEqual({ facility: 'local3', level: 'warn', host: `h-${app}`, app });
      // syslog-ng stamps whole seconds: a timestamp from the message, not the receive time.
      const ts = BigInt(e.ts);
      expect(ts % 1_000_000_000n).toBe(0n);
      expect(ts >= started - 1_000_000_000n && ts <= ended).toBe(true);
    }
    return entries;
  }

  /** What syslog-ng's RFC 5424 output carries for line `n`. */
  const ietfAttrs = (e: QueryEntry): Record<string, string> => ({
    procid: '4242',
    msgid: 'ID7',
    'test@32473.iut': '3',
    'meta.sequenceId': String(Number(e.line.slice(5))),
  });

  it('takes network(transport("tcp")): RFC 3164, newline framing', async () => {
    const before = await metric(registry, 'silt_ingest_syslog_messages_total', { transport: 'tcp' });
    const entries = await sendAll('tcp-bsd', (p) => `network("127.0.0.1" port(${p.tcp}) transport("tcp"))`, 'tcp-bsd');
    for (const e of entries) expect(e.attrs).toEqual({ procid: '4242' });
    expect((await metric(registry, 'silt_ingest_syslog_messages_total', { transport: 'tcp' })) - before).toBe(LINES);
  }, 120000);

  it('takes network(transport("tcp") flags(syslog-protocol)): RFC 5424, newline framing', async () => {
    const entries = await sendAll('tcp-ietf', (p) => `network("127.0.0.1" port(${p.tcp}) transport("tcp") flags(syslog-protocol))`, 'tcp-ietf');
    for (const e of entries) expect(e.attrs).toEqual(ietfAttrs(e));
  }, 120000);

  it('takes syslog(transport("tcp")): RFC 5424, octet counting', async () => {
    const entries = await sendAll('tcp-syslog', (p) => `syslog("127.0.0.1" port(${p.tcp}) transport("tcp"))`, 'tcp-syslog');
    for (const e of entries) expect(e.attrs).toEqual(ietfAttrs(e));
  }, 120000);

  it('takes network(transport("udp")): RFC 3164, one message per datagram', async () => {
    const before = await metric(registry, 'silt_ingest_syslog_messages_total', { transport: 'udp' });
    const entries = await sendAll('udp-bsd', (p) => `network("127.0.0.1" port(${p.udp}) transport("udp"))`, 'udp-bsd');
    for (const e of entries) expect(e.attrs).toEqual({ procid: '4242' });
    expect((await metric(registry, 'silt_ingest_syslog_messages_total', { transport: 'udp' })) - before).toBe(LINES);
  }, 120000);

  it('takes syslog(transport("tls")) with a self-signed certificate: RFC 5425', async () => {
    const before = await metric(registry, 'silt_ingest_syslog_messages_total', { transport: 'tls' });
    const entries = await sendAll(
      'tls',
      (p) => `syslog("127.0.0.1" port(${p.tls}) transport("tls") tls(peer-verify(optional-untrusted)))`,
      'tls-syslog',
    );
    for (const e of entries) expect(e.attrs).toEqual(ietfAttrs(e));
    expect((await metric(registry, 'silt_ingest_syslog_messages_total', { transport: 'tls' })) - before).toBe(LINES);
  }, 120000);

  it('cuts a 1 MiB line to the line limit, noting its size, and goes on with the next message in both framings', async () => {
    const big = 'y'.repeat(1024 * 1024);
    const octetMsg = `<14>1 - bighost big-octet - - - ${big}`;
    const lineMsg = `<14>1 - bighost big-line - - - ${big}`;
    const socket = await connect(ports().tcp);
    socket.write(`${Buffer.byteLength(octetMsg)} ${octetMsg}`);
    socket.write('<14>1 - bighost big-octet - - - after octet\n');
    socket.write(`${lineMsg}\n<14>1 - bighost big-line - - - after line\n`);
    await endSocket(socket);
    const maxLine = cluster.ingest.config.ingest.maxLineBytes;
    for (const [app, size] of [
      ['big-octet', Buffer.byteLength(octetMsg)],
      ['big-line', Buffer.byteLength(lineMsg)],
    ] as const) {
      const entries = await cluster.waitForEntries(`{app="${app}"}`, 2, TENANT);
      expect(entries.map((e) => ({ line: e.line.length > 100 ? `${e.line.length} × ${e.line[0]}` : e.line, attrs: e.attrs }))).toEqual([
        { line: `${maxLine} × y`, attrs: { syslog_truncated: String(size) } },
        { line: `after ${app === 'big-octet' ? 'octet' : 'line'}`, attrs: undefined },
      ]);
    }
    expect(await metric(registry, 'silt_ingest_syslog_truncated_total', { transport: 'tcp' })).toBe(2);
  }, 120000);

  it('closes a connection that sends garbage forever (no trailer, or a count of 10^12), counts it, and keeps what came before', async () => {
    const closedBy = (reason: string): Promise<number> => metric(registry, 'silt_ingest_syslog_connections_closed_total', { transport: 'tcp', reason });
    const [lineBefore, frameBefore] = [await closedBy('line_too_long'), await closedBy('frame_too_large')];

    const endless = await connect(ports().tcp);
    endless.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => endless.once('close', () => resolve()));
    endless.write('<14>1 - garbage garbage-endless - - - before the garbage\n');
    const chunk = Buffer.alloc(64 * 1024, 0x7a);
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && sent < 64 * 1024 * 1024) {
      sent += chunk.length;
      if (endless.write(chunk)) continue;
      await new Promise<void>((resolve) => {
        endless.once('drain', resolve);
        endless.once('close', resolve);
      });
    }
    await closed;
    expect(sent).toBeLessThan(64 * 1024 * 1024);

    const huge = await connect(ports().tcp);
    huge.on('error', () => undefined);
    const hugeClosed = new Promise<void>((resolve) => huge.once('close', () => resolve()));
    huge.write('<14>1 - garbage garbage-count - - - before the count\n1000000000000 <14>1 - garbage garbage-count - - - never\n');
    await hugeClosed;

    await waitFor('both closes counted', async () => (await closedBy('line_too_long')) === lineBefore + 1 && (await closedBy('frame_too_large')) === frameBefore + 1);
    expect((await cluster.waitForEntries('{host="garbage"}', 2, TENANT)).map((e) => e.line).sort()).toEqual(['before the count', 'before the garbage']);
    await waitFor('no connection left open', async () => (await metric(registry, 'silt_ingest_syslog_connections', { transport: 'tcp' })) === 0);
  }, 120000);

  it('stores unparsable messages as raw lines with syslog_error, over TCP and UDP', async () => {
    const socket = await connect(ports().tcp);
    socket.write('this is not syslog\n<999>bad pri\n');
    await endSocket(socket);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => udp.send('raw datagram', ports().udp, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    udp.close();
    const entries = await cluster.waitForEntries('{facility="user", level="notice"}', 3, TENANT);
    expect(entries.map((e) => [e.line, e.attrs, e.labels]).sort()).toEqual([
      ['<999>bad pri', { syslog_error: 'bad_pri' }, { facility: 'user', level: 'notice' }],
      ['raw datagram', { syslog_error: 'no_pri' }, { facility: 'user', level: 'notice' }],
      ['this is not syslog', { syslog_error: 'no_pri' }, { facility: 'user', level: 'notice' }],
    ]);
    expect(await metric(registry, 'silt_ingest_syslog_malformed_total', { reason: 'no_pri' })).toBe(2);
    expect(await metric(registry, 'silt_ingest_syslog_malformed_total', { reason: 'bad_pri' })).toBe(1);
  }, 120000);
});

describe('ingest > syslog > start and stop', () => {
  it('stops without waiting for a TLS client that never sends its handshake, and closes it', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-syslog-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${root}/key.pem`, '-out', `${root}/cert.pem`, '-days', '1', '-subj', '/CN=localhost'], {
        stdio: 'ignore',
      });
      const ing = await startIngest({
        ingest: { syslogEnabled: true, syslogPort: 0, syslogTlsPort: 0, syslogTlsKeyFile: `${root}/key.pem`, syslogTlsCertFile: `${root}/cert.pem` },
      });
      const silent = await connect(ing.service.syslogAddresses().tls!.port);
      const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
      silent.on('error', () => undefined);
      await ing.service.stop();
      await closed;
      expect(ing.service.syslogAddresses()).toEqual({ tcp: null, udp: null, tls: null });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120000);


  it('refuses to start with a TLS key file that is missing or not a key, naming the key', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-syslog-tls-'));
    fs.writeFileSync(`${root}/cert.pem`, 'not a certificate');
    fs.writeFileSync(`${root}/key.pem`, 'not a key');
    try {
      for (const [keyFile, message] of [
        [`${root}/missing.pem`, /ingest\.syslogTlsKeyFile: cannot read .*missing\.pem/],
        [`${root}/key.pem`, /ingest\.syslogTlsKeyFile: .* are not a usable TLS key and certificate/],
      ] as const) {
        const config = loadConfig({
          overrides: {
            logLevel: 'silent',
            kafka: { brokers: testBrokers(), logsTopic: uniqueName('silt.logs'), nodesTopic: uniqueName('silt.nodes'), partitions: 1 },
            ingest: { host: '127.0.0.1', port: 0, syslogPort: 0, syslogTlsPort: 0, syslogTlsKeyFile: keyFile, syslogTlsCertFile: `${root}/cert.pem` },
          },
        });
        const service = build(config, { logger: createLogger('silent') });
        try {
          await expect(service.start()).rejects.toMatchObject({ code: 'SILT_CONFIG_INVALID', message: expect.stringMatching(message) });
          expect(service.syslogAddresses()).toEqual({ tcp: null, udp: null, tls: null });
        } finally {
          await service.stop();
        }
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120000);
});

describe('ingest > syslog > connection limits', () => {
  let ing: IngestUnderTest;

  beforeAll(async () => {
    ing = await startIngest({ ingest: { syslogEnabled: true, syslogPort: 0, syslogIdleTimeoutMs: 500, syslogMaxConnections: 1, syslogMaxMessageBytes: 2048 } });
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
  }, 60000);

  it('closes an idle connection, refuses one over the limit, and drops a datagram over the message limit, counting each', async () => {
    const registry = ing.service.registry;
    const { tcp, udp } = ing.service.syslogAddresses();
    const first = await connect(tcp!.port);
    first.on('error', () => undefined);
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    first.write('<14>1 - limits idle - - - kept\n');
    await waitFor('the first connection counted', async () => (await metric(registry, 'silt_ingest_syslog_connections', { transport: 'tcp' })) === 1);

    const second = net.connect(tcp!.port, '127.0.0.1');
    second.on('error', () => undefined);
    await new Promise<void>((resolve) => second.once('close', () => resolve()));
    await firstClosed;
    const closedBy = (reason: string): Promise<number> => metric(registry, 'silt_ingest_syslog_connections_closed_total', { transport: 'tcp', reason });
    await waitFor('both closes counted', async () => (await closedBy('max_connections')) === 1 && (await closedBy('idle_timeout')) === 1);

    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => socket.send(Buffer.alloc(3000, 0x61), udp!.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    socket.close();
    await waitFor('the datagram counted', async () => (await metric(registry, 'silt_ingest_syslog_dropped_total', { transport: 'udp', reason: 'too_large' })) === 1);

    expect((await readTopic(testBrokers(), ing.config.kafka.logsTopic)).map((e) => [e.labels, e.line])).toEqual([
      [{ facility: 'user', level: 'info', host: 'limits', app: 'idle' }, 'kept'],
    ]);
  }, 120000);
});

describe('ingest > syslog > Kafka down', () => {
  let broker: OwnBroker;
  let ing: IngestUnderTest;

  beforeAll(async () => {
    broker = await OwnBroker.start('syslog-down');
    ing = await startIngest({ ingest: { syslogEnabled: true, syslogPort: 0, ackTimeoutMs: 1500, retryAfterSeconds: 1 } }, broker.brokers);
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
    await broker?.close();
  }, 60000);

  it('stops reading a TCP connection while Kafka cannot take its batch, and loses no line once Kafka is back', async () => {
    const registry = ing.service.registry;
    const lines = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
    const send = (socket: net.Socket, list: string[]): void => void socket.write(list.map((l) => `<14>1 - down-host down-app - - - ${l}\n`).join(''));
    const socket = await connect(ing.service.syslogAddresses().tcp!.port);

    send(socket, lines('before', 100));
    await waitFor('the first lines in Kafka', async () => (await readTopic(broker.brokers, ing.config.kafka.logsTopic)).length === 100, 60000);

    await broker.kill();
    send(socket, lines('during', 2000));
    await waitFor('the connection paused', async () => (await metric(registry, 'silt_ingest_syslog_paused_connections', { transport: 'tcp' })) === 1, 30000);
    await waitFor('a retry', async () => (await metric(registry, 'silt_ingest_syslog_retries_total')) > 0, 30000);
    // UDP cannot wait: its datagrams are dropped and counted.
    const udp = dgram.createSocket('udp4');
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) =>
        udp.send(`<14>1 - down-host down-udp - - - datagram ${i}`, ing.service.syslogAddresses().udp!.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
    udp.close();
    await waitFor('the datagrams counted', async () => (await metric(registry, 'silt_ingest_syslog_dropped_total', { transport: 'udp', reason: 'kafka_unavailable' })) === 5, 30000);

    await broker.restart();
    // At least once: a push that timed out while Kafka was down may still land once it is back, besides the retry.
    const want = [...lines('before', 100), ...lines('during', 2000)].sort();
    let got: string[] = [];
    await waitFor(
      `${want.length} lines in Kafka`,
      async () => {
        got = [...new Set((await readTopic(broker.brokers, ing.config.kafka.logsTopic)).filter((e) => e.labels.app === 'down-app').map((e) => e.line))];
        return got.length >= want.length;
      },
      90000,
      1000,
    );
    expect(got.sort()).toEqual(want);
    await waitFor('reading again', async () => (await metric(registry, 'silt_ingest_syslog_paused_connections', { transport: 'tcp' })) === 0);
    expect(await metric(registry, 'silt_ingest_syslog_dropped_total', { transport: 'tcp' })).toBe(0);
    await endSocket(socket);
  }, 240000);
});
