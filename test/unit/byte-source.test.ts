import { isUtf8 } from 'node:buffer';
import { ByteSource } from '../../core/src/byte-source';

describe('core > byte source', () => {
  // A view at an odd offset of its memory, so ranges start and end off the word grid.
  const memory = Buffer.alloc(4099);
  const body = memory.subarray(3);
  for (let i = 0; i < body.length; i++) body[i] = 0x20 + ((i * 37) % 0x5f);
  Buffer.from('grüße ✓ 日本').copy(body, 1000);
  body[2000] = 0xc3; // a lead byte with an ASCII byte after it: invalid
  body[3000] = 0xff;

  it('checks UTF-8 of every range as isUtf8 checks a copy of it', () => {
    const source = new ByteSource(body);
    const starts = [0, 1, 2, 3, 5, 990, 995, 999, 1000, 1001, 1990, 1999, 2000, 2001, 2990, 3000, 4000];
    const lengths = [0, 1, 3, 4, 7, 15, 16, 17, 31, 64, 100, 257];
    for (const start of starts) {
      for (const length of lengths) {
        const end = Math.min(body.length, start + length);
        expect([start, end, source.isUtf8(start, end)]).toEqual([start, end, isUtf8(Buffer.from(body.subarray(start, end)))]);
      }
    }
  });

  it('copies a range to where it is told, and nothing around it', () => {
    const source = new ByteSource(body);
    const dst = Buffer.alloc(64, 0xee);
    source.copyTo(dst, 5, 997, 1030);
    expect(dst.subarray(5, 38)).toEqual(body.subarray(997, 1030));
    expect([dst[4], dst[38]]).toEqual([0xee, 0xee]);
  });
});
