import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { rng } from '../support/rng';
import { post, readTopic, startIngest, type IngestUnderTest } from '../support/ingest-harness';

/** Writes `data` on a fresh connection, half-closes it, and returns all the server sent back. */
function rawExchange(url: string, data: string | Buffer): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(data);
      socket.end();
    });
    let out = '';
    socket.on('data', (d) => (out += d.toString('utf8')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

function statusAndBody(response: string): { status: number; body: Record<string, { code: string }> } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
  return { status, body: JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) };
}

describe('ingest > hardening', () => {
  let ing: IngestUnderTest;

  beforeAll(async () => {
    ing = await startIngest();
  });

  afterAll(async () => {
    await ing.service.stop();
  });

  it.each([
    ['a body shorter than its Content-Length', 'POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"streams":[]}'],
    ['a malformed chunk size', 'POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
    ['both Content-Length and Transfer-Encoding', 'POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['no HTTP at all', 'HELLO\r\n\r\n'],
  ])('answers %s with a Silt JSON 400', async (_name, request) => {
    const { status, body } = statusAndBody(await rawExchange(ing.url, request));
    expect(status).toBe(400);
    expect(body.error!.code).toBe('SILT_BAD_HTTP');
  });

  it('answers a URL that does not decode with a Silt JSON 400', async () => {
    const { status, body } = statusAndBody(await rawExchange(ing.url, 'GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(status).toBe(400);
    expect(body.error!.code).toBe('SILT_BAD_URL');
  });

  const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

  it.each([
    ['JSON labels', 'application/json', `{"streams":[{"labels":${deep(20000)},"entries":[{"line":"x"}]}]}`, 'SILT_BAD_LABELS'],
    ['JSON attrs', 'application/json', `{"streams":[{"labels":{"app":"a"},"entries":[{"line":"x","attrs":${deep(20000)}}]}]}`, 'SILT_BAD_ATTRS'],
    ['NDJSON labels', 'application/x-ndjson', `{"labels":${deep(20000)},"line":"x"}\n`, 'SILT_BAD_LABELS'],
    ['NDJSON line', 'application/x-ndjson', `{"labels":{"app":"a"},"line":${deep(20000)}}\n`, 'SILT_BAD_ENTRY'],
  ])('rejects %s nested 20,000 levels deep with a 400 naming the entry', async (_name, type, body, code) => {
    const res = await post(ing.url, '/api/v1/push', body, { 'Content-Type': type });
    expect(res.status).toBe(400);
    expect((res.json.rejected as { code: string }[])[0]!.code).toBe(code);
  });

  it('takes the first of a repeated labels parameter and of a repeated X-Scope-OrgID', async () => {
    const res = await fetch(`${ing.url}/api/v1/push?labels=${encodeURIComponent('{app="first"}')}&labels=${encodeURIComponent('{app="second"}')}`, {
      method: 'POST',
      body: 'repeated\n',
      headers: { 'Content-Type': 'text/plain', 'X-Scope-OrgID': 'acme, acme' },
    });
    expect(res.status).toBe(200);
    const stored = (await readTopic(ing.config.kafka.brokers, ing.config.kafka.logsTopic)).filter((e) => e.line === 'repeated');
    expect(stored.map((e) => [e.tenant, e.labels])).toEqual([['acme', { app: 'first' }]]);
  });

  it('never answers a 5xx to random bodies, content types and encodings, and every 4xx is a Silt error', async () => {
    const random = rng(8);
    const types = ['application/json', 'application/x-ndjson', 'text/plain', 'application/x-protobuf', 'image/png', '', 'application/json; charset=latin1'];
    const encodings = ['', 'gzip', 'zstd', 'br', 'gzip, zstd'];
    const pieces = ['{', '}', '[', ']', '"streams"', ':', ',', '"labels"', '{"app":"x"}', '"entries"', '"line"', '"ts"', '1e400', '-1', 'null', '\\u0000', '\ud800', 'é'];
    for (let i = 0; i < 300; i++) {
      let text = '';
      const n = Math.floor(random() * 30);
      for (let k = 0; k < n; k++) text += pieces[Math.floor(random() * pieces.length)];
      let body: Buffer = Buffer.from(text);
      const encoding = encodings[Math.floor(random() * encodings.length)]!;
      if (encoding === 'gzip' && random() < 0.7) body = gzipSync(body);
      if (random() < 0.2) body = body.subarray(0, Math.floor(body.length / 2));
      const headers: Record<string, string> = {};
      const type = types[Math.floor(random() * types.length)]!;
      if (type !== '') headers['Content-Type'] = type;
      if (encoding !== '') headers['Content-Encoding'] = encoding;
      const res = await fetch(`${ing.url}/api/v1/push?labels=${encodeURIComponent('{app="fuzz"}')}`, { method: 'POST', body, headers });
      const answer = (await res.json()) as { error?: { code: string }; rejected?: unknown[] };
      expect(res.status).toBeLessThan(500);
      // A 4xx is either a whole-request Silt error or the push answer listing rejected entries.
      if (res.status >= 400) expect(answer.error?.code.startsWith('SILT_') || (res.status === 400 && Array.isArray(answer.rejected))).toBe(true);
    }
  });
});
