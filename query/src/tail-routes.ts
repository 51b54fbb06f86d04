/**
 * `GET /api/v1/tail`: a live tail as Server-Sent Events, or, on a WebSocket upgrade of the same
 * path, as one JSON text message per entry. docs/TAIL.md describes the wire format.
 */
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { BadRequestError, SiltError } from '../../core/src/errors';
import { sendError, toSiltError } from '../../core/src/http';
import { formatNs, parseTimestamp } from '../../core/src/time';
import { shuttingDown, TAIL_SHUTTING_DOWN, TAIL_SLOW_CONSUMER, type TailEngine, type TailEntry, type TailIterator } from './tail';

/** Options of the WebSocket plugin for tails (clients only send small control messages); whoever registers the plugin first must pass them, since a later registration is skipped. */
export const TAIL_WEBSOCKET_OPTIONS = { options: { maxPayload: 64 * 1024 } };

/** How the tail routes find the tenant, and their timings. */
export interface TailRouteOptions {
  /** The request's tenant (auth or X-Scope-OrgID); may throw a SiltError, sent as the JSON error. */
  tenantOf(request: FastifyRequest): string;
  /** Interval of the SSE `: ping` comment and of WebSocket pings (default 10 s). */
  heartbeatMs?: number;
  /** How long a closing stream may take to flush its last event before the connection is cut (default 2 s). */
  closeGraceMs?: number;
}

/** The path of the native tail; the Loki-compatible one lives elsewhere. */
export const TAIL_PATH = '/api/v1/tail';

const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_CLOSE_GRACE_MS = 2000;
/** Bytes a WebSocket may hold unsent before the sender waits for the socket. */
const WS_HIGH_WATER = 256 * 1024;
/** A WebSocket close reason is at most 123 bytes of UTF-8. */
const MAX_CLOSE_REASON = 123;

/** Why a connection's abort signal fired. */
type StopReason = 'client' | 'shutdown';

/** One streaming client, for shutdown. */
interface Connection {
  controller: AbortController;
}

/** The JSON form of an entry on the wire: ts as a decimal string of nanoseconds. */
function entryBody(e: TailEntry): { ts: string; labels: Record<string, string>; line: string; attrs?: Record<string, string> } {
  const body: { ts: string; labels: Record<string, string>; line: string; attrs?: Record<string, string> } = { ts: formatNs(e.ts), labels: e.labels, line: e.line };
  if (e.attrs !== undefined) body.attrs = e.attrs;
  return body;
}

/** One SSE event; JSON never holds a raw newline, so `data` is one line. */
function sseEvent(e: TailEntry): string {
  return `id: ${e.cursor}\ndata: ${JSON.stringify(entryBody(e))}\n\n`;
}

function sseError(err: SiltError): string {
  return `event: error\ndata: ${JSON.stringify(err.toBody())}\n\n`;
}

function single(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestError('SILT_BAD_REQUEST', `query parameter "${name}" must be given once`);
  return value;
}

/** `code: message`, cut to what a WebSocket close frame can carry. */
function closeReason(err: SiltError): string {
  let reason = `${err.code}: ${err.message}`;
  while (Buffer.byteLength(reason) > MAX_CLOSE_REASON) reason = reason.slice(0, -1);
  return reason;
}

function closeCode(err: SiltError): number {
  if (err.code === TAIL_SHUTTING_DOWN) return 1001; // going away
  if (err.code === TAIL_SLOW_CONSUMER || err.status < 500) return 1008; // policy violation
  return 1011; // internal error
}

/** Resolves on the first of `events` on `emitter`, or when `signal` aborts or `also` settles. */
function firstOf(emitter: NodeJS.EventEmitter, events: string[], signal: AbortSignal, also: Promise<unknown>): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      for (const e of events) emitter.off(e, finish);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    for (const e of events) emitter.on(e, finish);
    signal.addEventListener('abort', finish, { once: true });
    also.then(finish, finish);
  });
}

