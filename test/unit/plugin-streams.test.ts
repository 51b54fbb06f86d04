import type { PushStreamView } from '../../core/src/plugins';
import { applyPushHooks, pushSize, type PushHooks } from '../../ingest/src/push/plugin-streams';
import type { ParsedPush } from '../../ingest/src/push/builder';
import { RunWriter } from '../../core/src/payload-run';

const LIMITS = { maxLabels: 3, maxLabelNameBytes: 64, maxLabelValueBytes: 64 };

function hooksOf(onPush: (streams: PushStreamView[]) => PushStreamView[] | void): PushHooks {
  return { beforePush: () => undefined, admitPush: () => undefined, hasPushHooks: () => true, onPush: async (_t, s) => onPush(s) ?? s };
}

const parsed = (): ParsedPush => ({
  streams: [
    { labels: { app: 'a', pod: '1' }, entries: [{ ts: 1n, line: 'one' }] },
    { labels: { app: 'a', pod: '2' }, entries: [{ ts: 2n, line: 'two' }, { ts: 3n, line: 'three' }] },
  ],
  accepted: 3,
  rejected: [{ stream: 5, entry: 0, code: 'SILT_BAD_LINE', reason: 'kept' }],
  lineBytes: [3, 8],
});

describe('ingest > push plugins > streams after the hooks', () => {
  it('merges streams whose labels came out equal, and keeps dropped entries accepted', async () => {
    const out = await applyPushHooks('t', parsed(), hooksOf((streams) => {
      for (const s of streams) delete s.labels.pod;
      streams[1]!.entries = streams[1]!.entries.slice(1);
    }), LIMITS);
    expect(out.streams).toEqual([{ labels: { app: 'a' }, entries: [{ ts: 1n, line: 'one' }, { ts: 3n, line: 'three' }] }]);
    expect(out.accepted).toBe(3);
    expect(out.rejected).toHaveLength(1);
    expect(out.lineBytes).toBeUndefined();
  });

  it('labels a rule emptied are absent; labels a rule made invalid turn that stream into rejections', async () => {
    const out = await applyPushHooks('t', parsed(), hooksOf((streams) => {
      streams[0]!.labels.pod = '';
      streams[1]!.labels['bad-name'] = 'x';
    }), LIMITS);
    expect(out.streams.map((s) => s.labels)).toEqual([{ app: 'a' }]);
    expect(out.rejected.slice(1)).toEqual([
      { stream: 1, entry: 0, code: 'SILT_BAD_LABELS', reason: expect.stringMatching(/^after the push plugins: label name "bad-name" is invalid/) },
      { stream: 1, entry: 1, code: 'SILT_BAD_LABELS', reason: expect.stringMatching(/^after the push plugins/) },
    ]);
    expect(out.accepted).toBe(1);
  });

  it('hands payload runs to the hooks as entries, and a hook returning what is not an entry is its own failure', async () => {
    const w = new RunWriter();
    w.append(10, 5, Buffer.from('from the wire'), RunWriter.NO_ATTRS);
    const runs = w.finish();
    const seen: string[] = [];
    await applyPushHooks('t', { streams: [{ labels: { app: 'r' }, entries: [], runs }], accepted: 1, rejected: [] }, hooksOf((s) => void seen.push(...s[0]!.entries.map((e) => e.line))), LIMITS);
    expect(seen).toEqual(['from the wire']);
    await expect(applyPushHooks('t', parsed(), hooksOf(() => [{ labels: { app: 'x' }, entries: [{ ts: 1, line: 'n' } as never] }]), LIMITS)).rejects.toMatchObject({ code: 'SILT_PLUGIN_FAILED' });
  });

  it('pushSize counts lines bytes from wire lengths, runs, or the lines', () => {
    expect(pushSize(parsed())).toMatchObject({ entries: 3, bytes: 11 });
    const p = parsed();
    delete p.lineBytes;
    p.streams[0]!.entries[0]!.line = 'é';
    expect(pushSize(p)).toMatchObject({ entries: 3, bytes: 2 + 3 + 5 });
  });
});
