/**
 * Requests to storage nodes' internal API over keep-alive connections, with node:http: a request
 * costs about a third of what `fetch` costs (on this machine ~0.1 against ~0.35 ms a small POST),
 * and every query makes one to each node it asks.
 */
import http from 'node:http';

/** A node's answer: its status, and its body as it arrives. */
export interface NodeResponse {
  status: number;
  body: AsyncIterable<Buffer>;
  /** The whole body, parsed as JSON. */
  json(): Promise<unknown>;
}

/** What a request to a node sends. */
export interface NodeRequestInit {
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  /** A JSON body (POST). */
  body?: string;
  /** Aborting it before the answer has ended destroys the connection, so the node stops its work. */
  signal: AbortSignal;
}

const agent = new http.Agent({ keepAlive: true });

/** Sends one request to a storage node; resolves once the answer's headers are in. */
export function nodeRequest(url: string, init: NodeRequestInit): Promise<NodeResponse> {
  const { signal } = init;
  return new Promise<NodeResponse>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
    const headers = body === undefined ? init.headers : { ...init.headers, 'Content-Type': 'application/json', 'Content-Length': String(body.length) };
    const req = http.request(url, { method: init.method ?? 'GET', headers, agent });
    // Only while the answer is unfinished: a connection back in the agent's pool must not be destroyed.
    const onAbort = (): void => void req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const done = (): void => signal.removeEventListener('abort', onAbort);
    signal.addEventListener('abort', onAbort);
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('response', (res) => {
      // Emitted once the answer ended or failed.
      res.on('close', done);
      resolve({
        status: res.statusCode ?? 0,
        body: res,
        async json() {
          const chunks: Buffer[] = [];
          for await (const chunk of res) chunks.push(chunk as Buffer);
          return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        },
      });
    });
    req.end(body);
  });
}
