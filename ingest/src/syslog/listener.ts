/**
 * The syslog listeners: RFC 5424 and RFC 3164 over TCP and UDP on `syslogPort`, and over TLS
 * (RFC 5425) on `syslogTlsPort` when a key and certificate are configured; every message goes to the
 * distributor under `syslogTenant`. Syslog has no acknowledgement, so a TCP or TLS connection is
 * read only while no batch of it waits for Kafka: while one waits, or Kafka cannot take it (it is
 * pushed again with backoff, never dropped), the socket is paused and the sender's own buffers take
 * the load. A UDP datagram that cannot be taken is dropped and counted by reason.
 */
import { isUtf8 } from 'node:buffer';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { IngestSettings } from '../../../core/src/config';
import { ConfigError } from '../../../core/src/errors';
import { toSiltError } from '../../../core/src/http';
import { TENANT_RE } from '../../../core/src/labels';
import { nowNs } from '../../../core/src/time';
import type { IngestContext } from '../routes/context';
import { SyslogBatch } from './batch';
import { SyslogFramer, type FrameHandler, type FramingError } from './framing';
import { SyslogParser } from './parse';

/** How a syslog message arrived, as a metric label. */
export type SyslogTransport = 'tcp' | 'udp' | 'tls';

/** Where the listeners are bound; null for one that does not run (TLS without a key and certificate, or before `start`). */
export interface SyslogAddresses {
  tcp: AddressInfo | null;
  udp: AddressInfo | null;
  tls: AddressInfo | null;
}

/** Why a TCP or TLS connection was closed, as a metric label. */
type CloseReason = FramingError | 'peer' | 'idle_timeout' | 'socket_error' | 'shutdown';

/** Smallest `syslogMaxMessageBytes`: RFC 5425 has every receiver take messages of 2048 octets. */
const MIN_MESSAGE_BYTES = 2048;
/** Room held beyond the line limit for a message's PRI and header fields (its structured data has the attribute limit's). */
const HEADER_ROOM = 1024;
const RETRY_FIRST_MS = 100;
const KEEPALIVE_MS = 60_000;
/** Receive buffer asked of the kernel for the UDP socket (capped at net.core.rmem_max): bursts wait there while a batch is parsed. */
const UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** The key and certificate files, read now, so a missing or unusable file is a start error that names its key. */
function loadTls(s: IngestSettings): tls.TlsOptions {
  const read = (key: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`ingest.${key}: cannot read ${file}: ${(err as Error).message}`, { key: `ingest.${key}` });
    }
  };
  const options: tls.TlsOptions = { key: read('syslogTlsKeyFile', s.syslogTlsKeyFile), cert: read('syslogTlsCertFile', s.syslogTlsCertFile) };
  if (s.syslogTlsClientCaFile !== '') Object.assign(options, { ca: read('syslogTlsClientCaFile', s.syslogTlsClientCaFile), requestCert: true, rejectUnauthorized: true });
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new ConfigError(
      `ingest.syslogTlsKeyFile: ${s.syslogTlsKeyFile} and ingest.syslogTlsCertFile: ${s.syslogTlsCertFile} are not a usable TLS key and certificate: ${(err as Error).message}`,
      { key: 'ingest.syslogTlsKeyFile' },
    );
  }
  return options;
}

function listen(server: net.Server, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(new Error(`syslog ${what} listener on ${host}:${port}: ${err.message}`));
    server.once('error', failed);
    server.listen({ host, port }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

function bindUdp(socket: dgram.Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(new Error(`syslog UDP listener on ${host}:${port}: ${err.message}`));
    socket.once('error', failed);
    socket.bind({ address: host, port }, () => {
      socket.off('error', failed);
      resolve();
    });
  });
}

/** Runs the syslog listeners; see the module comment. */
export class SyslogListeners {
  /** Every message is stored under this tenant. */
  readonly tenant: string;
  /** Bytes of one message held for parsing; the rest of a longer one is skipped and it is stored cut. */
  readonly keepBytes: number;
  /** A longer message closes its connection (TCP, TLS) or is dropped (UDP). */
  readonly maxMessageBytes: number;
  /** True once `stop` began: each batch gets one last push, and backoff sleeps end. */
  stopping = false;
  private tcp: net.Server | null = null;
  private tls: tls.Server | null = null;
  private udp: dgram.Socket | null = null;
  private udpIntake: DatagramIntake | null = null;
  private bound: SyslogAddresses = { tcp: null, udp: null, tls: null };
  private readonly connections = new Set<StreamConnection>();
  /** Every accepted socket, TLS ones before their handshake too, so `stop` leaves none open. */
  private readonly sockets = new Set<net.Socket>();
  private readonly sleepers = new Set<() => void>();

