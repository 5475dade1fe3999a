/**
 * Every error the HTTP API can answer with: a stable code, its status, and the message clients see. The
 * original API's two messages ("Invalid task data", "Task not found") are kept verbatim. docs/errors.md lists
 * the same table and a test keeps the two in step.
 */
export const API_ERRORS = {
  INVALID_TASK_DATA: { status: 400, message: 'Invalid task data' },
  BODY_TOO_LARGE: { status: 413, message: 'Invalid task data' },
  INVALID_TASK_ID: { status: 400, message: 'Invalid task_id: expected a UUID' },
  TASK_NOT_FOUND: { status: 404, message: 'Task not found' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid bearer token' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  REQUEST_TIMEOUT: { status: 408, message: 'Request timeout' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers too large' },
  SHUTTING_DOWN: { status: 503, message: 'Service is shutting down' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'Service unavailable: database unreachable' },
  NOT_READY: { status: 503, message: 'Service unavailable: not ready' },
  INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  /** @param detail said to the client besides the message (never internals): why a process is not ready, say */
  constructor(
    readonly code: ApiErrorCode,
    readonly detail?: string,
  ) {
    super(API_ERRORS[code].message);
    this.status = API_ERRORS[code].status;
  }
}
