import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';
import { CompatCluster } from '../support/compat-cluster';
import { startIngest, type IngestUnderTest } from '../support/ingest-harness';

const RECORDS = 1000;

/** The fields of a protobuf message as [field number, value] (varints as decimal strings, length-delimited as bytes), read with protobufjs's Reader. */
function fields(buf: Uint8Array): [number, unknown][] {
  const r = protobuf.Reader.create(buf);
  const out: [number, unknown][] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const wt = tag & 7;
    out.push([tag >>> 3, wt === 0 ? r.int64().toString() : wt === 2 ? Buffer.from(r.bytes()) : (r.skipType(wt), null)]);
  }
  return out;
}

/** `google.rpc.Status` {code=1, message=2, details=3 Any{type_url=1, value=2}} of a protobuf error answer, with the ErrorInfo reason (Silt's code). */
function decodeStatus(body: Buffer): { code: number; message: string; reason: string } {
  const f = fields(body);
  const any = f.filter(([n]) => n === 3).map(([, v]) => fields(v as Buffer));
  const errorInfo = any.find((a) => (a[0]![1] as Buffer).toString().endsWith('google.rpc.ErrorInfo'))!;
  return {
    code: Number(f.find(([n]) => n === 1)?.[1] ?? 0),
    message: (f.find(([n]) => n === 2)![1] as Buffer).toString(),
    reason: (fields(errorInfo[1]![1] as Buffer)[0]![1] as Buffer).toString(),
  };
}