  /**
   * `authRequired` (auth is on): plain TCP and UDP carry no credentials, so they stay closed, and
   * TLS opens only with client certificates required (`syslogTlsClientCaFile`).
   */
  constructor(
    readonly ctx: IngestContext,
    private readonly authRequired = false,
  ) {
    const s = ctx.settings;
    this.tenant = s.syslogTenant;
    this.maxMessageBytes = s.syslogMaxMessageBytes;
    this.keepBytes = Math.min(s.syslogMaxMessageBytes, s.maxLineBytes + s.maxAttrBytes + HEADER_ROOM);
  }

  /** Binds TCP, UDP and (when configured) TLS; throws, with nothing left bound, when one cannot start. */
  async start(): Promise<SyslogAddresses> {
    const s = this.ctx.settings;
    if (!TENANT_RE.test(s.syslogTenant)) {
      throw new ConfigError(`ingest.syslogTenant: "${s.syslogTenant}" is not a valid tenant name ([a-zA-Z0-9_.-]{1,64})`, { key: 'ingest.syslogTenant' });
    }
    if (s.syslogMaxMessageBytes < MIN_MESSAGE_BYTES) {
      throw new ConfigError(`ingest.syslogMaxMessageBytes: must be at least ${MIN_MESSAGE_BYTES}, got ${s.syslogMaxMessageBytes}`, { key: 'ingest.syslogMaxMessageBytes' });
    }
    const mutualTls = s.syslogTlsKeyFile !== '' && s.syslogTlsClientCaFile !== '';
    if (this.authRequired && !mutualTls) {
      this.ctx.logger.warn('syslog is off: auth is on, and only TLS with client certificates (ingest.syslogTlsClientCaFile) authenticates a syslog sender');
      return this.addresses();
    }
    const tlsOptions = s.syslogTlsKeyFile === '' ? null : loadTls(s);
    try {
      if (!this.authRequired) await this.startPlain(s);
      if (tlsOptions !== null) {
        const server = tls.createServer(tlsOptions);
        server.on('tlsClientError', () => this.ctx.metrics.syslogConnectionsClosed.inc({ transport: 'tls', reason: 'tls_handshake' }));
        this.tls = this.streamServer(server, 'tls');
        await listen(this.tls, s.host, s.syslogTlsPort, 'TLS');
        this.bound.tls = this.tls.address() as AddressInfo;
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this.addresses();
  }

  /** Binds TCP and UDP on `syslogPort`. */
  private async startPlain(s: IngestSettings): Promise<void> {
    this.tcp = this.streamServer(net.createServer(), 'tcp');
    await listen(this.tcp, s.host, s.syslogPort, 'TCP');
    this.bound.tcp = this.tcp.address() as AddressInfo;
    const udp = dgram.createSocket({ type: net.isIPv6(s.host) ? 'udp6' : 'udp4', recvBufferSize: UDP_RECEIVE_BUFFER });
    this.udp = udp;
    await bindUdp(udp, s.host, s.syslogPort);
    this.bound.udp = udp.address();
    const intake = new DatagramIntake(this);
    this.udpIntake = intake;
    udp.on('message', (msg) => intake.onMessage(msg));
    udp.on('error', (err) => this.ctx.logger.warn('syslog UDP socket error', { err: err.message }));
  }

  /** The bound addresses. */
  addresses(): SyslogAddresses {
    return { ...this.bound };
  }

  /** Stops accepting, gives every batch read so far one last push, and closes every connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    const servers = [this.tcp, this.tls].filter((srv): srv is net.Server => srv !== null);
    const closed = servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve())));
    const udp = this.udp;
    const intake = this.udpIntake;
    this.tcp = this.tls = this.udp = this.udpIntake = null;
    this.bound = { tcp: null, udp: null, tls: null };
    if (udp !== null) {
      await new Promise<void>((resolve) => {
        try {
          udp.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    await Promise.all([...this.connections].map((c) => c.shutdown()));
    for (const socket of this.sockets) socket.destroy();
    await intake?.shutdown();
    await Promise.all(closed);
  }

  /** A new batch for `parser`'s messages, received now. */
  newBatch(parser: SyslogParser): SyslogBatch {
    return new SyslogBatch(parser, this.ctx.limitsFor(this.tenant), nowNs());
  }

  /**
   * Pushes a batch. `persistent` (TCP, TLS): while Kafka cannot take it, or the distributor is
   * saturated, waits with backoff and pushes it again, until `stop` (then once more). Otherwise
   * (UDP) what Kafka refuses is dropped and counted. Never throws.
   */
  async deliver(batch: SyslogBatch, transport: SyslogTransport, persistent: boolean): Promise<void> {
    const { metrics: m, distributor, logger } = this.ctx;
    const parsed = batch.result();
    m.syslogMessages.inc({ transport }, batch.messages);
    if (batch.truncated > 0) m.syslogTruncated.inc({ transport }, batch.truncated);
    for (const [reason, n] of batch.malformed) m.syslogMalformed.inc({ reason }, n);
    if (parsed.rejected.length > 0) m.syslogDropped.inc({ transport, reason: 'rejected' }, parsed.rejected.length);
    const maxWaitMs = this.ctx.settings.retryAfterSeconds * 1000;
    let attempt = parsed;
    let waitMs = RETRY_FIRST_MS;
    let waited = false;
    for (;;) {
      if (persistent && !this.stopping && distributor.saturated) {
        await this.sleep(waitMs);
        waitMs = Math.min(waitMs * 2, maxWaitMs);
        continue;
      }
      try {
        await distributor.push(this.tenant, attempt, batch.bytes);
        return;
      } catch (err) {
        const silt = toSiltError(err);
        if (silt.status === 503 && persistent && !this.stopping) {
          m.syslogRetries.inc();
          if (!waited) logger.warn('syslog batch waits for Kafka; its connection is not read meanwhile', { transport, entries: parsed.accepted, code: silt.code });
          waited = true;
          // The rejections were counted on the first push.
          attempt = { ...parsed, rejected: [] };
          await this.sleep(waitMs);
          waitMs = Math.min(waitMs * 2, maxWaitMs);
          continue;
        }
        const reason = silt.status !== 503 ? 'error' : this.stopping ? 'shutdown' : 'kafka_unavailable';
        m.syslogDropped.inc({ transport, reason }, parsed.accepted);
        logger[reason === 'error' ? 'error' : 'warn']('syslog batch dropped', { transport, entries: parsed.accepted, reason, code: silt.code, err: silt.message });
        return;
      }
    }
  }

  /** Forgets a connection that is closed and has nothing left to push. */
  forget(connection: StreamConnection): void {
    this.connections.delete(connection);
  }

  private streamServer<T extends net.Server>(server: T, transport: SyslogTransport): T {
    const s = this.ctx.settings;
    if (s.syslogMaxConnections > 0) server.maxConnections = s.syslogMaxConnections;
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on(transport === 'tls' ? 'secureConnection' : 'connection', (socket: net.Socket) => this.connections.add(new StreamConnection(this, socket, transport)));
    server.on('drop', () => this.ctx.metrics.syslogConnectionsClosed.inc({ transport, reason: 'max_connections' }));
    server.on('error', (err: Error) => this.ctx.logger.warn('syslog listener error', { transport, err: err.message }));
    return server;
  }

  /** Waits `ms`, or less when `stop` begins. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

/** What TCP, TLS and UDP share: one parser, one batch open at a time, one push in flight. */
abstract class Intake {
  protected batch: SyslogBatch | null = null;
  protected sending = false;
  protected readonly parser: SyslogParser;
  private linger: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];
  /** Adds one framed message to the open batch. */
  protected readonly onFrame: FrameHandler = (buf, start, end, size, utf8) => {
    (this.batch ??= this.owner.newBatch(this.parser)).add(buf, start, end, size, utf8);
  };

  constructor(
    protected readonly owner: SyslogListeners,
    readonly transport: SyslogTransport,
    private readonly persistent: boolean,
  ) {
    this.parser = new SyslogParser(owner.ctx.limitsFor(owner.tenant).maxLineBytes);
  }

  /** True when the open batch can take no more. */
  protected batchFull(): boolean {
    const s = this.owner.ctx.settings;
    return this.batch !== null && this.batch.full(s.syslogMaxBatchEntries, s.syslogMaxBatchBytes);
  }

  /** After new input: pushes a full batch (or any, while the distributor is saturated) now, else once it has lingered. */
  protected scheduled(): void {
    if (this.batch === null) return;
    if (this.batchFull() || this.owner.ctx.distributor.saturated) {
      this.flush();
    } else {
      this.linger ??= setTimeout(() => {
        this.linger = null;
        this.flush();
      }, this.owner.ctx.settings.syslogLingerMs);
    }
  }

  /** Pushes the open batch, unless one is in flight (it follows when that one is done). */
  protected flush(): void {
    if (this.linger !== null) {
      clearTimeout(this.linger);
      this.linger = null;
    }
    const batch = this.batch;
    if (batch === null || this.sending) return;
    this.batch = null;
    this.sending = true;
    this.sendStarted();
    void this.owner.deliver(batch, this.transport, this.persistent).then(() => {
      this.sending = false;
      if (this.batch !== null && this.linger === null) this.flush();
      if (this.sending) return;
      this.sendEnded();
      if (this.batch === null) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /** Resolves once nothing is open or in flight. */
  protected drained(): Promise<void> {
    if (this.batch === null && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  protected abstract sendStarted(): void;
  protected abstract sendEnded(): void;
}

/** One TCP or TLS connection: framed, batched, and not read while its batch waits for Kafka. */
class StreamConnection extends Intake {
  private readonly framer: SyslogFramer;
  private paused = false;
  private closing: CloseReason | null = null;
  private socketClosed = false;
  private settle!: () => void;
  private readonly settled = new Promise<void>((resolve) => (this.settle = resolve));

  constructor(
    owner: SyslogListeners,
    private readonly socket: net.Socket,
    transport: SyslogTransport,
  ) {
    super(owner, transport, true);
    this.framer = new SyslogFramer(owner.keepBytes, owner.maxMessageBytes, this.onFrame);
    owner.ctx.metrics.syslogConnections.inc({ transport });
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const idleMs = owner.ctx.settings.syslogIdleTimeoutMs;
    if (idleMs > 0) {
      socket.setTimeout(idleMs);
      socket.on('timeout', () => this.close('idle_timeout'));
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      if (this.closing === null) this.framer.end();
      this.close('peer');
    });
    socket.on('error', () => this.close('socket_error'));
    socket.on('close', () => this.onClosed());
  }

  /** Stops reading, pushes what was read, and resolves once the connection is closed. */
  shutdown(): Promise<void> {
    this.close('shutdown');
    return this.settled;
  }

  private onData(chunk: Buffer): void {
    if (this.closing !== null) return;
    const error = this.framer.push(chunk);
    if (error !== null) this.close(error);
    else this.scheduled();
  }

  private close(reason: CloseReason): void {
    if (this.closing !== null) return;
    this.closing = reason;
    this.socket.pause();
    this.socket.setTimeout(0);
    this.flush();
    this.finish();
  }

  /** Destroys the socket once a closing connection has pushed everything it read. */
  private finish(): void {
    if (this.closing === null || this.sending || this.batch !== null) return;
    this.socket.destroy();
    this.settleIfDone();
  }

  private onClosed(): void {
    this.socketClosed = true;
    const m = this.owner.ctx.metrics;
    if (this.closing === null) {
      this.closing = 'peer';
      this.flush();
    }
    if (this.paused) {
      this.paused = false;
      m.syslogPausedConnections.dec({ transport: this.transport });
    }
    m.syslogConnections.dec({ transport: this.transport });
    m.syslogConnectionsClosed.inc({ transport: this.transport, reason: this.closing });
    this.settleIfDone();
  }

  private settleIfDone(): void {
    if (!this.socketClosed || this.sending || this.batch !== null) return;
    this.owner.forget(this);
    this.settle();
  }

  protected sendStarted(): void {
    if (this.paused || this.closing !== null) return;
    this.paused = true;
    this.socket.pause();
    this.socket.setTimeout(0);
    this.owner.ctx.metrics.syslogPausedConnections.inc({ transport: this.transport });
  }

  protected sendEnded(): void {
    if (this.closing !== null) {
      this.finish();
      return;
    }
    if (!this.paused) return;
    this.paused = false;
    this.owner.ctx.metrics.syslogPausedConnections.dec({ transport: this.transport });
    const idleMs = this.owner.ctx.settings.syslogIdleTimeoutMs;
    if (idleMs > 0) this.socket.setTimeout(idleMs);
    this.socket.resume();
  }
}

/** The UDP socket's messages, one per datagram: what cannot be taken now is dropped and counted. */
class DatagramIntake extends Intake {
  constructor(owner: SyslogListeners) {
    super(owner, 'udp', false);
  }

  onMessage(msg: Buffer): void {
    const owner = this.owner;
    const reason =
      msg.length > owner.maxMessageBytes ? 'too_large' : owner.ctx.distributor.saturated || (this.sending && this.batchFull()) ? 'saturated' : null;
    if (reason !== null) {
      owner.ctx.metrics.syslogMessages.inc({ transport: 'udp' });
      owner.ctx.metrics.syslogDropped.inc({ transport: 'udp', reason });
      return;
    }
    this.onFrame(msg, 0, Math.min(msg.length, owner.keepBytes), msg.length, isUtf8(msg));
    this.scheduled();
  }

  /** Pushes what is open and resolves once nothing is in flight. */
  shutdown(): Promise<void> {
    this.flush();
    return this.drained();
  }

  protected sendStarted(): void {}

  protected sendEnded(): void {}
}
