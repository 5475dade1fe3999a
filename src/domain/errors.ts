/**
 * Every error the HTTP API can answer with: its status, the message clients see, and the stable snake_case
 * `code` that v1 answers carry (`{"error", "code", "details"?}`, the codes of the v1 contract). The original API
 * answers `{"error"}` alone, and its two messages ("Invalid task data", "Task not found") are kept verbatim.
 * docs/errors.md lists the same table and a test keeps the two in step.
 */
export const API_ERRORS = {
  INVALID_TASK_DATA: { status: 400, message: 'Invalid task data', code: 'invalid_request' },
  BODY_TOO_LARGE: { status: 413, message: 'Invalid task data', code: 'payload_too_large' },
  INVALID_TASK_ID: { status: 400, message: 'Invalid task_id: expected a UUID', code: 'invalid_request' },
  TASK_NOT_FOUND: { status: 404, message: 'Task not found', code: 'task_not_found' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid bearer token', code: 'unauthorized' },
  RATE_LIMITED: { status: 429, message: 'Too many requests', code: 'rate_limited' },
  NOT_FOUND: { status: 404, message: 'Not found', code: 'not_found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed', code: 'method_not_allowed' },
  BAD_REQUEST: { status: 400, message: 'Bad request', code: 'invalid_request' },
  INVALID_REQUEST: { status: 400, message: 'Invalid request', code: 'invalid_request' },
  UNKNOWN_KIND: { status: 400, message: 'Unknown kind', code: 'unknown_kind' },
  INVALID_INPUT: { status: 400, message: "Input does not match the kind's schema", code: 'invalid_input' },
  REQUEST_TOO_LARGE: { status: 413, message: 'Request body too large', code: 'payload_too_large' },
  TASK_FINISHED: { status: 409, message: 'Task already finished', code: 'task_finished' },
  TASK_NOT_RETRYABLE: {
    status: 409,
    message: 'Only a failed or cancelled task can be retried',
    code: 'task_not_retryable',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    message: 'Idempotency key in use by a request still in flight',
    code: 'idempotency_key_in_use',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'Idempotency key already used with another request',
    code: 'idempotency_key_reused',
  },
  LEASE_LOST: { status: 409, message: 'Lease lost: stop working on this task', code: 'lease_lost' },
  QUEUE_NOT_FOUND: { status: 404, message: 'Queue not found', code: 'queue_not_found' },
  SCHEDULE_NOT_FOUND: { status: 404, message: 'Schedule not found', code: 'schedule_not_found' },
  REQUEST_TIMEOUT: { status: 408, message: 'Request timeout', code: 'request_timeout' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers too large', code: 'headers_too_large' },
  SHUTTING_DOWN: { status: 503, message: 'Service is shutting down', code: 'shutting_down' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    message: 'Service unavailable: database unreachable',
    code: 'database_unavailable',
  },
  NOT_READY: { status: 503, message: 'Service unavailable: not ready', code: 'not_ready' },
  INTERNAL: { status: 500, message: 'Internal error', code: 'internal' },
} as const satisfies Record<string, { status: number; message: string; code: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  /**
   * @param detail said to the client besides the message (never internals): why a process is not ready, say
   * @param details for v1 answers: where a request is wrong (a validation error's path and message)
   */
  constructor(
    readonly code: ApiErrorCode,
    readonly detail?: string,
    readonly details?: unknown,
  ) {
    super(API_ERRORS[code].message);
    this.status = API_ERRORS[code].status;
  }
}
