/**
 * The error catalogue of every Silt service: typed classes, each with a stable code, an HTTP status,
 * a retriable flag and, for every 429 and 503, the `Retry-After` a client should honour. Match on
 * `code`, never on the message.
 */

/** `Retry-After` of a 429 or 503 whose thrower named none. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** Base class of every error Silt raises on purpose; match on `code`, never on the message. */
export class SiltError extends Error {
  /** Stable machine-readable code, always prefixed `SILT_`. */
  readonly code: string;
  /** HTTP status the error maps to when it reaches a client. */
  readonly status: number;
  /** True when repeating the same operation later may succeed. */
  readonly retriable: boolean;
  /** Structured context for the client (which field, which entry). */
  readonly details: unknown;
  /** Seconds a client should wait before retrying, sent as `Retry-After`; every 429 and 503 has one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: string, status: number, retriable: boolean, message: string, details?: unknown, retryAfterSeconds?: number) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.retriable = retriable;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds ?? (status === 429 || status === 503 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
  }

  /** The JSON body of the HTTP contract: `{"error":{"code","message","details"}}`. */
  toBody(): { error: { code: string; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** A request the client must fix before retrying (400). */
export class BadRequestError extends SiltError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, 400, false, message, details);
  }
}

/** The request body (as sent, or once decompressed) exceeds a configured limit (413). */
export class PayloadTooLargeError extends SiltError {
  constructor(message: string, details?: unknown) {
    super('SILT_PAYLOAD_TOO_LARGE', 413, false, message, details);
  }
}

/** A content type or content encoding Silt does not accept on this route (415). */
export class UnsupportedMediaTypeError extends SiltError {
  constructor(code: 'SILT_UNSUPPORTED_CONTENT_TYPE' | 'SILT_UNSUPPORTED_ENCODING', message: string, details?: unknown) {
    super(code, 415, false, message, details);
  }
}

/** Kafka did not acknowledge in time or is unreachable, or the service cannot take work now (503, retriable, with `Retry-After`). */
export class UnavailableError extends SiltError {
  declare readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number, details?: unknown, code = 'SILT_KAFKA_UNAVAILABLE') {
    super(code, 503, true, message, details, retryAfterSeconds);
  }
}

/** The request carries no valid credentials where auth is on (401). */
export class UnauthorizedError extends SiltError {
  constructor(message: string) {
    super('SILT_UNAUTHORIZED', 401, false, message);
  }
}

/** The request's key is valid but lacks the scope, or the tenant, it asks for (403). */
export class ForbiddenError extends SiltError {
  constructor(code: 'SILT_SCOPE_FORBIDDEN' | 'SILT_TENANT_FORBIDDEN', message: string, details?: unknown) {
    super(code, 403, false, message, details);
  }
}

/** The client asked for more than a limit allows right now (429); `Retry-After` says when to try again. */
export class TooManyRequestsError extends SiltError {
  declare readonly retryAfterSeconds: number;

  constructor(code: string, message: string, retryAfterSeconds: number, details?: unknown) {
    super(code, 429, true, message, details, retryAfterSeconds);
  }
}

/** A segment dump from a peer could not be taken in: truncated, corrupted (checksum) or not a dump of the segment asked for. Retriable: another copy may be whole. */
export class DumpFormatError extends SiltError {
  constructor(code: 'SILT_DUMP_TRUNCATED' | 'SILT_DUMP_CHECKSUM' | 'SILT_DUMP_FORMAT', message: string, details?: unknown) {
    super(code, 502, true, message, details);
  }
}

/** A peer storage node could not be asked, or answered with an error. */
export class PeerError extends SiltError {
  constructor(message: string, details?: unknown) {
    super('SILT_PEER_FAILED', 502, true, message, details);
  }
}

/** A block could not be decoded: truncated, corrupted, or of an unknown version. */
export class BlockFormatError extends SiltError {
  constructor(
    code: 'SILT_BLOCK_TRUNCATED' | 'SILT_BLOCK_CORRUPT' | 'SILT_BLOCK_CHECKSUM' | 'SILT_BLOCK_VERSION' | 'SILT_BLOCK_MAGIC',
    message: string,
    details?: unknown,
  ) {
    super(code, 422, false, message, details);
  }
}

/** The configuration is invalid; the message names the bad key. */
export class ConfigError extends SiltError {
  constructor(message: string, details?: unknown) {
    super('SILT_CONFIG_INVALID', 500, false, message, details);
  }
}

/** Kafka topics exist with a layout that differs from the configuration. */
export class TopicMismatchError extends SiltError {
  constructor(message: string, details?: unknown) {
    super('SILT_TOPIC_MISMATCH', 500, false, message, details);
  }
}
