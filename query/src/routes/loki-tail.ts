/**
 * `GET /loki/api/v1/tail` as Loki serves it to logcli (`--tail`) and Grafana's live view: a
 * WebSocket whose text messages are `{"streams":[{"stream":{…},"values":[["<ns>","line"],…]}],
 * "dropped_entries":null}`. As in Loki, it first sends the newest `limit` entries of the query from
 * `start` (default an hour ago) up to now, oldest first, then every new entry as it comes, through
 * the whole pipeline, labels being the full labels after it.
 *
 * History and live do not overlap: history reads entries stamped before the moment the tail
 * opened, and the live tail (the Kafka tail engine, which replays from `start = that moment`)
 * delivers the entries stamped from it on. Errors before the upgrade are Loki's plain-text 400s.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { QuerySettings } from '../../../core/src/config';
import { BadRequestError, SiltError } from '../../../core/src/errors';
import { toSiltError } from '../../../core/src/http';
import type { Labels } from '../../../core/src/labels';
import type { Logger } from '../../../core/src/logger';
import type { LogSelectorExpr } from '../../../core/src/logql/ast';
import { parseExpr } from '../../../core/src/logql/parser';
import { goQuote } from '../../../core/src/logql/format';
import { compilePipeline } from '../../../core/src/logql/pipeline';
import { clampToStored, lokiBounds, lokiLimit } from '../../../core/src/query-params';
import type { Fanout } from '../engine/fanout';
import { collectStreams, readLogEntries, type LogAnswer } from '../engine/log-query';
import { planNodeRead } from '../engine/plan';
import { TAIL_SHUTTING_DOWN, type TailEngine, type TailIterator } from '../tail';
import { withDeadline } from './deadline';
import { installLokiDialect, lokiParams, param, sendLokiError } from './loki-http';
import { newStats } from './native';

/** What the Loki tail needs of the service. */
export interface LokiTailDeps {
  tails: TailEngine;
  fanout: Fanout;
  /** The settings a request runs under (its `timeoutMs` bounds the history read). */
  settingsOf(request: FastifyRequest): QuerySettings;
  logger: Logger;
  tenantOf(request: FastifyRequest): string;
  /** Interval of WebSocket pings (default 10 s). */
  heartbeatMs?: number;
}

/** Loki refuses a `delay_for` above this many seconds. */
const MAX_DELAY_FOR = 5;
/** Entries sent in one message at most; more waiting go in the next. */
const MAX_BATCH = 100;
const DEFAULT_HEARTBEAT_MS = 10_000;

