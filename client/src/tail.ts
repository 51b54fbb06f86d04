/**
 * Live tails over Server-Sent Events (`GET /api/v1/tail`), resumed after a dropped connection or a
 * server's closing event from the last id received (`Last-Event-ID`), so the entries come without
 * a gap or a duplicate; docs/TAIL.md describes the wire format.
 */
import { SiltClientError } from './errors';
import { sleep, type Transport } from './http';
import type { Entry } from './query';
import { timeParam, type TimeInput } from './time';

/** An entry of a tail with its id (a cursor to resume after it). */
export interface TailEntry extends Entry {
  id: string;
}

/** A tail. */
export interface TailOptions {
  /** Replay entries from this time on first (default: from now). */
  start?: TimeInput;
  /** Resume strictly after this id. */
  cursor?: string;
  /** Ends the tail. */
  signal?: AbortSignal;
  /** Called when the connection dropped and the tail resumes (after `attempt` failures in a row). */
  onReconnect?: (attempt: number, reason: string) => void;
}

/** Codes of a tail's closing event after which the tail resumes elsewhere or later. */
const RESUMABLE = new Set(['SILT_TAIL_SLOW_CONSUMER', 'SILT_SHUTTING_DOWN', 'SILT_KAFKA_UNAVAILABLE', 'SILT_INTERNAL']);

interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** SSE events of a byte stream (fields `event`, `id`, `data`; comments and `retry` ignored). */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let id: string | undefined;
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) yield { event, id, data: data.join('\n') };
        event = 'message';
        id = undefined;
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'event') event = value;
    }
  }
}

/** The entries of a tail of `query`; see the module comment. Ends when `signal` aborts; throws on an error no resume can help. */
export async function* tailEntries(transport: Transport, query: string, options: TailOptions = {}): AsyncGenerator<TailEntry> {
  let last = options.cursor;
  let failures = 0;
  for (;;) {
    if (options.signal?.aborted) return;
    let reason: string;
    try {
      const res = await transport.send({
        path: '/api/v1/tail',
        query: { query, start: last === undefined && options.start !== undefined ? timeParam(options.start) : undefined },
        headers: { Accept: 'text/event-stream', ...(last === undefined ? {} : { 'Last-Event-ID': last }) },
        signal: options.signal,
      });
      if (res.body === null) throw new SiltClientError(res.status, 'SILT_CLIENT_NO_BODY', 'the tail answered without a body');
      reason = 'the connection ended';
      for await (const ev of sseEvents(res.body)) {
        if (ev.event === 'error') {
          const err = (JSON.parse(ev.data) as { error?: { code?: string; message?: string } }).error ?? {};
          if (!RESUMABLE.has(err.code ?? '')) throw new SiltClientError(200, err.code, err.message ?? 'the tail ended');
          reason = `${err.code}: ${err.message ?? ''}`;
          break;
        }
        const w = JSON.parse(ev.data) as { ts: string; labels: Record<string, string>; line: string; attrs?: Record<string, string> };
        const e: TailEntry = { id: ev.id ?? '', ts: BigInt(w.ts), labels: w.labels, line: w.line };
        if (w.attrs !== undefined) e.attrs = w.attrs;
        if (ev.id !== undefined) last = ev.id;
        failures = 0;
        yield e;
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      // A refusal that waiting cannot cure (a bad query, a key it lacks, a closing event of that kind) ends the tail; a dropped connection resumes.
      if (err instanceof SiltClientError && !err.retriable) throw err;
      reason = (err as Error).message;
    }
    failures++;
    options.onReconnect?.(failures, reason);
    await sleep(transport.backoffMs(Math.min(failures - 1, 6)), options.signal).catch(() => undefined);
  }
}
