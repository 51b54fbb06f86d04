/**
 * Push limits of one ingest process, per tenant: token buckets of line bytes and of entries (a
 * tenant's configured rate and burst divided among the live ingest processes, so together they
 * admit no more than the rate), and the active streams of `maxStreams` (counted in this process: a
 * stream may arrive through any ingest process, so each holds the tenant to the whole limit).
 */
import type { LimitsTable } from '../../../config/tenancy';
import { PayloadTooLargeError, TooManyRequestsError } from '../../../errors';
import { labelsKey } from '../../../labels';
import type { PushSize } from '../../types';
import { TokenBucket } from './token-bucket';

/** One tenant's buckets, sized for `share` ingest processes. */
interface TenantBuckets {
  share: number;
  bytes: TokenBucket | null;
  entries: TokenBucket | null;
}

/** Why a push was refused, as `silt_ingest_limits_refused_total{limit}` names it. */
export type PushLimitName = 'ingestion_rate_bytes' | 'ingestion_rate_entries' | 'ingestion_burst' | 'max_streams';

const bucketOf = (rate: number, burst: number, share: number, now: number): TokenBucket | null =>
  rate > 0 ? new TokenBucket(rate / share, (burst > 0 ? burst : rate) / share, now) : null;

/** The push limits of one ingest process; see the module comment. */
export class PushLimiter {
  private readonly buckets = new Map<string, TenantBuckets>();
  /** Per tenant, each active stream's key and when it was last pushed to. */
  private readonly streams = new Map<string, Map<string, number>>();
  /** Per tenant refused over a rate, until when (ms) and why: the Retry-After it was given. */
  private readonly refusedUntil = new Map<string, { until: number; limit: PushLimitName; rate: string }>();

  constructor(
    private readonly table: LimitsTable,
    private readonly share: () => number,
    private readonly onRefused: (tenant: string, limit: PushLimitName) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forgets every bucket (their limits may have changed); a tenant's next push starts full. */
  reset(): void {
    this.buckets.clear();
    this.refusedUntil.clear();
  }

  /**
   * Refuses a push of `tenant` before its body is read while the Retry-After of its last refusal
   * over a rate runs: its buckets fill for that refused push first, so a client that honours
   * Retry-After gets in, and one that does not costs the process no parsing.
   */
  before(tenant: string): void {
    const r = this.refusedUntil.get(tenant);
    if (r === undefined) return;
    const now = this.now();
    if (now >= r.until) {
      this.refusedUntil.delete(tenant);
      return;
    }
    this.onRefused(tenant, r.limit);
    throw this.rateError(tenant, r.limit, r.rate, (r.until - now) / 1000);
  }

  private rateError(tenant: string, limit: PushLimitName, rate: string, waitS: number): TooManyRequestsError {
    return new TooManyRequestsError('SILT_RATE_LIMITED', `tenant "${tenant}" is over its ingestion rate of ${rate}; retry after the Retry-After seconds`, Math.max(1, Math.ceil(waitS)), { tenant, limit });
  }

  /** Admits a push of `tenant` or throws: 429 over a rate (Retry-After from the buckets), 413 for a push no bucket could ever hold. */
  admit(tenant: string, size: PushSize): void {
    const l = this.table.of(tenant);
    if (l.ingestionRateBytes === 0 && l.ingestionRateEntries === 0 && l.maxStreams === 0) return;
    const now = this.now();
    if (l.maxStreams > 0) this.admitStreams(tenant, size, l.maxStreams, now);
    if (l.ingestionRateBytes === 0 && l.ingestionRateEntries === 0) return;
    const share = Math.max(1, this.share());
    let b = this.buckets.get(tenant);
    if (b === undefined) {
      b = { share, bytes: bucketOf(l.ingestionRateBytes, l.ingestionBurstBytes, share, now), entries: bucketOf(l.ingestionRateEntries, l.ingestionBurstEntries, share, now) };
      this.buckets.set(tenant, b);
    } else if (b.share !== share) {
      b.share = share;
      b.bytes?.resize(l.ingestionRateBytes / share, (l.ingestionBurstBytes || l.ingestionRateBytes) / share, now);
      b.entries?.resize(l.ingestionRateEntries / share, (l.ingestionBurstEntries || l.ingestionRateEntries) / share, now);
    }
    const waitBytes = b.bytes?.wait(size.bytes, now) ?? 0;
    const waitEntries = b.entries?.wait(size.entries, now) ?? 0;
    if (waitBytes === Infinity || waitEntries === Infinity) {
      this.onRefused(tenant, 'ingestion_burst');
      const [what, n, cap] = waitBytes === Infinity ? ['bytes of lines', size.bytes, b.bytes!.capacity] : ['entries', size.entries, b.entries!.capacity];
      throw new PayloadTooLargeError(`push of ${n} ${what} is over tenant "${tenant}"'s burst of ${Math.floor(cap)} on this ingest process (of ${share}): split it`, {
        tenant,
        limit: 'ingestionBurst',
      });
    }
    const wait = Math.max(waitBytes, waitEntries);
    if (wait > 0) {
      const limit: PushLimitName = waitBytes >= waitEntries ? 'ingestion_rate_bytes' : 'ingestion_rate_entries';
      this.onRefused(tenant, limit);
      const rate = limit === 'ingestion_rate_bytes' ? `${l.ingestionRateBytes} bytes/s` : `${l.ingestionRateEntries} entries/s`;
      this.refusedUntil.set(tenant, { until: now + wait * 1000, limit, rate });
      throw this.rateError(tenant, limit, rate, wait);
    }
    b.bytes?.take(size.bytes);
    b.entries?.take(size.entries);
  }

  private admitStreams(tenant: string, size: PushSize, max: number, now: number): void {
    let active = this.streams.get(tenant);
    if (active === undefined) this.streams.set(tenant, (active = new Map()));
    const window = this.table.activeStreamWindowMs;
    const keys = size.streams.map((s) => labelsKey(s.labels));
    const fresh = keys.filter((k) => !active.has(k));
    if (fresh.length > 0 && active.size + fresh.length > max) {
      for (const [k, seen] of active) if (now - seen > window) active.delete(k);
      if (active.size + fresh.length > max) {
        let oldest = now;
        for (const seen of active.values()) oldest = Math.min(oldest, seen);
        this.onRefused(tenant, 'max_streams');
        const retry = Math.max(1, Math.ceil((oldest + window - now) / 1000));
        throw new TooManyRequestsError('SILT_STREAM_LIMIT', `tenant "${tenant}" has ${active.size} active streams and this push adds ${fresh.length}: over its limit of ${max}`, retry, { tenant, limit: 'maxStreams' });
      }
    }
    for (const k of keys) active.set(k, now);
  }
}
