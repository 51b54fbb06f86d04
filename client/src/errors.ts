/** What the client throws: an HTTP answer that was not a success, with Silt's error body when it had one. */
export class SiltClientError extends Error {
  /** Silt's stable error code (`SILT_…`), or `SILT_HTTP_<status>` when the body had none. */
  readonly code: string;

  constructor(
    /** The HTTP status (0: no answer, e.g. a refused connection). */
    readonly status: number,
    code: string | undefined,
    message: string,
    /** The error's `details`, when Silt sent any (a bad query's `position`, …). */
    readonly details?: Record<string, unknown>,
    /** Seconds the server asked to wait (`Retry-After`). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'SiltClientError';
    this.code = code ?? `SILT_HTTP_${status}`;
  }

  /** Whether sending the same request again later may succeed (429, 503, no answer). */
  get retriable(): boolean {
    return this.status === 429 || this.status === 503 || this.status === 0;
  }
}
