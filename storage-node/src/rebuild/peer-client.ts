/** The rebuilding side's HTTP calls to a peer's transfer API (transfer-api.ts). */
import { PeerError } from '../../../core/src/errors';
import type { PartitionListing } from '../store';

const OFFSET = /^[0-9]{1,20}$/;

function checkListing(body: unknown, partition: number): PartitionListing {
  const l = body as PartitionListing;
  const ok =
    l !== null &&
    typeof l === 'object' &&
    l.partition === partition &&
    typeof l.applied === 'string' &&
    OFFSET.test(l.applied) &&
    Array.isArray(l.segments) &&
    l.segments.every((s) => s !== null && typeof s === 'object' && typeof s.first === 'string' && OFFSET.test(s.first) && typeof s.applied === 'string' && OFFSET.test(s.applied));
  if (!ok) throw new PeerError(`malformed segment listing of partition ${partition}`);
  return l;
}

/** A signal that aborts when `parent` does or after `ms` without `touch()`: a peer that stalls is given up on, one that is slow but moving is not. */
class IdleTimeout {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;
  private readonly onParent = (): void => this.controller.abort(this.parent.reason);

  constructor(
    private readonly parent: AbortSignal,
    private readonly ms: number,
  ) {
    this.timer = setTimeout(() => this.expire(), ms);
    parent.addEventListener('abort', this.onParent, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire(), this.ms);
  }

  done(): void {
    clearTimeout(this.timer);
    this.parent.removeEventListener('abort', this.onParent);
  }

  private expire(): void {
    this.controller.abort(new PeerError(`peer sent nothing for ${this.ms} ms`));
  }
}

/** Headers of a call to a peer's internal API: the cluster secret when one is set. */
function headersOf(secret: string): Record<string, string> {
  return secret === '' ? {} : { Authorization: `Bearer ${secret}` };
}

async function get(url: string, secret: string, timeout: IdleTimeout): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal: timeout.signal, headers: headersOf(secret) });
  } catch (err) {
    throw new PeerError(`GET ${url} failed: ${String((err as Error).cause ?? err)}`);
  }
  if (res.status !== 200) {
    const text = await res.text().catch(() => '');
    throw new PeerError(`GET ${url} answered ${res.status}`, { status: res.status, body: text.slice(0, 500) });
  }
  return res;
}

/** The peer's segments of `partition`, oldest first. */
export async function fetchListing(baseUrl: string, secret: string, partition: number, signal: AbortSignal, idleMs: number): Promise<PartitionListing> {
  const timeout = new IdleTimeout(signal, idleMs);
  try {
    const res = await get(`${baseUrl}/internal/v1/partitions/${partition}/segments`, secret, timeout);
    return checkListing(await res.json().catch(() => null), partition);
  } finally {
    timeout.done();
  }
}

/** The dump of one segment, chunk by chunk as it arrives (undici pulls from the socket only as fast as the chunks are taken). */
export async function* fetchDump(baseUrl: string, secret: string, partition: number, first: bigint, signal: AbortSignal, idleMs: number): AsyncGenerator<Uint8Array> {
  const timeout = new IdleTimeout(signal, idleMs);
  try {
    const res = await get(`${baseUrl}/internal/v1/partitions/${partition}/segments/${first}/dump`, secret, timeout);
    if (res.body === null) return;
    try {
      for await (const chunk of res.body) {
        timeout.touch();
        yield chunk;
      }
    } catch (err) {
      // A peer killed mid-way: the stream ends in an error; what was read is discarded by the caller.
      throw new PeerError(`dump of partition ${partition} segment ${first} from ${baseUrl} broke off: ${String((err as Error).cause ?? err)}`);
    }
  } finally {
    timeout.done();
  }
}
