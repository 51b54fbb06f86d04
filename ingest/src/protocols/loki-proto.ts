/**
 * Loki's push protobuf (`logproto.PushRequest`, field numbers of Loki's `pkg/push/push.proto`) as
 * protobufjs schemas, twice: once with the text fields (labels, lines, structured metadata) as
 * `string`, which the parser decodes with (through proto-reader.ts's strict reader, so invalid
 * UTF-8 is refused rather than turned into U+FFFD), and once with them as `bytes`, the same wire
 * type, which encodes any bytes (what clients that send invalid UTF-8 put on the wire). Fields Loki
 * reserves for itself (PushRequest.format, EntryAdapter.parsed) are left out: protobufjs skips them.
 */
import protobuf from 'protobufjs';

function schema(text: 'string' | 'bytes'): string {
  return `
syntax = "proto3";
package logproto;

message PushRequest {
  repeated StreamAdapter streams = 1;
}

message StreamAdapter {
  ${text} labels = 1;
  repeated EntryAdapter entries = 2;
  uint64 hash = 3;
}

message EntryAdapter {
  Timestamp timestamp = 1;
  ${text} line = 2;
  repeated LabelPairAdapter structuredMetadata = 3;
}

message LabelPairAdapter {
  ${text} name = 1;
  ${text} value = 2;
}

// The layout of google.protobuf.Timestamp.
message Timestamp {
  int64 seconds = 1;
  int32 nanos = 2;
}
`;
}

/** An int64 as protobufjs decodes it: a number, or a Long-like pair of 32-bit halves. */
export type Int64 = number | { low: number; high: number };

/** A decoded `logproto.PushRequest` whose text fields are `T` (decoding a Buffer yields Buffer views for `bytes`); absent fields are null, repeated ones empty. */
export interface PushRequestMessage<T> {
  streams: StreamAdapterMessage<T>[];
}

/** A decoded `logproto.StreamAdapter`. */
export interface StreamAdapterMessage<T> {
  labels: T;
  entries: EntryAdapterMessage<T>[];
}

/** A decoded `logproto.LabelPairAdapter` (one structured-metadata pair). */
export interface LabelPairMessage<T> {
  name: T;
  value: T;
}

/** A decoded `logproto.EntryAdapter`. */
export interface EntryAdapterMessage<T> {
  timestamp: { seconds: Int64; nanos: number } | null;
  line: T;
  structuredMetadata: LabelPairMessage<T>[];
}

/** `logproto.PushRequest` with text fields as `bytes` (decodes a Buffer to `PushRequestMessage<Buffer>`; encodes UTF-8 Buffers, or any bytes). */
export const PushRequest = protobuf.parse(schema('bytes'), { keepCase: true }).root.lookupType('logproto.PushRequest');

/** `logproto.PushRequest` with text fields as `string` (decodes to `PushRequestMessage<string>`; with protobufjs's own reader, invalid UTF-8 as U+FFFD). */
export const PushRequestText = protobuf.parse(schema('string'), { keepCase: true }).root.lookupType('logproto.PushRequest');
