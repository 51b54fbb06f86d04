import { ByteSource } from '../../core/src/byte-source';

describe('core > byte source', () => {
  // A view at an odd offset of its memory, so that a range's place in the memory differs from its place in the body.
  const memory = Buffer.alloc(4099);
  const body = memory.subarray(3);
  for (let i = 0; i < body.length; i++) body[i] = 0x20 + ((i * 37) % 0x5f);

  it('gives a range of the body as a view of the same bytes, not a copy', () => {
    const source = new ByteSource(body);
    const range = source.range(997, 1030);
    expect(Buffer.from(range)).toEqual(body.subarray(997, 1030));
    expect([range.buffer, range.byteOffset]).toEqual([memory.buffer, memory.byteOffset + 3 + 997]);
    expect(source.range(5, 5).length).toBe(0);
  });
});
