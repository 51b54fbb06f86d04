/**
 * The OTLP logs protobuf schema (field numbers of opentelemetry-proto's
 * `collector/logs/v1/logs_service.proto`, `logs/v1/logs.proto`, `common/v1/common.proto` and
 * `resource/v1/resource.proto`) and the `google.rpc.Status` family OTLP/HTTP errors are answered
 * with, as one protobufjs root. Field names become lowerCamelCase, so a decoded request has the
 * same property names as its OTLP/JSON form and one mapper reads both.
 *
 * protobufjs would turn invalid UTF-8 in a `string` into U+FFFD: requests are decoded with
 * `decodeExportLogsRequest`, whose reader (proto-reader.ts) turns such text into INVALID_TEXT so that Silt refuses
 * the records it belongs to instead of storing altered text. Fields Silt does not map
 * (`schema_url`, `Resource.dropped_attributes_count`, `Resource.entity_refs`, and the
 * profiling-only `string_value_strindex` and `key_strindex`, which a logs receiver treats as
 * absent) are left out: protobufjs skips unknown fields.
 */
import protobuf from 'protobufjs';
import { StrictTextReader } from './proto-reader';

// Package names are not on the wire: one short package per schema keeps the lookups readable.
const LOGS_SCHEMA = `
syntax = "proto3";

package otlp;

message ExportLogsServiceRequest {
  repeated ResourceLogs resource_logs = 1;
}

message ResourceLogs {
  Resource resource = 1;
  repeated ScopeLogs scope_logs = 2;
}

message Resource {
  repeated KeyValue attributes = 1;
}

message ScopeLogs {
  InstrumentationScope scope = 1;
  repeated LogRecord log_records = 2;
}

message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}

message LogRecord {
  fixed64 time_unix_nano = 1;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  fixed64 observed_time_unix_nano = 11;
  string event_name = 12;
}

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}

message ArrayValue {
  repeated AnyValue values = 1;
}

message KeyValueList {
  repeated KeyValue values = 1;
}

message KeyValue {
  string key = 1;
  AnyValue value = 2;
}

message ExportLogsServiceResponse {
  ExportLogsPartialSuccess partial_success = 1;
}

message ExportLogsPartialSuccess {
  int64 rejected_log_records = 1;
  string error_message = 2;
}

`;

// google.rpc.Status and the error details it carries; Any and Duration have google.protobuf's layout.
const STATUS_SCHEMA = `
syntax = "proto3";

package google.rpc;

message Status {
  int32 code = 1;
  string message = 2;
  repeated Any details = 3;
}

message Any {
  string type_url = 1;
  bytes value = 2;
}

message ErrorInfo {
  string reason = 1;
  string domain = 2;
}

message RetryInfo {
  Duration retry_delay = 1;
}

message Duration {
  int64 seconds = 1;
  int32 nanos = 2;
}

message BadRequest {
  repeated FieldViolation field_violations = 1;
}

message FieldViolation {
  string field = 1;
  string description = 2;
}
`;

const root = protobuf.parse(LOGS_SCHEMA).root;
protobuf.parse(STATUS_SCHEMA, root);

/** `opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest`: the body of an OTLP/HTTP logs export. */
export const ExportLogsServiceRequest = root.lookupType('otlp.ExportLogsServiceRequest');
/** `opentelemetry.proto.resource.v1.Resource`: `otlp-wire.ts` leaves it to protobufjs (once per resource). */
export const Resource = root.lookupType('otlp.Resource');
/** `opentelemetry.proto.common.v1.InstrumentationScope`: left to protobufjs (once per scope). */
export const InstrumentationScope = root.lookupType('otlp.InstrumentationScope');
/** `opentelemetry.proto.common.v1.KeyValue`: a record's attributes are left to protobufjs. */
export const KeyValue = root.lookupType('otlp.KeyValue');
/** `opentelemetry.proto.common.v1.AnyValue`: a body other than one string is left to protobufjs. */
export const AnyValue = root.lookupType('otlp.AnyValue');
/** `ExportLogsServiceResponse`: the body of a 200 answer, with `partialSuccess` when records were rejected. */
export const ExportLogsServiceResponse = root.lookupType('otlp.ExportLogsServiceResponse');
/** `google.rpc.Status`: the body of every 4xx and 5xx answer. */
export const RpcStatus = root.lookupType('google.rpc.Status');
/** `google.rpc.ErrorInfo`: carries the `SILT_…` code of an error as its `reason`. */
export const ErrorInfo = root.lookupType('google.rpc.ErrorInfo');
/** `google.rpc.RetryInfo`: how long a client should wait, beside `Retry-After`, on 429 and 503. */
export const RetryInfo = root.lookupType('google.rpc.RetryInfo');
/** `google.rpc.BadRequest`: what was wrong with the data of a 400. */
export const BadRequest = root.lookupType('google.rpc.BadRequest');

/** Decodes an ExportLogsServiceRequest with strict text; throws (as protobufjs does) on malformed or truncated input. */
export function decodeExportLogsRequest(body: Buffer): unknown {
  return ExportLogsServiceRequest.decode(new StrictTextReader(body));
}