async function send(url: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** 32 and 16 hex digits derived from `i`, never all zeros (the sender derives them the same way). */
const traceIdOf = (i: number): string => (i + 1).toString(16).padStart(32, 'a');
const spanIdOf = (i: number): string => (i + 1).toString(16).padStart(16, 'b');

/**
 * An application logging through the real OpenTelemetry JS SDK and OTLP exporter, run as its own
 * Node process: the exporters load `http` with a dynamic import(), which jest's module sandbox
 * refuses without --experimental-vm-modules. It emits `records` numbered records, flushes, shuts
 * the provider down, and exits 1 if any export failed.
 */
const SENDER = `
const { ROOT_CONTEXT, trace, TraceFlags } = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BatchLogRecordProcessor, LoggerProvider } = require('@opentelemetry/sdk-logs');
const p = JSON.parse(process.argv[1]);
const { OTLPLogExporter } = require(p.encoding === 'json' ? '@opentelemetry/exporter-logs-otlp-http' : '@opentelemetry/exporter-logs-otlp-proto');
const inner = new OTLPLogExporter({ url: p.url, headers: { 'X-Scope-OrgID': p.tenant }, compression: p.compression });
const failures = [];
const exporter = {
  export: (logs, done) => inner.export(logs, (result) => { if (result.code !== 0) failures.push(String(result.error)); done(result); }),
  forceFlush: () => inner.forceFlush(),
  shutdown: () => inner.shutdown(),
};
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ 'service.name': p.service, 'service.namespace': 'shop', 'deployment.environment': 'test', 'host.name': 'h1', 'process.pid': 4242 }),
  processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 200, scheduledDelayMillis: 50 })],
});
const logger = provider.getLogger('compat-test', '1.2.3');
for (let i = 0; i < p.records; i++) {
  const warn = i % 3 === 0;
  logger.emit({
    timestamp: p.baseMs + i,
    observedTimestamp: p.baseMs + i + 1,
    severityNumber: warn ? SeverityNumber.WARN : SeverityNumber.INFO,
    severityText: warn ? 'WARN' : 'INFO',
    body: 'record ' + i + ' of ' + p.tenant,
    attributes: { 'app.seq': i, 'http.method': 'GET', ok: i % 2 === 0, ratio: i / 4 },
    context: trace.setSpanContext(ROOT_CONTEXT, {
      traceId: (i + 1).toString(16).padStart(32, 'a'),
      spanId: (i + 1).toString(16).padStart(16, 'b'),
      traceFlags: TraceFlags.SAMPLED,
    }),
  });
}
provider.forceFlush().then(() => provider.shutdown()).then(() => {
  if (failures.length > 0) { console.error(failures.join('\\n')); process.exit(1); }
});
`;

interface SenderParams {
  encoding: 'json' | 'protobuf';
  url: string;
  tenant: string;
  service: string;
  compression: 'gzip' | 'none';
  records: number;
  baseMs: number;
}

/** Runs SENDER from the repository root (where the packages resolve); rejects with its stderr when it fails. */
async function runSender(params: SenderParams): Promise<void> {
  await promisify(execFile)(process.execPath, ['-e', SENDER, JSON.stringify(params)], { cwd: path.resolve(__dirname, '../..'), timeout: 120000 });
}

describe('ingest > otlp > real OpenTelemetry JS exporters', () => {
  let cluster: CompatCluster;

  beforeAll(async () => {
    cluster = await CompatCluster.start();
  }, 180000);

  afterAll(async () => {
    await cluster?.close();
  }, 60000);

  it.each([
    { name: 'exporter-logs-otlp-http (JSON)', encoding: 'json' as const, path: '/v1/logs', tenant: 'otlp-json', gzip: false },
    { name: 'exporter-logs-otlp-proto (protobuf)', encoding: 'protobuf' as const, path: '/v1/logs', tenant: 'otlp-proto', gzip: false },
    { name: 'exporter-logs-otlp-proto (protobuf, gzip)', encoding: 'protobuf' as const, path: '/otlp/v1/logs', tenant: 'otlp-proto-gzip', gzip: true },
  ])(
    'stores every record sent by $name to $path exactly once, with the mapped labels and attributes',
    async ({ encoding, path: route, tenant, gzip }) => {
      const service = `checkout-${tenant}`;
      const baseMs = Date.now() - 60_000;
      await runSender({ encoding, url: cluster.ingestUrl + route, tenant, service, compression: gzip ? 'gzip' : 'none', records: RECORDS, baseMs });

      const entries = await cluster.waitForEntries(`{service_name="${service}"}`, RECORDS, tenant);
      expect(entries).toHaveLength(RECORDS);
      const byLine = new Map(entries.map((e) => [e.line, e]));
      expect(byLine.size).toBe(RECORDS);
      for (let i = 0; i < RECORDS; i++) {
        const warn = i % 3 === 0;
        const ns = BigInt(baseMs + i) * 1_000_000n;
        expect(byLine.get(`record ${i} of ${tenant}`)).toEqual({
          ts: ns.toString(),
          labels: { service_name: service, service_namespace: 'shop', deployment_environment: 'test' },
          line: `record ${i} of ${tenant}`,
          attrs: {
            host_name: 'h1',
            process_pid: '4242',
            scope_name: 'compat-test',
            scope_version: '1.2.3',
            app_seq: String(i),
            http_method: 'GET',
            ok: String(i % 2 === 0),
            ratio: String(i / 4),
            observed_timestamp: (ns + 1_000_000n).toString(),
            severity_number: warn ? '13' : '9',
            severity_text: warn ? 'WARN' : 'INFO',
            flags: '1',
            trace_id: traceIdOf(i),
            span_id: spanIdOf(i),
          },
        });
      }
    },
    180000,
  );

  describe('bad input over HTTP', () => {
    it('answers a malformed protobuf body with 400 and a protobuf google.rpc.Status', async () => {
      const res = await send(cluster.ingestUrl + '/v1/logs', Buffer.from([0x0a, 0x05, 0x0f, 0x01]), { 'Content-Type': 'application/x-protobuf' });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
      expect(decodeStatus(res.body)).toMatchObject({ code: 3, reason: 'SILT_MALFORMED_PROTOBUF' });
    });

    it('answers a malformed JSON body with 400 and a JSON google.rpc.Status naming the position', async () => {
      const res = await send(cluster.ingestUrl + '/otlp/v1/logs', '{"resourceLogs": [', { 'Content-Type': 'application/json' });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json');
      const status = JSON.parse(res.body.toString());
      expect(status).toMatchObject({ code: 3, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SILT_MALFORMED_JSON', domain: 'silt' }, { '@type': 'type.googleapis.com/google.rpc.BadRequest' }] });
      expect(status.message).toMatch(/position 18/);
    });

    it('answers an unsupported Content-Type with 415 and a JSON Status', async () => {
      const res = await send(cluster.ingestUrl + '/v1/logs', 'hello', { 'Content-Type': 'text/plain' });
      expect(res.status).toBe(415);
      expect(JSON.parse(res.body.toString())).toMatchObject({ details: [{ reason: 'SILT_UNSUPPORTED_CONTENT_TYPE' }] });
    });

    it('answers a body over the decompressed limit with 413, an unknown Content-Encoding with 415 and a bad tenant with 400, each as a Status', async () => {
      const bomb = gzipSync(Buffer.alloc(cluster.ingest.config.ingest.decompressedLimitBytes + 1, 0x20));
      const tooLarge = await send(cluster.ingestUrl + '/v1/logs', bomb, { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' });
      expect(tooLarge.status).toBe(413);
      expect(decodeStatus(tooLarge.body)).toMatchObject({ code: 2, reason: 'SILT_PAYLOAD_TOO_LARGE' });

      const encoding = await send(cluster.ingestUrl + '/v1/logs', '{}', { 'Content-Type': 'application/json', 'Content-Encoding': 'br' });
      expect(encoding.status).toBe(415);
      expect(JSON.parse(encoding.body.toString())).toMatchObject({ details: [{ reason: 'SILT_UNSUPPORTED_ENCODING' }] });

      const tenant = await send(cluster.ingestUrl + '/v1/logs', '{}', { 'Content-Type': 'application/json', 'X-Scope-OrgID': 'no spaces allowed' });
      expect(tenant.status).toBe(400);
      expect(JSON.parse(tenant.body.toString())).toMatchObject({ code: 3, details: [{ reason: 'SILT_BAD_TENANT' }, { '@type': 'type.googleapis.com/google.rpc.BadRequest' }] });
    });

    it('stores the valid records and answers 200 partial_success for a resource with too many labels (gzip JSON)', async () => {
      const tenant = 'otlp-partial';
      const labelNames = [...cluster.ingest.config.ingest.otlpStreamAttributes].slice(0, 16);
      const wide = { resource: { attributes: labelNames.map((key) => ({ key, value: { stringValue: `v-${key}` } })) }, scopeLogs: [{ logRecords: [{ body: { stringValue: 'too wide 1' } }, { body: { stringValue: 'too wide 2' } }] }] };
      const ok = { resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partial' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), body: { stringValue: 'kept' } }] }] };
      const res = await send(cluster.ingestUrl + '/v1/logs', gzipSync(JSON.stringify({ resourceLogs: [wide, ok] })), {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
        'X-Scope-OrgID': tenant,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('x-silt-token')).toBeTruthy();
      const answer = JSON.parse(res.body.toString());
      expect(answer.partialSuccess.rejectedLogRecords).toBe('2');
      expect(answer.partialSuccess.errorMessage).toMatch(/^2 of 3 log records rejected: 2 SILT_BAD_LABELS \(first: resourceLogs\[0\] log record 0: stream has 16 labels, over the limit of 15/);
      const entries = await cluster.waitForEntries('{service_name="partial"}', 1, tenant);
      expect(entries.map((e) => [e.line, e.labels])).toEqual([['kept', { service_name: 'partial' }]]);
    });

    it('answers partial_success in protobuf for a protobuf request (partial_success=1 {rejected_log_records=1, error_message=2})', async () => {
      // ExportLogsServiceRequest{resource_logs=1: ResourceLogs{scope_logs=2: ScopeLogs{log_records=2: LogRecord{time_unix_nano=1: 1000 ns}}}}: far too old.
      const w = protobuf.Writer.create();
      w.uint32(0x0a).fork().uint32(0x12).fork().uint32(0x12).fork().uint32(0x09).fixed64(1000).ldelim().ldelim().ldelim();
      const res = await send(cluster.ingestUrl + '/v1/logs', Buffer.from(w.finish()), { 'Content-Type': 'application/x-protobuf', 'X-Scope-OrgID': 'otlp-partial-proto' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
      const partial = fields(fields(res.body).find(([n]) => n === 1)![1] as Buffer);
      expect(partial[0]).toEqual([1, '1']);
      expect((partial[1]![1] as Buffer).toString()).toMatch(/^1 of 1 log records rejected: 1 SILT_TOO_OLD/);
    });
  });
});

describe('ingest > otlp > Kafka down', () => {
  let dataDir: string;
  let broker: BrokerHandle;
  let ing: IngestUnderTest;
  const record = JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'down' } }] }, scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }] }] });

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-otlp-down-'));
    broker = await startBroker({ dataDir });
    ing = await startIngest({ ingest: { ackTimeoutMs: 2000, retryAfterSeconds: 4 } }, broker.brokers);
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
    await broker?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  it('answers 503 with Retry-After and a google.rpc.Status in the request’s encoding while the broker is stopped', async () => {
    const before = await send(ing.url + '/v1/logs', record, { 'Content-Type': 'application/json' });
    expect(before.status).toBe(200);

    await broker.kill();
    const json = await send(ing.url + '/v1/logs', record, { 'Content-Type': 'application/json' });
    expect(json.status).toBe(503);
    expect(json.headers.get('retry-after')).toBe('4');
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(json.body.toString())).toEqual({
      code: 14,
      message: expect.any(String),
      details: [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SILT_KAFKA_UNAVAILABLE', domain: 'silt' },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '4s' },
      ],
    });

    const w = protobuf.Writer.create();
    w.uint32(0x0a).fork().uint32(0x12).fork().uint32(0x12).fork().uint32(0x2a).fork().uint32(0x0a).string('y').ldelim().ldelim().ldelim().ldelim();
    const proto = await send(ing.url + '/otlp/v1/logs', Buffer.from(w.finish()), { 'Content-Type': 'application/x-protobuf' });
    expect(proto.status).toBe(503);
    expect(proto.headers.get('retry-after')).toBe('4');
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    expect(decodeStatus(proto.body)).toMatchObject({ code: 14, reason: 'SILT_KAFKA_UNAVAILABLE' });
  }, 120000);
});
