import { createHash } from 'node:crypto';
import { streamId } from '../../core/src/labels';

/** The documented rule, computed afresh: SHA-256 of tenant NUL (name NUL value NUL)… in name order, first 8 bytes big-endian. */
function documentedId(tenant: string, labels: Record<string, string>): bigint {
  const text = tenant + '\0' + Object.keys(labels).sort().map((k) => `${k}\0${labels[k]}\0`).join('');
  return createHash('sha256').update(text).digest().readBigUInt64BE(0);
}

describe('core > labels > stream id', () => {
  it('is the documented hash whatever the label order, first time and from the cache', () => {
    const a = { pod: 'p-1', app: 'api', ns: 'ünïcode' };
    const b = { ns: 'ünïcode', app: 'api', pod: 'p-1' };
    expect(streamId('acme', a)).toBe(documentedId('acme', a));
    expect(streamId('acme', b)).toBe(documentedId('acme', a));
    expect(streamId('acme2', a)).toBe(documentedId('acme2', a));
  });

  it('stays right for label sets pushed out of the cache by many others', () => {
    const first = { app: 'first' };
    const id = streamId('t', first);
    for (let i = 0; i < 20_000; i++) expect(streamId('t', { app: `a${i}` })).toBe(i % 997 === 0 ? documentedId('t', { app: `a${i}` }) : streamId('t', { app: `a${i}` }));
    expect(streamId('t', first)).toBe(id);
    expect(streamId('t', { app: 'a3' })).toBe(documentedId('t', { app: 'a3' }));
  });

  it('keeps apart sets whose texts would run together without separators', () => {
    expect(streamId('t', { a: 'bc' })).not.toBe(streamId('t', { ab: 'c' }));
    expect(streamId('ta', { b: 'c' })).not.toBe(streamId('t', { ab: 'c' }));
  });
});
