/**
 * Latency probes that run beside a load: marker entries pushed a few times a second on their own
 * stream; for each, the time from its push acknowledgement until it is queryable in every replica
 * group (a token read on each storage node), and until a live tail (SSE through the query service)
 * delivers it.
 */
import { sleep, wallMs } from './stats';

/** A marker not queryable or tailed after this long counts as missing rather than stalling the run. */
const GIVE_UP_MS = 60000;

/** The stream markers are pushed on. */
export const MARKER_APP = 'bench-marker';

/** What the probes saw. */
export interface ProbeResult {
  /** Push answer time of each marker, ms. */
  ackMs: number[];
  /** Acknowledgement → queryable on every storage node, ms. */
  lagMs: number[];
  /** Acknowledgement → delivered by the tail, ms (0 when it arrived before the acknowledgement). */
  tailMs: number[];
  /** Markers the tail delivered before their push was acknowledged. */
  tailBeforeAck: number;
  /** Markers never seen by the tail, or never queryable, by the end. */
  tailMissing: number;
  lagMissing: number;
}

interface Marker {
  line: string;
  ts: bigint;
  sentAt: number;
  ackAt: number;
  token: string;
}

/** A live tail on the marker stream, over SSE, recording when each line arrives. */
export class MarkerTail {
  readonly arrivals = new Map<string, number>();
  private readonly controller = new AbortController();
  private reading: Promise<void> = Promise.resolve();

  /** Connects; arrivals are recorded from then on. */
  async open(queryUrl: string, tenant: string): Promise<void> {
    const url = `${queryUrl}/api/v1/tail?query=${encodeURIComponent(`{app="${MARKER_APP}"}`)}`;
    const res = await fetch(url, { headers: { Accept: 'text/event-stream', 'X-Scope-OrgID': tenant }, signal: this.controller.signal });
    if (res.status !== 200 || !res.body) throw new Error(`tail answered ${res.status}: ${await res.text()}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    this.reading = (async () => {
      let pending = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          const at = wallMs();
          pending += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = pending.indexOf('\n\n')) >= 0) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            const data = event.split('\n').find((l) => l.startsWith('data: '));
            if (data && !event.includes('event: error')) this.arrivals.set((JSON.parse(data.slice(6)) as { line: string }).line, at);
          }
        }
      } catch (err) {
        if (!this.controller.signal.aborted) throw err;
      }
    })();
  }

  /** Disconnects and waits for the reader to finish. */
  async close(): Promise<void> {
    this.controller.abort();
    await this.reading;
  }
}

/** Pushes markers and measures their lag and tail delivery. */
export class MarkerProbe {
  private seq = 0;
  private readonly runId = Math.random().toString(36).slice(2, 8);

  constructor(
    private readonly ingestUrl: string,
    private readonly queryUrl: string,
    private readonly storageUrls: string[],
    private readonly tenant: string,
  ) {}

  private async push(): Promise<Marker> {
    const line = `${MARKER_APP} ${this.runId} ${this.seq++}`;
    const ts = BigInt(Date.now()) * 1_000_000n + BigInt(this.seq % 1_000_000);
    const body = JSON.stringify({ streams: [{ labels: { app: MARKER_APP }, entries: [{ ts: ts.toString(), line }] }] });
    const sentAt = wallMs();
    const res = await fetch(`${this.ingestUrl}/api/v1/push`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': this.tenant } });
    const text = await res.text();
    const ackAt = wallMs();
    if (res.status !== 200) throw new Error(`marker push answered ${res.status}: ${text}`);
    return { line, ts, sentAt, ackAt, token: (JSON.parse(text) as { token: string }).token };
  }

  /** Resolves when `marker` is readable on the node at `url` (a token read waits until the node applied it). */
  private async readable(url: string, marker: Marker): Promise<number> {
    const params = new URLSearchParams({ query: `{app="${MARKER_APP}"}`, start: marker.ts.toString(), end: (marker.ts + 1n).toString(), direction: 'forward', limit: '10', token: marker.token });
    const deadline = Date.now() + GIVE_UP_MS;
    while (Date.now() < deadline) {
      const res = await fetch(`${url}/internal/v1/read?${params}`, { headers: { 'X-Scope-OrgID': this.tenant } });
      const text = await res.text();
      // 504: not applied within the node's token wait; ask again.
      if (res.status === 504) continue;
      if (res.status !== 200) throw new Error(`read of a marker answered ${res.status}: ${text}`);
      if (text.includes(JSON.stringify(marker.line))) return wallMs();
      await sleep(20);
    }
    throw new Error(`marker not readable on ${url} after ${GIVE_UP_MS} ms`);
  }

  /** Opens a tail and pushes markers until it delivers one (a tail's consumer takes a while to join). */
  async openTail(timeoutMs = 30000): Promise<MarkerTail> {
    const tail = new MarkerTail();
    await tail.open(this.queryUrl, this.tenant);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const marker = await this.push();
      await sleep(200);
      if (tail.arrivals.has(marker.line)) return tail;
      if (Date.now() > deadline) throw new Error(`the tail delivered no marker within ${timeoutMs} ms`);
    }
  }

  /** Markers pushed so far (they are stored entries too). */
  get pushed(): number {
    return this.seq;
  }

  /** Pushes a marker every `everyMs` for `durationMs` while `tail` (from openTail) is open, measures each, and closes the tail. */
  async run(tail: MarkerTail, durationMs: number, everyMs: number): Promise<ProbeResult> {
    const markers: Marker[] = [];
    const lags: Promise<number | null>[] = [];
    const until = Date.now() + durationMs;
    while (Date.now() < until) {
      const tick = sleep(everyMs);
      const marker = await this.push();
      markers.push(marker);
      lags.push(
        Promise.all(this.storageUrls.map((u) => this.readable(u, marker))).then(
          (times) => Math.max(...times) - marker.ackAt,
          () => null,
        ),
      );
      await tick;
    }
    const lagValues = await Promise.all(lags);
    await waitUntil(() => markers.every((m) => tail.arrivals.has(m.line)), 10000);
    await tail.close();
    const result: ProbeResult = { ackMs: markers.map((m) => m.ackAt - m.sentAt), lagMs: [], tailMs: [], tailBeforeAck: 0, tailMissing: 0, lagMissing: 0 };
    markers.forEach((m, i) => {
      const lag = lagValues[i];
      if (lag === null) result.lagMissing++;
      else result.lagMs.push(lag);
      const arrived = tail.arrivals.get(m.line);
      if (arrived === undefined) result.tailMissing++;
      else {
        if (arrived < m.ackAt) result.tailBeforeAck++;
        result.tailMs.push(Math.max(0, arrived - m.ackAt));
      }
    });
    return result;
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(50);
}
