import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets } from '../../core/src/write-token';

describe('core > write token', () => {
  it('round-trips partition offsets, including large ones', () => {
    const offsets = new Map([
      [0, 0n],
      [7, 123456789n],
      [3, 2n ** 62n],
    ]);
    const token = encodeWriteToken(offsets);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeWriteToken(token)).toEqual(offsets);
    expect(decodeWriteToken(encodeWriteToken(new Map()))).toEqual(new Map());
  });

  it.each(['', '!!', 'AA', Buffer.from([1, 0x80]).toString('base64url')])('rejects the malformed token %j', (token) => {
    expect(() => decodeWriteToken(token)).toThrow(expect.objectContaining({ code: 'SILT_BAD_TOKEN' }));
  });

  it('merges keeping the higher offset', () => {
    const a = new Map([[1, 5n]]);
    mergeWriteOffsets(a, new Map([[1, 3n], [2, 9n]]));
    expect(a).toEqual(new Map([[1, 5n], [2, 9n]]));
  });
});
