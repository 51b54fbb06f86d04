import os from 'node:os';
import pino from 'pino';
import { pinoLoki } from 'pino-loki';
import { compressSync } from 'snappy';
import winston from 'winston';
import LokiTransport from 'winston-loki';
import { PushRequest } from '../../ingest/src/protocols/loki-proto';
import { CompatCluster } from '../support/compat-cluster';
import { startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { OwnBroker, retryUntil } from '../support/own-broker';
import type { QueryEntry } from '../support/query-client';

const LINES = 1000;
const PUSH = '/loki/api/v1/push';

function numbered(i: number): string {
  return `line ${String(i).padStart(4, '0')}`;
}

/** Asserts that `entries` hold `line 0000` … `line 0999` exactly once each, whatever their order. */
function expectEveryLineOnce(lines: string[]): void {
  expect(lines).toHaveLength(LINES);
  expect([...lines].sort()).toEqual(Array.from({ length: LINES }, (_, i) => numbered(i)));
}

/** A snappy-compressed PushRequest of one entry per line, stamped now. */
function protoBody(labels: string, lines: string[]): Buffer {
  const ms = Date.now();
  const message = PushRequest.fromObject({
    streams: [{ labels: Buffer.from(labels), entries: lines.map((line) => ({ timestamp: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 }, line: Buffer.from(line) })) }],
  });
  return compressSync(Buffer.from(PushRequest.encode(message).finish()));
}

async function push(url: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url + PUSH, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Resolves once `transport` has taken `count` entries from winston (its 'logged' event fires once per entry). */
function loggedBy(transport: LokiTransport, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    transport.on('logged', () => {
      if (++seen === count) resolve();
    });
  });
}

