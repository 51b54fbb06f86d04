/**
 * Answers of the OTLP/HTTP logs routes, in the encoding of the request as the OTLP/HTTP
 * specification requires: an `ExportLogsServiceResponse` on 200 (with `partial_success` when
 * records were rejected) and a `google.rpc.Status` on every error. The Status carries the Silt code
 * as an `ErrorInfo` reason (domain "silt"), a `RetryInfo` on 429 and 503, and a `BadRequest` on 400.
 */
import type { SiltError } from '../../../core/src/errors';
import type { Rejection } from '../push/builder';
import type { OtlpEncoding } from './otlp';
import { BadRequest, ErrorInfo, ExportLogsServiceResponse, RetryInfo, RpcStatus } from './otlp-proto';

/** The `Content-Type` of an answer in `encoding`. */
export function contentTypeOf(encoding: OtlpEncoding): string {
  return encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json';
}

/** The encoding to answer an error in: protobuf for a protobuf request, JSON for anything else (as the Collector does when it cannot tell). */
export function errorEncoding(contentType: string | string[] | undefined): OtlpEncoding {
  const raw = Array.isArray(contentType) ? contentType[0] : contentType;
  const type = (raw ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/x-protobuf' ? 'protobuf' : 'json';
}

/** At most this many characters of one reason go into `error_message`: the answer stays small (the spec bounds it at 4 MiB). */
const MAX_REASON_CHARS = 300;

/** A human-readable `error_message`: how many were rejected, then per code how many and the first one's place and reason. */
function rejectionSummary(rejected: readonly Rejection[], total: number): string {
  const byCode = new Map<string, { count: number; first: Rejection }>();
  for (const r of rejected) {
    const seen = byCode.get(r.code);
    if (seen === undefined) byCode.set(r.code, { count: 1, first: r });
    else seen.count++;
  }
  const parts: string[] = [];
  for (const [code, { count, first }] of byCode) {
    const reason = first.reason.length > MAX_REASON_CHARS ? first.reason.slice(0, MAX_REASON_CHARS) + '…' : first.reason;
    parts.push(`${count} ${code} (first: resourceLogs[${first.stream}] log record ${first.entry}: ${reason})`);
  }
  return `${rejected.length} of ${total} log records rejected: ${parts.join('; ')}`;
}

/**
 * The body of a 200: empty (full success) or with `partial_success` counting the rejected records
 * of `total`. Bodies are Buffers in both encodings: fastify would add `; charset=utf-8` to a string's
 * JSON type, and the Collector only reads a partial success whose type is exactly `application/json`.
 */
export function exportResponse(encoding: OtlpEncoding, rejected: readonly Rejection[], total: number): Buffer {
  if (rejected.length === 0) return encoding === 'protobuf' ? Buffer.alloc(0) : Buffer.from('{}');
  const partialSuccess = { rejectedLogRecords: rejected.length, errorMessage: rejectionSummary(rejected, total) };
  if (encoding === 'protobuf') return Buffer.from(ExportLogsServiceResponse.encode({ partialSuccess }).finish());
  // proto3 JSON writes int64 as a decimal string.
  return Buffer.from(JSON.stringify({ partialSuccess: { rejectedLogRecords: String(partialSuccess.rejectedLogRecords), errorMessage: partialSuccess.errorMessage } }));
}

/** gRPC code for an HTTP status, as the OpenTelemetry Collector maps them (UNKNOWN for the rest). */
function grpcCode(status: number): number {
  switch (status) {
    case 400:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

const TYPE_PREFIX = 'type.googleapis.com/google.rpc.';

/** The field a SiltError's details name, if any. */
function fieldOf(err: SiltError): string {
  const details = err.details as { field?: unknown } | undefined;
  return typeof details?.field === 'string' ? details.field : '';
}

/** The body of an error answer: a `google.rpc.Status` for `err` (a Buffer, as `exportResponse`). */
export function statusResponse(encoding: OtlpEncoding, err: SiltError): Buffer {
  const errorInfo = { reason: err.code, domain: 'silt' };
  const retryDelay = err.retryAfterSeconds === undefined ? undefined : { seconds: err.retryAfterSeconds };
  const violation = err.status === 400 ? { field: fieldOf(err), description: err.message } : undefined;
  if (encoding === 'json') {
    const details: Record<string, unknown>[] = [{ '@type': TYPE_PREFIX + 'ErrorInfo', ...errorInfo }];
    if (retryDelay !== undefined) details.push({ '@type': TYPE_PREFIX + 'RetryInfo', retryDelay: `${retryDelay.seconds}s` });
    if (violation !== undefined) {
      details.push({ '@type': TYPE_PREFIX + 'BadRequest', fieldViolations: [violation.field === '' ? { description: violation.description } : violation] });
    }
    return Buffer.from(JSON.stringify({ code: grpcCode(err.status), message: err.message, details }));
  }
  const details = [{ typeUrl: TYPE_PREFIX + 'ErrorInfo', value: ErrorInfo.encode(errorInfo).finish() }];
  if (retryDelay !== undefined) details.push({ typeUrl: TYPE_PREFIX + 'RetryInfo', value: RetryInfo.encode({ retryDelay }).finish() });
  if (violation !== undefined) details.push({ typeUrl: TYPE_PREFIX + 'BadRequest', value: BadRequest.encode({ fieldViolations: [violation] }).finish() });
  return Buffer.from(RpcStatus.encode({ code: grpcCode(err.status), message: err.message, details }).finish());
}
