import { DEFAULT_LIMITS, LimitsTable, type LimitsConfig } from '../../core/src/config/tenancy';
import { PushLimiter } from '../../core/src/plugins/builtin/limits/push-limits';
import { TokenBucket } from '../../core/src/plugins/builtin/limits/token-bucket';

const limits = (tenants: LimitsConfig['tenants'], window = 60_000): LimitsTable => new LimitsTable({ ...DEFAULT_LIMITS, tenants, activeStreamWindowMs: window });

function limiter(table: LimitsTable, share = 1) {
  const clock = { now: 0 };
  const refused: string[] = [];
  const l = new PushLimiter(table, () => share, (t, limit) => refused.push(`${t}/${limit}`), () => clock.now);
  const size = (bytes: number, entries = 1, apps = ['a']) => ({ streams: apps.map((app) => ({ labels: { app } })), entries, bytes });
  return { l, clock, refused, size };
}

const codeOf = (f: () => void): { code?: string; status?: number; retryAfterSeconds?: number } => {
  try {
    f();
  } catch (err) {
    return err as { code: string };
  }
  return {};
};

describe('limits > token bucket', () => {
  it('starts full, refills at the rate up to the burst, and says how long a take must wait', () => {
    const b = new TokenBucket(100, 300, 0);
    expect(b.wait(300, 0)).toBe(0);
    b.take(300);
    expect(b.wait(50, 0)).toBe(0.5);
    expect(b.wait(50, 500)).toBe(0);
    expect(b.wait(301, 500)).toBe(Infinity);
    b.take(50);
    expect(b.wait(300, 100_000)).toBe(0);
    b.resize(10, 30, 100_000);
    expect(b.wait(31, 100_000)).toBe(Infinity);
    expect(b.wait(30, 100_000)).toBe(0);
  });
});

describe('limits > push limiter', () => {
  it('refuses over the rate with 429 and a Retry-After that, honoured, admits the push', () => {
    const { l, clock, refused, size } = limiter(limits({ t: { ingestionRateBytes: 1000, ingestionBurstBytes: 2000 } }));
    l.admit('t', size(2000));
    const err = codeOf(() => l.admit('t', size(1500)));
    expect(err).toMatchObject({ code: 'SILT_RATE_LIMITED', status: 429, retryAfterSeconds: 2 });
    clock.now += err.retryAfterSeconds! * 1000;
    l.admit('t', size(1500));
    expect(refused).toEqual(['t/ingestion_rate_bytes']);
    // Other tenants have no limit.
    for (let i = 0; i < 10; i++) l.admit('u', size(1e9));
  });

  it("while a refusal's Retry-After runs, refuses the tenant before its body is read, then admits the refused push", () => {
    const { l, clock, refused, size } = limiter(limits({ t: { ingestionRateBytes: 1000, ingestionBurstBytes: 2000 } }));
    l.before('t');
    l.admit('t', size(2000));
    expect(codeOf(() => l.admit('t', size(1500)))).toMatchObject({ retryAfterSeconds: 2 });
    clock.now += 500;
    // Even a push small enough for what the bucket holds waits: the refused one comes first.
    expect(codeOf(() => l.before('t'))).toMatchObject({ code: 'SILT_RATE_LIMITED', status: 429, retryAfterSeconds: 1 });
    l.before('u');
    clock.now += 1000;
    l.before('t');
    l.admit('t', size(1500));
    expect(refused).toEqual(['t/ingestion_rate_bytes', 't/ingestion_rate_bytes']);
    // A reload forgets it, as it forgets the buckets.
    expect(codeOf(() => l.admit('t', size(1000)))).toMatchObject({ code: 'SILT_RATE_LIMITED' });
    l.reset();
    l.before('t');
  });

  it('entries have their own bucket; a burst of 0 is one second of the rate', () => {
    const { l, size } = limiter(limits({ t: { ingestionRateEntries: 10 } }));
    l.admit('t', size(1, 10));
    expect(codeOf(() => l.admit('t', size(1, 1)))).toMatchObject({ code: 'SILT_RATE_LIMITED', retryAfterSeconds: 1 });
    expect(codeOf(() => l.admit('t', size(1, 11)))).toMatchObject({ code: 'SILT_PAYLOAD_TOO_LARGE', status: 413 });
  });

  it('shares rate and burst among the live ingest processes', () => {
    const { l, size } = limiter(limits({ t: { ingestionRateBytes: 1000, ingestionBurstBytes: 2000 } }), 4);
    l.admit('t', size(500));
    expect(codeOf(() => l.admit('t', size(1)))).toMatchObject({ code: 'SILT_RATE_LIMITED' });
    expect(codeOf(() => l.admit('t', size(501)))).toMatchObject({ code: 'SILT_PAYLOAD_TOO_LARGE' });
  });

  it('maxStreams counts streams active within the window; old ones age out', () => {
    const { l, clock, size } = limiter(limits({ t: { maxStreams: 2 } }, 10_000));
    l.admit('t', size(1, 1, ['a', 'b']));
    const err = codeOf(() => l.admit('t', size(1, 1, ['c'])));
    expect(err).toMatchObject({ code: 'SILT_STREAM_LIMIT', status: 429, retryAfterSeconds: 10 });
    l.admit('t', size(1, 1, ['a']));
    clock.now = 6_000;
    l.admit('t', size(1, 1, ['a']));
    clock.now = 10_001;
    l.admit('t', size(1, 1, ['c']));
    expect(codeOf(() => l.admit('t', size(1, 1, ['b'])))).toMatchObject({ code: 'SILT_STREAM_LIMIT' });
  });
});