describe('ingest > loki push > real clients', () => {
  let cluster: CompatCluster;

  beforeAll(async () => {
    cluster = await CompatCluster.start();
  }, 180000);

  afterAll(async () => {
    await cluster?.close();
  }, 60000);

  it('pino-loki 3 (JSON, one stream per line): every line once, with hostname, level and its labels, meta as structured metadata', async () => {
    const failures: unknown[] = [];
    const errorSpy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void failures.push(args));
    try {
      const transport = pinoLoki({
        host: cluster.ingestUrl,
        headers: { 'X-Scope-OrgID': 'pino-t' },
        labels: { app: 'pino-app' },
        batching: { interval: 0.2 },
      });
      const logger = pino({ level: 'info' }, transport);
      for (let i = 0; i < LINES; i++) {
        logger.info({ meta: { seq: i, kind: 'compat' } }, numbered(i));
        // Spread the lines over a few batching intervals, so that several pushes carry them.
        if (i % 250 === 249) await new Promise((r) => setTimeout(r, 300));
      }
      // Ending the stream makes pino-loki send what it still buffers, and 'close' follows that send.
      await new Promise<void>((resolve) => {
        transport.on('close', resolve);
        transport.end();
      });
      const entries = await cluster.waitForEntries('{app="pino-app"}', LINES, 'pino-t');
      const logs = entries.map((e) => JSON.parse(e.line) as { msg: string; time: number; level: number; hostname?: string });
      expectEveryLineOnce(logs.map((l) => l.msg));
      for (const [k, e] of entries.entries()) {
        const log = logs[k]!;
        const seq = Number(log.msg.slice(5));
        expect(e.labels).toEqual({ app: 'pino-app', hostname: os.hostname(), level: 'info' });
        expect(e.attrs).toEqual({ seq: String(seq), kind: 'compat' });
        expect(log.level).toBe(30);
        expect(log.hostname).toBeUndefined();
        // pino-loki multiplies pino's milliseconds by 1e6 as a JS number: above 2^53 that is off by up to 128 ns.
        const off = BigInt(e.ts) - BigInt(log.time) * 1_000_000n;
        expect(off >= -128n && off <= 128n).toBe(true);
      }
      expect(failures).toEqual([]);
    } finally {
      errorSpy.mockRestore();
    }
  }, 120000);

  it.each([
    ['protobuf + snappy', false, 'winston-proto-t'],
    ['JSON', true, 'winston-json-t'],
  ])('winston-loki 6 (%s): every line once, with its labels (loosely escaped) and level', async (_mode, json, tenant) => {
    const errors: unknown[] = [];
    const app = json ? 'winston-json' : 'winston-proto';
    const transport = new LokiTransport({
      host: cluster.ingestUrl,
      json,
      labels: { app, note: 'say "hi"' },
      headers: { 'X-Scope-OrgID': tenant },
      interval: 0.2,
      gracefulShutdown: false,
      format: winston.format.printf((info) => String(info.message)),
      onConnectionError: (err) => errors.push(err),
    });
    const logger = winston.createLogger({ level: 'info', transports: [transport] });
    const taken = loggedBy(transport, LINES);
    for (let i = 0; i < LINES; i++) {
      logger.info(numbered(i), { seq: i });
      if (i % 250 === 249) await new Promise((r) => setTimeout(r, 300));
    }
    await taken;
    // close() stops the batching loop and resolves once the last batch was answered.
    await transport.close();
    logger.close();
    const entries: QueryEntry[] = await cluster.waitForEntries(`{app="${app}"}`, LINES, tenant);
    expectEveryLineOnce(entries.map((e) => e.line));
    for (const e of entries) {
      expect(e.labels).toEqual({ app, note: 'say "hi"', level: 'info' });
      // Only its JSON mode sends structured metadata: winston's info without the message (level and meta).
      if (json) expect(e.attrs).toEqual({ level: 'info', seq: String(Number(e.line.slice(5))) });
      else expect(e.attrs).toBeUndefined();
    }
    expect(errors).toEqual([]);
  }, 120000);

  it('refuses bad bodies over HTTP with plain-text reasons and the status Loki uses', async () => {
    const url = cluster.ingestUrl;
    const malformed = await push(url, compressSync(Buffer.from([0x0a, 0xff, 0xff, 0x03])), { 'Content-Type': 'application/x-protobuf' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(malformed.text).toMatch(/^SILT_MALFORMED_PROTOBUF: request body is not a valid logproto.PushRequest/);

    const truncated = await push(url, protoBody('{app="bad"}', ['x'.repeat(200)]).subarray(0, 30), { 'Content-Type': 'application/x-protobuf' });
    expect(truncated.status).toBe(400);
    expect(truncated.text).toMatch(/^SILT_BAD_COMPRESSED_BODY: request body is not valid snappy data/);

    const w = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08, 0x00]); // a snappy preamble announcing 2 GiB, and nothing else
    const bomb = await push(url, w, { 'Content-Type': 'application/x-protobuf' });
    expect(bomb.status).toBe(413);
    expect(bomb.text).toMatch(/^SILT_PAYLOAD_TOO_LARGE: .*announces 2147483648 bytes/);

    const unsupported = await push(url, 'x', { 'Content-Type': 'application/json', 'Content-Encoding': 'br' });
    expect(unsupported.status).toBe(415);
    expect(unsupported.text).toMatch(/^SILT_UNSUPPORTED_ENCODING: /);

    const ns = String(BigInt(Date.now()) * 1_000_000n);
    const partial = await push(url, JSON.stringify({ streams: [{ stream: { app: 'partial' }, values: [[ns, 'kept'], ['yesterday', 'refused']] }] }), {
      'Content-Type': 'application/json',
      'X-Scope-OrgID': 'loki-partial',
    });
    expect(partial.status).toBe(400);
    expect(partial.text).toBe(`1 entry rejected, 1 accepted and stored\nstream 0, entry 1: SILT_BAD_TIMESTAMP: timestamp "yesterday" is neither RFC 3339 nor a non-negative integer of s, ms, µs or ns\n`);
    expect(partial.headers.get('x-silt-token')).toBeTruthy();
    expect((await cluster.waitForEntries('{app="partial"}', 1, 'loki-partial')).map((e) => e.line)).toEqual(['kept']);
  }, 60000);

  it('takes the first value of a repeated X-Scope-OrgID as the tenant, and answers 204 with the write token', async () => {
    const res = await push(cluster.ingestUrl, protoBody('{app="orgid"}', ['for t']), { 'Content-Type': 'application/x-protobuf', 'X-Scope-OrgID': 't, t' });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(res.headers.get('x-silt-token')).toMatch(/.+/);
    const entries = await cluster.waitForEntries('{app="orgid"}', 1, 't');
    expect(entries.map((e) => [e.line, e.labels])).toEqual([['for t', { app: 'orgid' }]]);
    expect(await cluster.readAll('{app="orgid"}')).toEqual([]);
  }, 60000);
});

describe('ingest > loki push > Kafka down', () => {
  let broker: OwnBroker;
  let ing: IngestUnderTest;

  beforeAll(async () => {
    broker = await OwnBroker.start('loki-down');
    ing = await startIngest({ ingest: { ackTimeoutMs: 2000, retryAfterSeconds: 3 } }, broker.brokers);
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
    await broker?.close();
  }, 60000);

  it('answers 503 with Retry-After in plain text while the broker is stopped, and 204 again once it is back', async () => {
    const headers = { 'Content-Type': 'application/x-protobuf' };
    expect((await push(ing.url, protoBody('{app="down"}', ['before']), headers)).status).toBe(204);

    await broker.kill();
    const down = await push(ing.url, protoBody('{app="down"}', ['during']), headers);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('3');
    expect(down.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(down.text).toMatch(/^SILT_KAFKA_UNAVAILABLE: /);

    await broker.restart();
    await retryUntil(204, async () => (await push(ing.url, protoBody('{app="down"}', ['after']), headers)).status);
  }, 180000);
});
