/**
 * The error taxonomy of Nagare. Every error a client can cause is one of these; each carries the HTTP status
 * it maps to, and `toHttpError` is the one place where errors become HTTP answers.
 */

export type ErrorCode =
  | 'InvalidParameter'
  | 'Unauthorized'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'Conflict'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'Unavailable'
  | 'InternalError';

const statusByCode: Record<ErrorCode, number> = {
  InvalidParameter: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  TooManyRequests: 429,
  Unavailable: 503,
  InternalError: 500,
};

export class NagareError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'NagareError';
    this.code = code;
  }

  get status(): number {
    return statusByCode[this.code];
  }
}

export const invalidParameter = (message: string): NagareError =>
  new NagareError('InvalidParameter', message);
export const notFound = (message: string): NagareError => new NagareError('NotFound', message);

export interface HttpError {
  status: number;
  body: { error: { code: ErrorCode; message: string } };
  /** Set when the error is ours, not the client's: the detail belongs in the log, not in the answer. */
  cause?: unknown;
}

/** Maps any thrown value to what the client is told. A 5xx names only the request id. */
export function toHttpError(err: unknown, requestId: string): HttpError {
  if (err instanceof NagareError && err.code !== 'InternalError') {
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'InternalError', message: `internal error (request id ${requestId})` } },
    cause: err,
  };
}
