/**
 * The one error type. Every failure that crosses a boundary is a FleetError with a
 * stable code; `retryable` decides whether a Pub/Sub handler throws (redelivery) or
 * logs and acks (poison), and `httpStatus` what the API answers.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { httpStatus: 400, retryable: false },
  UNAUTHENTICATED: { httpStatus: 401, retryable: false },
  PERMISSION_DENIED: { httpStatus: 403, retryable: false },
  NOT_FOUND: { httpStatus: 404, retryable: false },
  CONFLICT: { httpStatus: 409, retryable: false },
  FAILED_PRECONDITION: { httpStatus: 409, retryable: false },
  /** A create-only write found the object already there (blob exports are never rewritten). */
  ALREADY_EXISTS: { httpStatus: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retryable: false },
  ABORTED: { httpStatus: 409, retryable: true },
  UNAVAILABLE: { httpStatus: 503, retryable: true },
  DEADLINE_EXCEEDED: { httpStatus: 504, retryable: true },
  INTERNAL: { httpStatus: 500, retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One field that failed validation, with its path as zod reports it (`spec.topology.grid.cols`). */
export interface FieldIssue {
  path: string;
  message: string;
}

export interface FleetErrorOptions {
  retryable?: boolean;
  issues?: FieldIssue[];
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class FleetError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly issues: FieldIssue[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: FleetErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FleetError';
    this.code = code;
    this.retryable = opts.retryable ?? ERROR_CODES[code].retryable;
    this.issues = opts.issues ?? [];
    this.details = opts.details ?? {};
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  /** The JSON body the API answers with; ffctl prints the same fields. */
  toJSON(): {
    error: {
      code: ErrorCode;
      message: string;
      retryable: boolean;
      issues?: FieldIssue[];
      details?: Record<string, unknown>;
    };
  } {
    return {
      error: {
        code: this.code,
        message: this.message,
        retryable: this.retryable,
        ...(this.issues.length > 0 ? { issues: this.issues } : {}),
        ...(Object.keys(this.details).length > 0 ? { details: this.details } : {}),
      },
    };
  }
}

export function isFleetError(err: unknown): err is FleetError {
  return err instanceof FleetError;
}

/** Wraps anything thrown into a FleetError; unknown errors are retryable INTERNAL-as-UNAVAILABLE only when asked. */
export function toFleetError(err: unknown, fallback: ErrorCode = 'INTERNAL'): FleetError {
  if (err instanceof FleetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FleetError(fallback, message, { cause: err });
}
