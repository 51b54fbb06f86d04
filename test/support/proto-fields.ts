/**
 * Protobuf written field by field with protobufjs's Writer, by field numbers the test states
 * (opentelemetry-proto's, for the OTLP tests): independent of the schema under test, so a wrong
 * number there fails a test instead of round-tripping.
 */
import protobuf from 'protobufjs';

/** One field, written to a Writer. */
export type Field = (w: protobuf.Writer) => void;

/** A length-delimited field: a string (UTF-8) or bytes. */
export const len = (n: number, v: string | Uint8Array): Field => (w) => {
  w.uint32((n << 3) | 2);
  if (typeof v === 'string') w.string(v);
  else w.bytes(v);
};
/** A nested message of the given fields. */
export const sub = (n: number, ...fields: Field[]): Field => (w) => {
  w.uint32((n << 3) | 2).fork();
  for (const f of fields) f(w);
  w.ldelim();
};
/** A varint field (int64 encoding, so negative numbers take ten bytes as protobuf says). */
export const varint = (n: number, v: number | string): Field => (w) => w.uint32(n << 3).int64(v);
/** A fixed64 field. */
export const fixed64 = (n: number, v: bigint): Field => (w) => w.uint32((n << 3) | 1).fixed64(v.toString());
/** A fixed32 field. */
export const fixed32 = (n: number, v: number): Field => (w) => w.uint32((n << 3) | 5).fixed32(v);
/** A double field. */
export const double = (n: number, v: number): Field => (w) => w.uint32((n << 3) | 1).double(v);

/** The bytes of a message made of `fields`. */
export function wire(...fields: Field[]): Buffer {
  const w = protobuf.Writer.create();
  for (const f of fields) f(w);
  return Buffer.from(w.finish());
}

function outcome(read: (body: Buffer) => unknown[], body: Buffer): { threw: boolean; seen?: unknown[] } {
  try {
    return { threw: false, seen: read(body) };
  } catch {
    return { threw: true };
  }
}

/**
 * Checks a protobuf walk against protobufjs's whole decode over every cut and one-byte corruption
 * of `body`: the walk reads what the decode reads and throws wherever it throws (it may refuse
 * more, never less); and enough variants are read for the check to mean something.
 */
export function expectWalkReadsAsDecode(body: Buffer, decoded: (body: Buffer) => unknown[], walked: (body: Buffer) => unknown[]): void {
  const variants: Buffer[] = [];
  for (let cut = 0; cut < body.length; cut++) variants.push(body.subarray(0, cut));
  for (let at = 0; at < body.length; at++) {
    for (const value of [0x00, 0x01, 0x7f, 0x80, 0xff, body[at]! ^ 0x07, body[at]! ^ 0x80]) {
      const copy = Buffer.from(body);
      copy[at] = value;
      variants.push(copy);
    }
  }
  let read = 0;
  for (const variant of variants) {
    const expected = outcome(decoded, variant);
    const got = outcome(walked, variant);
    if (expected.threw) expect([variant.toString('hex'), got.threw]).toEqual([variant.toString('hex'), true]);
    else if (!got.threw) {
      expect(got.seen).toEqual(expected.seen);
      read++;
    }
  }
  expect(read).toBeGreaterThan(variants.length / 4);
}
