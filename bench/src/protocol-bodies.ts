/**
 * Push bodies in each shipper protocol ingest speaks, built from the same cycle of batches as the
 * native templates (bodies.ts: same entries, same streams, same batch size). Loki's snappy block
 * cannot have its timestamps written in place, so every protocol's bodies are encoded once per job
 * instead, and sending stays a plain write of a ready buffer whatever the protocol.
 */
import snappy from 'snappy';
import { PushRequest } from '../../ingest/src/protocols/loki-proto';
import { ExportLogsServiceRequest } from '../../ingest/src/protocols/otlp-proto';
import type { CorpusStream } from '../../test/support/corpus';
import { batchStreams, cycleIndex, stampBatch, stampOf, type BatchTemplate, type Clock } from './bodies';

/** A push protocol of ingest the load generator can speak. */
export type PushProtocol = 'native' | 'loki' | 'otlp' | 'elastic';

/** How one protocol's batches travel, and its name in the tables. */
export interface ProtocolWire {
  name: string;
  path: string;
  contentType: string;
}

/** The `filter_path` Filebeat's Elasticsearch output sends with every bulk request. */
const FILEBEAT_FILTER_PATH = 'errors,items.index.status,items.index.error,items.create.status,items.create.error,items.update.status,items.update.error';

/** Every protocol's route and content type. */
export const PROTOCOLS: Record<PushProtocol, ProtocolWire> = {
  native: { name: 'native JSON', path: '/api/v1/push', contentType: 'application/json' },
  loki: { name: 'Loki protobuf+snappy', path: '/loki/api/v1/push', contentType: 'application/x-protobuf' },
  otlp: { name: 'OTLP protobuf', path: '/v1/logs', contentType: 'application/x-protobuf' },
  // Filebeat's filter_path: the answer it reads is then a sixth of the full one.
  elastic: { name: 'ES bulk', path: `/_bulk?filter_path=${FILEBEAT_FILTER_PATH}`, contentType: 'application/x-ndjson' },
};

/** One batch's entries with their timestamps (ns), grouped by stream. */
type StampedStream = { app: string; entries: { index: number; ns: bigint; line: string }[] };

function stamped(corpus: CorpusStream[], batch: number, k: number, seq: number, clock: Clock): StampedStream[] {
  return batchStreams(corpus, batch, k).map((g) => ({
    app: g.stream.app,
    entries: g.lines.map((line, n) => ({ index: g.entryIndex[n]!, ns: stampOf(clock, seq + g.entryIndex[n]!), line })),
  }));
}

/** `logproto.PushRequest`, snappy block format, as Promtail and Grafana Alloy send it. */
function lokiBody(streams: StampedStream[]): Buffer {
  const message = PushRequest.fromObject({
    streams: streams.map((s) => ({
      // The schema declares its text fields `bytes`, so they go in as UTF-8 buffers.
      labels: Buffer.from(`{app=${JSON.stringify(s.app)}}`),
      entries: s.entries.map((e) => ({ timestamp: { seconds: String(e.ns / 1_000_000_000n), nanos: Number(e.ns % 1_000_000_000n) }, line: Buffer.from(e.line) })),
    })),
  });
  return snappy.compressSync(PushRequest.encode(message).finish());
}

/** OTLP's SEVERITY_NUMBER_INFO: one severity for every record, so that it never splits a stream. */
const SEVERITY_INFO = 9;

/** `ExportLogsServiceRequest`, uncompressed, as the OpenTelemetry SDKs' OTLP/HTTP protobuf exporters send it. */
function otlpBody(streams: StampedStream[]): Buffer {
  // The schema declares its text fields `bytes`, so they go in as UTF-8 buffers.
  const text = (s: string): { stringValue: Buffer } => ({ stringValue: Buffer.from(s) });
  const message = ExportLogsServiceRequest.fromObject({
    resourceLogs: streams.map((s) => ({
      resource: { attributes: [{ key: Buffer.from('service.name'), value: text(s.app) }] },
      scopeLogs: [
        {
          logRecords: s.entries.map((e) => ({ timeUnixNano: String(e.ns), severityNumber: SEVERITY_INFO, severityText: Buffer.from('INFO'), body: text(e.line) })),
        },
      ],
    })),
  });
  return Buffer.from(ExportLogsServiceRequest.encode(message).finish());
}

/** ISO 8601 with microseconds, the clock's resolution (Elasticsearch's default date format takes up to nanoseconds). */
function isoMicros(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, -1)}${String((ns / 1000n) % 1000n).padStart(3, '0')}Z`;
}

/** A `_bulk` body of create actions, documents in global-sequence order as a shipper tailing files interleaves them. */
function elasticBody(streams: StampedStream[]): Buffer {
  const docs = streams.flatMap((s) => s.entries.map((e) => ({ ...e, app: s.app }))).sort((a, b) => a.index - b.index);
  const action = '{"create":{"_index":"bench"}}\n';
  return Buffer.from(docs.map((d) => `${action}{"@timestamp":"${isoMicros(d.ns)}","message":${JSON.stringify(d.line)},"service":{"name":${JSON.stringify(d.app)}}}\n`).join(''), 'utf8');
}

/**
 * Every batch of the cycle in `protocol`, indexed like `templates`, each stamped with `clock` as at
 * its first send from `firstSeq` on; later rounds of the cycle resend these bodies with the same
 * timestamps, which ingest accepts as it keeps no per-stream order.
 */
export function encodeCycle(protocol: PushProtocol, corpus: CorpusStream[], templates: BatchTemplate[], clock: Clock, firstSeq: number): Buffer[] {
  const batch = templates[0]!.entries;
  const cycle = templates.length;
  return templates.map((_, k) => {
    const seq = firstSeq + ((k - cycleIndex(templates, firstSeq) + cycle) % cycle) * batch;
    if (protocol === 'native') return stampBatch(templates, seq, clock).body;
    const streams = stamped(corpus, batch, k, seq, clock);
    return { loki: lokiBody, otlp: otlpBody, elastic: elasticBody }[protocol](streams);
  });
}
