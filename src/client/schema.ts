/**
 * The types of the taskd HTTP API, generated from its OpenAPI document by `npm run generate:client`.
 * Do not edit: a test fails when this file and the served document disagree.
 */
export interface paths {
  '/openapi.json': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** This document */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description OpenAPI 3.1 */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/task/create': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Create a task (original API)
     * @description The task runs with the DEFAULT_HANDLER kind. Every answer carries `X-Request-Id`; errors are `{"error"}` alone.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /** @description At most MAX_TASK_LENGTH characters, no NUL. */
            task: string;
          };
        };
      };
      responses: {
        /** @description Default Response */
        201: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              task_id: string;
              /** @enum {string} */
              status: 'success';
            };
          };
        };
        /** @description `{"error": "Invalid task data"}` */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Invalid task data';
            };
          };
        };
        /** @description `{"error": "Missing or invalid bearer token"}` */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Missing or invalid bearer token';
            };
          };
        };
        /** @description `{"error": "Invalid task data"}` */
        413: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Invalid task data';
            };
          };
        };
        /** @description `{"error": "Too many requests"}` */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Too many requests';
            };
          };
        };
        /** @description Shutting down, or the database cannot be reached. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {unknown} */
              error: 'Service is shutting down' | 'Service unavailable: database unreachable';
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/task/check-result': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Read a task (original API)
     * @description Answers for every task, v1 ones too. `Status`: queued, scheduled, running → `in progress`; completed → `completed`; failed, cancelled → `failed`.
     */
    get: {
      parameters: {
        query: {
          task_id: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Exactly these keys, in this order. */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description The task string as posted; for a v1 task, its input (JSON text unless a string). */
              Task: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              CreatedAt: string;
              /** Format: uuid */
              Task_identification: string;
              /** @description Empty until the task ends; then its result, or what went wrong. */
              Result: string;
              /** @enum {unknown} */
              Status: 'in progress' | 'completed' | 'failed';
            };
          };
        };
        /** @description `{"error": "Invalid task_id: expected a UUID"}` */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Invalid task_id: expected a UUID';
            };
          };
        };
        /** @description `{"error": "Missing or invalid bearer token"}` */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Missing or invalid bearer token';
            };
          };
        };
        /** @description `{"error": "Task not found"}` */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Task not found';
            };
          };
        };
        /** @description `{"error": "Too many requests"}` */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              error: 'Too many requests';
            };
          };
        };
        /** @description Shutting down, or the database cannot be reached. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {unknown} */
              error: 'Service is shutting down' | 'Service unavailable: database unreachable';
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List tasks, newest first
     * @description `state` may be repeated. Pass `next_cursor` of one page as `cursor` to get the next; it is null on the last page.
     */
    get: {
      parameters: {
        query?: {
          state?: ('scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled')[];
          kind?: string;
          queue?: string;
          limit?: number;
          cursor?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              tasks: {
                /** Format: uuid */
                id: string;
                kind: string;
                queue: string;
                /** @enum {unknown} */
                state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
                input: unknown;
                result: unknown;
                error: null | {
                  /** @enum {unknown} */
                  type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                  message: string;
                };
                priority: number;
                attempt: number;
                max_attempts: number;
                timeout_ms: number;
                progress: null | {
                  percent: null | number;
                  message: null | string;
                  /**
                   * Format: date-time
                   * @description RFC 3339, UTC, microseconds
                   */
                  updated_at: string;
                };
                idempotency_key: null | string;
                callback_url: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                created_at: string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                run_at: string;
                started_at: null | string;
                finished_at: null | string;
              }[];
              next_cursor: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    /**
     * Create a task
     * @description With an idempotency key (the `Idempotency-Key` header or `idempotency_key`), a repeat of the same body answers 200 with the original task and `Idempotent-Replayed: true`; another body under the same key is refused (422). `?wait=S` answers once the task is terminal or S seconds have passed.
     */
    post: {
      parameters: {
        query?: {
          /** @description Seconds to wait for a terminal state. */
          wait?: number;
        };
        header?: {
          'idempotency-key'?: string;
        };
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            kind: string;
            /** @description Any JSON value, handed to the handler as it is. */
            input?: unknown;
            queue?: string;
            /** @description Higher runs first. */
            priority?: number;
            /**
             * Format: date-time
             * @description RFC 3339, UTC, microseconds
             */
            run_at?: string;
            delay_ms?: number;
            timeout_ms?: number;
            max_attempts?: number;
            /** @description This task's backoff between retries: a random wait up to min(max_ms, base_ms · 2^(n-1)) before the n-th retry. Unset: RETRY_BACKOFF_BASE_MS, RETRY_BACKOFF_MAX_MS. */
            backoff?: {
              base_ms?: number;
              max_ms?: number;
            };
            /** Format: uri */
            callback_url?: string;
            idempotency_key?: string;
          };
        };
      };
      responses: {
        /** @description A replay of an earlier create with the same key and body. */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description Created; `Location` is its URL. */
        201: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. `unknown_kind`: No handler is registered for `kind`; `details.known` lists the kinds there are. `invalid_input`: `input` fails the kind's input schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request' | 'unknown_kind' | 'invalid_input';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `idempotency_key_in_use`: A request with the same idempotency key is still in flight. */
        409: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'idempotency_key_in_use';
              request_id?: string;
            };
          };
        };
        /** @description `payload_too_large`: The body is larger than BODY_LIMIT_BYTES. */
        413: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'payload_too_large';
              request_id?: string;
            };
          };
        };
        /** @description `idempotency_key_reused`: The idempotency key was used before with another body. */
        422: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'idempotency_key_reused';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/batch': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Create up to 1,000 tasks, all or none
     * @description The answer lists the tasks in the order of the request.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            tasks: {
              kind: string;
              /** @description Any JSON value, handed to the handler as it is. */
              input?: unknown;
              queue?: string;
              /** @description Higher runs first. */
              priority?: number;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at?: string;
              delay_ms?: number;
              timeout_ms?: number;
              max_attempts?: number;
              /** @description This task's backoff between retries: a random wait up to min(max_ms, base_ms · 2^(n-1)) before the n-th retry. Unset: RETRY_BACKOFF_BASE_MS, RETRY_BACKOFF_MAX_MS. */
              backoff?: {
                base_ms?: number;
                max_ms?: number;
              };
              /** Format: uri */
              callback_url?: string;
              idempotency_key?: string;
            }[];
          };
        };
      };
      responses: {
        /** @description Default Response */
        201: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              tasks: {
                /** Format: uuid */
                id: string;
                kind: string;
                queue: string;
                /** @enum {unknown} */
                state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
                input: unknown;
                result: unknown;
                error: null | {
                  /** @enum {unknown} */
                  type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                  message: string;
                };
                priority: number;
                attempt: number;
                max_attempts: number;
                timeout_ms: number;
                progress: null | {
                  percent: null | number;
                  message: null | string;
                  /**
                   * Format: date-time
                   * @description RFC 3339, UTC, microseconds
                   */
                  updated_at: string;
                };
                idempotency_key: null | string;
                callback_url: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                created_at: string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                run_at: string;
                started_at: null | string;
                finished_at: null | string;
              }[];
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. `unknown_kind`: No handler is registered for `kind`; `details.known` lists the kinds there are. `invalid_input`: `input` fails the kind's input schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request' | 'unknown_kind' | 'invalid_input';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `payload_too_large`: The body is larger than BODY_LIMIT_BYTES. */
        413: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'payload_too_large';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Read a task
     * @description `?wait=S` long-polls: the answer comes once the task is terminal or S seconds have passed.
     */
    get: {
      parameters: {
        query?: {
          /** @description Seconds to wait for a terminal state. */
          wait?: number;
        };
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/attempts': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The runs of a task */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              attempts: {
                attempt: number;
                worker_id: null | string;
                started_at: null | string;
                finished_at: null | string;
                outcome: string;
                error: null | {
                  /** @enum {unknown} */
                  type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                  message: string;
                };
              }[];
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/cancel': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Cancel a task that has not ended
     * @description A queued or scheduled task is cancelled at once; a running one is cancelled, its handler is told to stop, and a result it sends late is discarded.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `task_finished`: The task has already reached a terminal state. */
        409: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_finished';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/retry': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Queue a failed or cancelled task again
     * @description `attempt` keeps counting; the task may run `max_attempts` more times.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_retryable`: Only a failed or cancelled task can be retried. */
        409: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_retryable';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/queues': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Every queue
     * @description With its counts of tasks by state and the age of its oldest queued task.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              queues: {
                name: string;
                paused: boolean;
                concurrency: null | number;
                counts: {
                  [key: string]: number;
                };
                oldest_queued_age_ms: null | number;
              }[];
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/queues/{name}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** One queue */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          name: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              name: string;
              paused: boolean;
              concurrency: null | number;
              counts: {
                [key: string]: number;
              };
              oldest_queued_age_ms: null | number;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `queue_not_found`: No queue has this name. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'queue_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    /**
     * Pause, resume or limit a queue
     * @description `concurrency` bounds the running tasks of the queue across all instances together; null lifts it.
     */
    patch: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          name: string;
        };
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            paused?: boolean;
            concurrency?: number | null;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              name: string;
              paused: boolean;
              concurrency: null | number;
              counts: {
                [key: string]: number;
              };
              oldest_queued_age_ms: null | number;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    trace?: never;
  };
  '/v1/kinds': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Every kind this service knows */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              kinds: {
                name: string;
                source: string;
                defaults: unknown;
                input_schema: unknown;
              }[];
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/deliveries': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * The completion webhooks of a task
     * @description One delivery per terminal state the task reached with a `callback_url` (a retried task can reach more than one), oldest first, each with every attempt it had. A `pending` delivery is tried again at `next_attempt_at`.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              deliveries: {
                /**
                 * Format: uuid
                 * @description The `webhook-id` header of every attempt of this delivery.
                 */
                webhook_id: string;
                /** @enum {unknown} */
                type: 'task.completed' | 'task.failed' | 'task.cancelled';
                url: string;
                /** @description Attempts started so far. */
                attempt: number;
                /** @enum {unknown} */
                status: 'pending' | 'delivered' | 'failed';
                response_status: null | number;
                error: null | string;
                next_attempt_at: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                created_at: string;
                delivered_at: null | string;
                /** @description Every attempt that ended, oldest first. */
                attempts: {
                  attempt: number;
                  /**
                   * Format: date-time
                   * @description RFC 3339, UTC, microseconds
                   */
                  started_at: string;
                  /**
                   * Format: date-time
                   * @description RFC 3339, UTC, microseconds
                   */
                  finished_at: string;
                  response_status: null | number;
                  error: null | string;
                }[];
              }[];
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/schedules': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Every schedule
     * @description By name, each with its next ticks.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              schedules: {
                name: string;
                cron: string;
                timezone: string;
                task: unknown;
                paused: boolean;
                next_run_at: null | string;
                /** @description The next 5 ticks; none while paused. */
                next_runs: string[];
                last_run_at: null | string;
                last_task_id: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                created_at: string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              }[];
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/schedules/{name}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** One schedule */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          name: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              name: string;
              cron: string;
              timezone: string;
              task: unknown;
              paused: boolean;
              next_run_at: null | string;
              /** @description The next 5 ticks; none while paused. */
              next_runs: string[];
              last_run_at: null | string;
              last_task_id: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              updated_at: string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `schedule_not_found`: No schedule has this name. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'schedule_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    /**
     * Create or replace a schedule
     * @description Each tick of `cron` (read in `timezone`) creates one task from `task`, whose idempotency key is `schedule:<name>:<tick>`. The next tick is counted from now; `paused: true` stops the ticks and `paused: false` resumes them, without catching up.
     */
    put: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          name: string;
        };
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /** @description 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds field. */
            cron: string;
            /** @description IANA time zone the cron is read in; UTC by default. */
            timezone?: string;
            /** @description A create body of POST /v1/tasks, without `run_at` and `idempotency_key`. */
            task: {
              kind: string;
              /** @description Any JSON value, handed to the handler as it is. */
              input?: unknown;
              queue?: string;
              /** @description Higher runs first. */
              priority?: number;
              delay_ms?: number;
              timeout_ms?: number;
              max_attempts?: number;
              /** @description This task's backoff between retries: a random wait up to min(max_ms, base_ms · 2^(n-1)) before the n-th retry. Unset: RETRY_BACKOFF_BASE_MS, RETRY_BACKOFF_MAX_MS. */
              backoff?: {
                base_ms?: number;
                max_ms?: number;
              };
              /** Format: uri */
              callback_url?: string;
            };
            /** @description A paused schedule creates no tasks; false by default. */
            paused?: boolean;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              name: string;
              cron: string;
              timezone: string;
              task: unknown;
              paused: boolean;
              next_run_at: null | string;
              /** @description The next 5 ticks; none while paused. */
              next_runs: string[];
              last_run_at: null | string;
              last_task_id: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              updated_at: string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. `unknown_kind`: No handler is registered for `kind`; `details.known` lists the kinds there are. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request' | 'unknown_kind';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    post?: never;
    /**
     * Remove a schedule
     * @description Answers with the schedule as it was. The tasks it created are left as they are.
     */
    delete: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          name: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              name: string;
              cron: string;
              timezone: string;
              task: unknown;
              paused: boolean;
              next_run_at: null | string;
              /** @description The next 5 ticks; none while paused. */
              next_runs: string[];
              last_run_at: null | string;
              last_task_id: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              updated_at: string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `schedule_not_found`: No schedule has this name. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'schedule_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/workers/claim': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Claim tasks for an external worker
     * @description Leases up to `max` runnable tasks of `kinds` (each one of EXTERNAL_KINDS), best priority first, honouring paused queues and concurrency limits, and waits up to `wait_ms` for one when none is runnable. Each task comes with its lease: send its token with every heartbeat, complete and fail, and heartbeat before `expires_at`, or the run is lost (`worker_lost`, retried while attempts are left). An empty list: nothing came within the wait.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /** @description Kinds to take tasks of; each must be one of EXTERNAL_KINDS. */
            kinds: string[];
            /**
             * @description Most tasks taken.
             * @default 1
             */
            max?: number;
            /**
             * @description How long to wait for a task when none is runnable now.
             * @default 0
             */
            wait_ms?: number;
            /** @description Length of the lease from now, in ms. Unset: EXTERNAL_LEASE_MS. */
            lease_ms?: number;
            /** @description Names this worker in the task's attempts (`worker_id`). Unset: "external". */
            worker_id?: string;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              tasks: {
                /** Format: uuid */
                id: string;
                kind: string;
                queue: string;
                /** @enum {unknown} */
                state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
                input: unknown;
                result: unknown;
                error: null | {
                  /** @enum {unknown} */
                  type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                  message: string;
                };
                priority: number;
                attempt: number;
                max_attempts: number;
                timeout_ms: number;
                progress: null | {
                  percent: null | number;
                  message: null | string;
                  /**
                   * Format: date-time
                   * @description RFC 3339, UTC, microseconds
                   */
                  updated_at: string;
                };
                idempotency_key: null | string;
                callback_url: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                created_at: string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                run_at: string;
                started_at: null | string;
                finished_at: null | string;
                lease: {
                  /**
                   * Format: uuid
                   * @description Send it with every heartbeat, complete and fail.
                   */
                  token: string;
                  /**
                   * Format: date-time
                   * @description Without a heartbeat before then, the run is lost (worker_lost).
                   */
                  expires_at: string;
                };
              }[];
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/heartbeat': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Extend an external worker's lease
     * @description The lease runs `lease_ms` (or EXTERNAL_LEASE_MS) from now; `progress` is stored as a handler's would be. 409 `lease_lost`: the task was cancelled, or the lease expired: stop working on it.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /**
             * Format: uuid
             * @description The lease token the claim gave.
             */
            token: string;
            progress?: {
              percent?: number | null;
              message?: string | null;
            };
            /** @description Length of the lease from now, in ms. Unset: EXTERNAL_LEASE_MS. */
            lease_ms?: number;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              lease: {
                /**
                 * Format: uuid
                 * @description Send it with every heartbeat, complete and fail.
                 */
                token: string;
                /**
                 * Format: date-time
                 * @description Without a heartbeat before then, the run is lost (worker_lost).
                 */
                expires_at: string;
              };
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `lease_lost`: The worker's lease is gone (the task was cancelled or the lease expired): stop working on it. */
        409: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'lease_lost';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/complete': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Complete a task held by a lease
     * @description Refused with 409 `lease_lost` once the lease no longer holds the task; nothing changes then.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /**
             * Format: uuid
             * @description The lease token the claim gave.
             */
            token: string;
            /** @description Any JSON value; unset is null. */
            result?: unknown;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `lease_lost`: The worker's lease is gone (the task was cancelled or the lease expired): stop working on it. */
        409: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'lease_lost';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/{id}/fail': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Fail a task held by a lease
     * @description With `retry` true (the default) the task runs again after its backoff while it has attempts left, and fails otherwise; with false it fails now. 409 `lease_lost` as for complete.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /**
             * Format: uuid
             * @description The lease token the claim gave.
             */
            token: string;
            error: {
              message: string;
            };
            /**
             * @description True: the task runs again after its backoff while it has attempts left. False: it fails now.
             * @default true
             */
            retry?: boolean;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** Format: uuid */
              id: string;
              kind: string;
              queue: string;
              /** @enum {unknown} */
              state: 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
              input: unknown;
              result: unknown;
              error: null | {
                /** @enum {unknown} */
                type: 'error' | 'timeout' | 'shutdown' | 'worker_lost' | 'no_handler' | 'cancelled';
                message: string;
              };
              priority: number;
              attempt: number;
              max_attempts: number;
              timeout_ms: number;
              progress: null | {
                percent: null | number;
                message: null | string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                updated_at: string;
              };
              idempotency_key: null | string;
              callback_url: null | string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              created_at: string;
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              run_at: string;
              started_at: null | string;
              finished_at: null | string;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `task_not_found`: No task has this id. */
        404: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'task_not_found';
              request_id?: string;
            };
          };
        };
        /** @description `lease_lost`: The worker's lease is gone (the task was cancelled or the lease expired): stop working on it. */
        409: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'lease_lost';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/stats': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Throughput and latency of recently finished tasks
     * @description Tasks that finished within the last `window` seconds, counted by final state, with the median and 95th percentile of their pickup latency (ready to started) and run time, over the whole window and per bucket (a sixtieth of the window, at least a minute).
     */
    get: {
      parameters: {
        query?: {
          /** @description Seconds back from now: tasks that finished within them. */
          window?: number;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              window_s: number;
              /** @description Width of each bucket, seconds. */
              bucket_s: number;
              totals: {
                completed: number;
                failed: number;
                cancelled: number;
                /** @description From when the task could run (run_at) to its last start. */
                pickup_ms: {
                  p50: null | number;
                  p95: null | number;
                };
                /** @description From its last start to its end. */
                run_ms: {
                  p50: null | number;
                  p95: null | number;
                };
              };
              /** @description Oldest first; only buckets in which any task finished. */
              buckets: {
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                start: string;
                completed: number;
                failed: number;
                cancelled: number;
                /** @description From when the task could run (run_at) to its last start. */
                pickup_ms: {
                  p50: null | number;
                  p95: null | number;
                };
                /** @description From its last start to its end. */
                run_ms: {
                  p50: null | number;
                  p95: null | number;
                };
              }[];
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/workers': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * The worker processes sharing the database
     * @description Every registered instance, the tasks it runs now, and which one leads the maintenance.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              workers: {
                /** Format: uuid */
                id: string;
                host: string;
                pid: number;
                concurrency: null | number;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                started_at: string;
                /**
                 * Format: date-time
                 * @description Told from the lease: its end less LEASE_MS.
                 */
                last_heartbeat_at: string;
                /**
                 * Format: date-time
                 * @description RFC 3339, UTC, microseconds
                 */
                lease_expires_at: string;
                /** @description Tasks it runs now. */
                running: number;
                /** @description Runs the maintenance for all (reaper, promoter, retention). */
                leader: boolean;
              }[];
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/tasks/bulk': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Retry or cancel every task matching a filter
     * @description At most `limit` (≤ 1000) tasks, oldest first, in one statement: a retry queues failed and cancelled tasks again, a cancel ends the unfinished ones (running handlers are told to stop). Tasks being changed at that very moment are left out. `dry_run` only counts them.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            /** @enum {unknown} */
            action: 'retry' | 'cancel';
            filter?: {
              state?: ('scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled')[];
              kind?: string;
              queue?: string;
            };
            /** @default 1000 */
            limit?: number;
            /** @description Only count the tasks the action would touch. */
            dry_run?: boolean;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {unknown} */
              action: 'retry' | 'cancel';
              dry_run: boolean;
              /** @description Tasks retried or cancelled (with dry_run: that would be). */
              count: number;
            };
          };
        };
        /** @description `invalid_request`: The request does not match its schema; `details` says where. */
        400: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'invalid_request';
              request_id?: string;
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/stream': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Every task change, as Server-Sent Events
     * @description `event: changed` `{"ids": [...] | null}`, `event: created` `{}`, `event: reset` `{}` (look at everything again); ends when the instance shuts down. A few per instance at once (429 beyond).
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description text/event-stream */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': string;
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/healthz': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Liveness */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              status: 'ok';
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/readyz': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Readiness: route traffic by it */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              status: 'ready';
            };
          };
        };
        /** @description Draining, the database does not answer, or the engine gave up; `detail` says which. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
              detail?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/metrics': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Prometheus metrics
     * @description The text exposition format. Needs the bearer token when API_TOKENS is set, unless METRICS_PUBLIC=true.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description text/plain; version=0.0.4 */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': string;
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/health': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * The database's health
     * @description Dead tuples and sizes of the task tables, the oldest transaction holding back vacuum and who holds it, notification queue usage, connections, replica lag: each with its threshold and ok/warn.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description warn when any check is over its threshold */
              status: 'ok' | 'warn';
              /**
               * Format: date-time
               * @description RFC 3339, UTC, microseconds
               */
              sampled_at: string;
              checks: {
                /** @description dead_tuples, table_size, vacuum_age, xmin_horizon_age, xmin_horizon_xid_age, notification_queue_usage, connections, replica_lag, read_replica_lag */
                name: string;
                subject: null | string;
                value: null | number;
                unit: string;
                threshold: number;
                status: 'ok' | 'warn';
                holder?: null | {
                  holder: 'session' | 'replication_slot' | 'prepared_transaction';
                  pid: null | number;
                  user: null | string;
                  application_name: null | string;
                  state: null | string;
                  backend_type: null | string;
                  name: null | string;
                  since: null | string;
                  query_start: null | string;
                  age_s: null | number;
                  xid_age: null | number;
                };
              }[];
              tables: {
                name: string;
                live_tuples: number;
                dead_tuples: number;
                total_bytes: number;
                last_autovacuum: null | string;
                last_vacuum: null | string;
                last_autoanalyze: null | string;
                vacuumed_s_ago: null | number;
              }[];
              xmin_horizon: {
                holders: {
                  holder: 'session' | 'replication_slot' | 'prepared_transaction';
                  pid: null | number;
                  user: null | string;
                  application_name: null | string;
                  state: null | string;
                  backend_type: null | string;
                  name: null | string;
                  since: null | string;
                  query_start: null | string;
                  age_s: null | number;
                  xid_age: null | number;
                }[];
              };
              connections: {
                max_connections: number;
                by_state: {
                  [key: string]: number;
                };
              };
              notification_queue_usage: number;
              replicas:
                | null
                | {
                    application_name: string;
                    client_addr: null | string;
                    state: string;
                    replay_lag_s: number;
                  }[];
            };
          };
        };
        /** @description `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token. */
        401: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'unauthorized';
              request_id?: string;
            };
          };
        };
        /** @description `rate_limited`: Too many requests from this client address; see `Retry-After`. */
        429: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'rate_limited';
              request_id?: string;
            };
          };
        };
        /** @description `internal`: An unexpected error; `request_id` names it in the log. */
        500: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'internal';
              request_id?: string;
            };
          };
        };
        /** @description `shutting_down`: The instance is draining for shutdown; try another. `database_unavailable`: The database cannot be reached; retry later. */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description A message for people; match on `code`, not on this. */
              error: string;
              detail?: string;
              /** @description Where the request is wrong, for the codes that say. */
              details?: unknown;
              /** @enum {unknown} */
              code: 'shutting_down' | 'database_unavailable';
              request_id?: string;
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}
export type webhooks = Record<string, never>;
export interface components {
  schemas: {
    /**
     * @description - `invalid_request`: The request does not match its schema; `details` says where.
     *     - `unknown_kind`: No handler is registered for `kind`; `details.known` lists the kinds there are.
     *     - `invalid_input`: `input` fails the kind's input schema; `details` says where.
     *     - `unauthorized`: API_TOKENS is set and the request has no valid `Authorization: Bearer` token.
     *     - `task_not_found`: No task has this id.
     *     - `queue_not_found`: No queue has this name.
     *     - `schedule_not_found`: No schedule has this name.
     *     - `task_finished`: The task has already reached a terminal state.
     *     - `task_not_retryable`: Only a failed or cancelled task can be retried.
     *     - `lease_lost`: The worker's lease is gone (the task was cancelled or the lease expired): stop working on it.
     *     - `idempotency_key_in_use`: A request with the same idempotency key is still in flight.
     *     - `idempotency_key_reused`: The idempotency key was used before with another body.
     *     - `payload_too_large`: The body is larger than BODY_LIMIT_BYTES.
     *     - `rate_limited`: Too many requests from this client address; see `Retry-After`.
     *     - `shutting_down`: The instance is draining for shutdown; try another.
     *     - `database_unavailable`: The database cannot be reached; retry later.
     *     - `not_found`: No route serves this path.
     *     - `method_not_allowed`: The path is served, but not for this method; see `Allow`.
     *     - `internal`: An unexpected error; `request_id` names it in the log.
     *     - `not_ready`: GET /readyz only: the instance should get no traffic now.
     *     - `request_timeout`: The request did not arrive within HTTP_REQUEST_TIMEOUT_MS.
     *     - `headers_too_large`: The request headers are too large.
     * @enum {string}
     */
    ErrorCode:
      | 'invalid_request'
      | 'unknown_kind'
      | 'invalid_input'
      | 'unauthorized'
      | 'task_not_found'
      | 'queue_not_found'
      | 'schedule_not_found'
      | 'task_finished'
      | 'task_not_retryable'
      | 'lease_lost'
      | 'idempotency_key_in_use'
      | 'idempotency_key_reused'
      | 'payload_too_large'
      | 'rate_limited'
      | 'shutting_down'
      | 'database_unavailable'
      | 'not_found'
      | 'method_not_allowed'
      | 'internal'
      | 'not_ready'
      | 'request_timeout'
      | 'headers_too_large';
  };
  responses: never;
  parameters: never;
  requestBodies: never;
  headers: never;
  pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
