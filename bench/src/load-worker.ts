/**
 * The load generator, a process of its own so that sending does not share an event loop with the
 * harness's timing of lag, tails and queries. Pushes pre-serialized 1,000-entry batches (native
 * JSON, or a job's shipper protocol) over several keep-alive connections, as a log shipper does.
 * Run as: node -r test/support/ts-register.js bench/src/load-worker.ts <batch>
 */
import http from 'node:http';
import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets, type WriteOffsets } from '../../core/src/write-token';
import { loadCorpus, type CorpusStream } from '../../test/support/corpus';
import { buildTemplates, cycleIndex, stampBatch, type BatchTemplate } from './bodies';
import type { FromWorker, LoadJob, LoadResult, ToWorker } from './load-protocol';
import { encodeCycle, PROTOCOLS, type ProtocolWire, type PushProtocol } from './protocol-bodies';
import { sleep, wallMs } from './stats';

const RETRY_DELAY_MS = 100;

function send(message: FromWorker): void {
  process.send!(message);
}

/** POSTs one body and resolves with the status and the text of the answer. */
function post(agent: http.Agent, url: URL, wire: ProtocolWire, tenant: string, body: Buffer, extra: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: wire.path,
        method: 'POST',
        headers: { ...extra, 'Content-Type': wire.contentType, 'Content-Length': body.length, 'X-Scope-OrgID': tenant },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Throws when a 2xx answer still refused part of the batch; the native token is merged by the caller. */
function checkAnswer(protocol: PushProtocol, text: string): void {
  // A bulk request answers 200 even when documents failed; `errors` says whether any did. It comes
  // before the items, so the head of the answer tells without parsing a thousand of them on the
  // generator's share of the machine.
  if (protocol === 'elastic' && !/^\{[^[]*"errors":false/.test(text.slice(0, 200))) throw new Error(`bulk answered errors: ${text.slice(0, 500)}`);
}

async function runJob(job: LoadJob, corpus: CorpusStream[], templates: BatchTemplate[]): Promise<LoadResult> {
  const batch = templates[0]!.entries;
  const protocol = job.protocol ?? 'native';
  const wire = PROTOCOLS[protocol];
  // Encoded before the clock starts, so that encoding never counts in the figures.
  const encoded = job.protocol === undefined ? null : encodeCycle(job.protocol, corpus, templates, job.clock, job.firstSeq);
  const bodyOf = (seq: number): { body: Buffer; template: BatchTemplate } => {
    if (encoded === null) return stampBatch(templates, seq, job.clock);
    const k = cycleIndex(templates, seq);
    return { body: encoded[k]!, template: templates[k]! };
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const url = new URL(job.url);
  const offsets: WriteOffsets = new Map();
  const result: LoadResult = { entries: 0, lineBytes: 0, bodyBytes: 0, requests: 0, errors: {}, latenciesMs: [], startedAt: wallMs(), endedAt: 0, token: '', nextSeq: job.firstSeq };
  const deadline = job.durationMs !== undefined ? result.startedAt + job.durationMs : Infinity;
  const limit = job.entries ?? Infinity;
  let issued = 0;
  const done = (): boolean => issued >= limit || wallMs() >= deadline;

  /** Sends the batch at `seq` until Kafka acknowledges it (retrying 503 and 429, as a shipper does). */
  const pushBatch = async (seq: number, since: number): Promise<void> => {
    for (;;) {
      const { body, template } = bodyOf(seq);
      result.requests++;
      const answer = await post(agent, url, wire, job.tenant, body, job.headers);
      if (answer.status >= 200 && answer.status < 300) {
        checkAnswer(protocol, answer.text);
        result.latenciesMs.push(wallMs() - since);
        result.entries += template.entries;
        result.lineBytes += template.lineBytes;
        result.bodyBytes += body.length;
        result.endedAt = wallMs();
        // Only the native answer carries a write token; the other protocols answer in their own shape.
        if (protocol === 'native') mergeWriteOffsets(offsets, decodeWriteToken((JSON.parse(answer.text) as { token: string }).token));
        return;
      }
      result.errors[answer.status] = (result.errors[answer.status] ?? 0) + 1;
      if (answer.status !== 503 && answer.status !== 429) throw new Error(`push answered ${answer.status}: ${answer.text.slice(0, 500)}`);
      await sleep(RETRY_DELAY_MS);
    }
  };
  const nextSeq = (): number => {
    const seq = result.nextSeq;
    result.nextSeq += batch;
    issued += batch;
    return seq;
  };

  if (job.ratePerS === undefined) {
    await Promise.all(
      Array.from({ length: job.connections }, async () => {
        while (!done()) await pushBatch(nextSeq(), wallMs());
      }),
    );
  } else {
    // Open loop: batch k is due at start + k·interval whatever happened before, so a slow answer
    // shows up as latency of the batches queued behind it (no coordinated omission).
    const intervalMs = (batch * 1000) / job.ratePerS;
    const inFlight = new Set<Promise<void>>();
    for (let k = 0; !done(); k++) {
      const due = result.startedAt + k * intervalMs;
      const wait = due - wallMs();
      if (wait > 1) await sleep(wait);
      while (inFlight.size >= job.connections) await Promise.race(inFlight);
      const p: Promise<void> = pushBatch(nextSeq(), due).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }
  agent.destroy();
  result.token = encodeWriteToken(offsets);
  return result;
}

function main(): void {
  const batch = Number(process.argv[2]);
  if (!Number.isInteger(batch) || batch <= 0) throw new Error(`load-worker: bad batch size "${process.argv[2]}"`);
  const corpus = loadCorpus();
  const templates = buildTemplates(corpus, batch);
  let queue = Promise.resolve();
  process.on('message', (message: ToWorker) => {
    if (message.type === 'exit') process.exit(0);
    queue = queue.then(() =>
      runJob(message.job, corpus, templates).then(
        (result) => send({ type: 'result', result }),
        (err: unknown) => send({ type: 'failed', message: (err as Error).stack ?? String(err) }),
      ),
    );
  });
  // The harness going away must not leave a load running.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', batch });
}

main();