/** One message: entries grouped into streams by their labels, in arrival order. */
function message(entries: readonly { ts: bigint; line: string; labels: Labels }[]): string {
  const streams = new Map<string, { stream: Labels; values: [string, string][] }>();
  for (const e of entries) {
    const key = JSON.stringify(Object.entries(e.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let s = streams.get(key);
    if (s === undefined) {
      s = { stream: e.labels, values: [] };
      streams.set(key, s);
    }
    s.values.push([e.ts.toString(), e.line]);
  }
  return JSON.stringify({ streams: [...streams.values()], dropped_entries: null });
}

/** True when `p` has settled already (checked after one microtask turn). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await Promise.resolve();
  return done;
}

/** A close reason: at most 123 bytes of UTF-8. */
function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

/** The history message: the newest entries, oldest first. */
function historyMessage(history: LogAnswer): string | null {
  const entries = history.streams.flatMap((s) => s.entries.map(([ts, line]) => ({ ts, line, labels: s.labels })));
  if (entries.length === 0) return null;
  entries.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  return message(entries);
}

/** The parameters of a tail (loghttp's ParseTailQuery): a log query, `limit` of history, `start` of it, `delay_for` checked. */
function parseTail(request: FastifyRequest): { selector: LogSelectorExpr; limit: number; start: bigint } {
  const p = lokiParams(request);
  const expr = parseExpr(param(p, 'query') ?? '');
  if (expr.kind !== 'log') throw new BadRequestError('SILT_BAD_QUERY', 'tail requires a log query (a stream selector and a pipeline)');
  const limit = lokiLimit(param(p, 'limit'));
  const { start } = lokiBounds({ start: param(p, 'start'), end: undefined, since: param(p, 'since') });
  const delay = param(p, 'delay_for');
  if (delay !== undefined && delay !== '') {
    if (!/^[+-]?\d+$/.test(delay)) throw new BadRequestError('SILT_BAD_REQUEST', `strconv.Atoi: parsing ${goQuote(delay)}: invalid syntax`);
    const n = Number(delay);
    if (n < 0) throw new BadRequestError('SILT_BAD_REQUEST', `delay_for value ${n} is out of range [0, 4294967295]`);
    if (n > MAX_DELAY_FOR) throw new BadRequestError('SILT_BAD_REQUEST', `delay_for can't be greater than ${MAX_DELAY_FOR}`);
  }
  return { selector: expr, limit, start };
}

/** A tail opened before the upgrade, waiting for its socket. */
interface PendingTail {
  live: TailIterator;
  history: string | null;
  pipeline: ReturnType<typeof compilePipeline>;
}

/** Registers `/loki/api/v1/tail` on `app` (which has @fastify/websocket registered). */
export function installLokiTailRoute(app: FastifyInstance, deps: LokiTailDeps): void {
  const pending = new WeakMap<FastifyRequest, PendingTail>();
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;

  /** Opens the live tail and reads the history; throws a SiltError (before any upgrade). */
  async function open(request: FastifyRequest, reply: FastifyReply, signal: AbortSignal): Promise<PendingTail> {
    const { selector, limit, start } = parseTail(request);
    const tenant = deps.tenantOf(request);
    const plan = planNodeRead(selector);
    const pipeline = compilePipeline(plan.rest);
    const now = BigInt(Date.now()) * 1_000_000n;
    const live = await deps.tails.open({ tenant, query: plan.query, start: now }, signal);
    try {
      const from = clampToStored(start);
      const read = { tenant, selector, start: from, end: now, direction: 'backward' as const, limit };
      const history =
        now > from
          ? await withDeadline(reply, deps.settingsOf(request).timeoutMs, (s) => collectStreams(readLogEntries(deps.fanout, read, s, newStats(), new Map()), limit, 'backward', 0n))
          : { streams: [], returned: 0 };
      return { live, history: historyMessage(history), pipeline };
    } catch (err) {
      await live.return?.();
      throw err;
    }
  }

  async function prepare(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!request.ws) return undefined;
    const controller = new AbortController();
    const onGone = (): void => controller.abort();
    request.raw.socket.once('close', onGone);
    try {
      pending.set(request, await open(request, reply, controller.signal));
      return undefined;
    } catch (err) {
      return sendLokiError(reply, toSiltError(err));
    } finally {
      request.raw.socket.off('close', onGone);
    }
  }

  async function serve(socket: WebSocket, request: FastifyRequest): Promise<void> {
    const tail = pending.get(request);
    pending.delete(request);
    if (tail === undefined) {
      socket.close(1011, 'tail not opened');
      return;
    }
    const { live, pipeline } = tail;
    let alive = true;
    socket.on('pong', () => (alive = true));
    socket.on('message', () => undefined);
    socket.on('close', () => void live.return?.());
    const ping = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      if (socket.readyState === socket.OPEN) socket.ping();
    }, heartbeatMs);
    const open = (): boolean => socket.readyState === socket.OPEN;
    let failure: SiltError | null = null;
    try {
      if (tail.history !== null) socket.send(tail.history);
      const batch: { ts: bigint; line: string; labels: Labels }[] = [];
      const flush = (): void => {
        if (batch.length > 0 && open()) socket.send(message(batch));
        batch.length = 0;
      };
      let next = live.next();
      while (open()) {
        const r = await next;
        if (r.done) break;
        const out = pipeline.run(r.value.ts, r.value.line, r.value.labels, r.value.attrs);
        if (out !== null) batch.push({ ts: r.value.ts, line: out.line, labels: out.labels });
        next = live.next();
        // Entries already waiting go in the same message.
        if (batch.length >= MAX_BATCH || !(await settled(next))) flush();
      }
      flush();
    } catch (err) {
      failure = toSiltError(err);
    } finally {
      clearInterval(ping);
      await live.return?.();
    }
    if (open()) {
      if (failure === null) socket.close(1000, 'tail ended');
      else socket.close(failure.code === TAIL_SHUTTING_DOWN ? 1001 : failure.status >= 500 ? 1011 : 1008, closeReason(failure.message));
    }
  }

  void app.register(async (scope) => {
    installLokiDialect(scope, deps.logger);
    scope.route({
      method: 'GET',
      url: '/loki/api/v1/tail',
      exposeHeadRoute: false,
      preValidation: prepare,
      // A plain GET: Loki parses the query, then gorilla/websocket refuses to upgrade.
      handler: async (request, reply) => {
        parseTail(request);
        return sendLokiError(reply, new SiltError('SILT_BAD_REQUEST', 400, false, "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header"));
      },
      wsHandler: serve,
    });
  });
}