/** Registers `GET /api/v1/tail` (SSE, and WebSocket on upgrade); registers @fastify/websocket unless the app has it. */
export function installTailRoutes(app: FastifyInstance, engine: TailEngine, opts: TailRouteOptions): void {
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const connections = new Set<Connection>();
  /** Tails opened before a WebSocket upgrade, handed to the WebSocket handler. */
  const pendingUpgrades = new WeakMap<FastifyRequest, { tail: TailIterator; connection: Connection }>();
  let closing = false;

  /** Parses the request and opens its tail; throws a SiltError before anything is streamed. */
  async function openTail(request: FastifyRequest, signal: AbortSignal): Promise<TailIterator> {
    const params = (request.query ?? {}) as Record<string, unknown>;
    const query = single(params.query, 'query');
    if (query === undefined || query.trim() === '') throw new BadRequestError('SILT_BAD_QUERY', 'missing query parameter "query" (a stream selector such as {app="api"})');
    const startText = single(params.start, 'start');
    const start = startText === undefined ? undefined : parseTimestamp(startText);
    // An EventSource reconnecting sends Last-Event-ID with its original URL: the header is newer.
    const header = request.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
    const cursor = lastEventId ?? single(params.cursor, 'cursor');
    const tenant = opts.tenantOf(request);
    if (closing) throw shuttingDown();
    return engine.open({ tenant, query, ...(start === undefined ? {} : { start }), ...(cursor === undefined || cursor === '' ? {} : { cursor }) }, signal);
  }

  function replyError(reply: FastifyReply, err: unknown): FastifyReply {
    return sendError(reply, toSiltError(err));
  }

  function track(): Connection {
    const connection: Connection = { controller: new AbortController() };
    connections.add(connection);
    return connection;
  }

  function stop(connection: Connection, reason: StopReason): void {
    if (!connection.controller.signal.aborted) connection.controller.abort(reason);
  }

  /** The error a stream ends with when its tail ended without one (shutdown, or nothing: client gone). */
  function endError(connection: Connection): SiltError | null {
    return connection.controller.signal.reason === 'shutdown' ? shuttingDown() : null;
  }

  async function sse(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const connection = track();
    const signal = connection.controller.signal;
    const onGone = (): void => stop(connection, 'client');
    reply.raw.once('close', onGone);
    let tail: TailIterator;
    try {
      tail = await openTail(request, signal);
    } catch (err) {
      connections.delete(connection);
      reply.raw.off('close', onGone);
      return replyError(reply, signal.reason === 'shutdown' ? shuttingDown() : err);
    }
    const stream = new PassThrough();
    stream.on('error', () => undefined); // a destroyed response destroys the stream: nothing to report
    reply
      .code(200)
      .header('Content-Type', 'text/event-stream')
      .header('Cache-Control', 'no-cache, no-transform')
      .header('X-Accel-Buffering', 'no');
    // An event stream owns its connection: when it ends (client resume, shutdown, slow consumer),
    // the connection closes with it instead of idling in keep-alive, which would hold up close().
    if (request.raw.httpVersionMajor < 2) reply.header('Connection', 'close');
    // Sent at once, so the client sees the stream open; `retry` tells EventSource how soon to resume.
    stream.write('retry: 1000\n: tail open\n\n');
    void pumpSse(tail, stream, reply, connection);
    return reply.send(stream);
  }

  /**
   * Pulls the tail's entries into `deliver` (which returns a promise only when the transport needs
   * to drain) until the tail ends or the transport closes; releases the tail; returns the error to
   * report last, if any. Shared by SSE and WebSocket, which differ only in how an entry is sent.
   */
  async function pump(tail: TailIterator, connection: Connection, open: () => boolean, deliver: (e: TailEntry) => Promise<unknown> | undefined): Promise<SiltError | null> {
    try {
      while (true) {
        const r = await tail.next();
        if (r.done || !open()) break;
        const waiting = deliver(r.value);
        if (waiting) await waiting;
      }
      return endError(connection);
    } catch (err) {
      return toSiltError(err);
    } finally {
      await tail.return?.();
      connections.delete(connection);
    }
  }

  async function pumpSse(tail: TailIterator, stream: PassThrough, reply: FastifyReply, connection: Connection): Promise<void> {
    const signal = connection.controller.signal;
    const writable = (): boolean => !stream.destroyed && !stream.writableEnded;
    const ping = setInterval(() => {
      if (writable() && !stream.writableNeedDrain) stream.write(': ping\n\n');
    }, heartbeatMs);
    const final = await pump(tail, connection, writable, (e) => {
      if (!stream.write(sseEvent(e))) {
        // The client reads slower than entries come: stop pulling (the tail's queue fills, it
        // pauses Kafka, and ends as a slow consumer if this lasts).
        return firstOf(stream, ['drain', 'close'], signal, tail.finished);
      }
      return undefined;
    });
    clearInterval(ping);
    if (writable()) {
      if (final !== null) stream.write(sseError(final));
      stream.end();
    }
    // A client that stopped reading never lets the last bytes out: cut it rather than hold its buffers.
    const res = reply.raw;
    if (!res.destroyed && !res.writableFinished) {
      const timer = setTimeout(() => res.destroy(), graceMs);
      res.once('close', () => clearTimeout(timer));
    }
  }

  /** For WebSocket upgrades: opens the tail before the upgrade, so errors are still JSON HTTP answers. */
  async function prepareUpgrade(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!request.ws) return undefined;
    const connection = track();
    const socket = request.raw.socket;
    const onGone = (): void => stop(connection, 'client');
    socket.once('close', onGone);
    try {
      const tail = await openTail(request, connection.controller.signal);
      pendingUpgrades.set(request, { tail, connection });
      // If the upgrade never completes (client gone), the socket's close ends the tail.
      return undefined;
    } catch (err) {
      connections.delete(connection);
      socket.off('close', onGone);
      // Returned, not awaited: a reply is thenable, and on an upgrade socket it may never settle.
      return replyError(reply, connection.controller.signal.reason === 'shutdown' ? shuttingDown() : err);
    }
  }

  async function ws(socket: WebSocket, request: FastifyRequest): Promise<void> {
    const pending = pendingUpgrades.get(request);
    pendingUpgrades.delete(request);
    if (pending === undefined) {
      socket.close(1011, 'SILT_INTERNAL: tail not opened');
      return;
    }
    const { tail, connection } = pending;
    const signal = connection.controller.signal;
    socket.on('close', () => stop(connection, 'client'));
    socket.on('message', () => undefined); // clients have nothing to say; resuming is a new connection with cursor=
    let alive = true;
    socket.on('pong', () => (alive = true));
    const ping = setInterval(() => {
      if (!alive) {
        socket.terminate(); // no pong for a whole interval: the peer is gone
        return;
      }
      alive = false;
      if (socket.readyState === socket.OPEN) socket.ping();
    }, heartbeatMs);
    const open = (): boolean => socket.readyState === socket.OPEN;
    const final = await pump(tail, connection, open, (e) => {
      const message = JSON.stringify({ id: e.cursor, ...entryBody(e) });
      if (socket.bufferedAmount < WS_HIGH_WATER) {
        socket.send(message);
        return undefined;
      }
      return new Promise<void>((resolve) => {
        socket.send(message, () => resolve());
        void firstOf(socket, ['close'], signal, tail.finished).then(resolve);
      });
    });
    clearInterval(ping);
    if (open()) {
      if (final !== null) {
        socket.send(JSON.stringify(final.toBody()));
        socket.close(closeCode(final), closeReason(final));
      } else {
        socket.close(1000, 'tail ended');
      }
    }
    if (socket.readyState !== socket.CLOSED) {
      const timer = setTimeout(() => socket.terminate(), graceMs);
      socket.once('close', () => clearTimeout(timer));
    }
  }

  app.register(async (instance) => {
    if (!instance.hasPlugin('@fastify/websocket')) await instance.register(websocket, TAIL_WEBSOCKET_OPTIONS);
    const sockets = new Set<Socket>();
    instance.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // fastify.close() waits for in-flight requests: end every tail first so it can finish.
    instance.addHook('preClose', async () => {
      closing = true;
      for (const connection of connections) stop(connection, 'shutdown');
      // server.close() closes the connections idle at that moment only, and Node 20 never counts a
      // connection that has not sent a request as idle. A client that reconnects when its stream
      // ends (Node 20's fetch does) would hold the close up forever: sweep those until it is done.
      const server = instance.server;
      if (server.listening) {
        const sweep = setInterval(() => {
          server.closeIdleConnections?.();
          for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
        }, 100);
        sweep.unref();
        server.once('close', () => clearInterval(sweep));
      }
    });
    instance.route({
      method: 'GET',
      url: TAIL_PATH,
      exposeHeadRoute: false,
      preValidation: prepareUpgrade,
      handler: sse,
      wsHandler: ws,
    });
  });
}
