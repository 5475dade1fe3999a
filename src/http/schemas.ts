import { Type, type Static } from '../vendor/typebox.js';
import { TASK_STATES, FAILURE_KINDS } from '../domain/task.js';

/**
 * The schemas of the v1 API, one source for request validation (Fastify compiles them with ajv), for the
 * handlers' types (TypeBox's Static) and for the API's description (OpenAPI is generated from the routes).
 */

const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339, UTC, microseconds' });
// Null first: with the query-string coercion on, a null tried against an integer first would become 0.
const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([Type.Null(), t]);

/**
 * An integer from 0 to `max`, or null, for request bodies: one `type` list rather than `anyOf` of null and integer,
 * because Fastify's ajv coerces types, and in an `anyOf` it coerced 0 into the null branch (a limit of 0 became no
 * limit) — with a type list ajv coerces only a value that matches neither type.
 */
const NullableCount = (max: number) =>
  Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, maximum: max });
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' });

export const TaskId = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const QueueName = Type.Object({ name: Name });

export const CreateBody = Type.Object(
  {
    kind: Name,
    input: Type.Optional(Type.Unknown({ description: 'Any JSON value, handed to the handler as it is.' })),
    queue: Type.Optional(Name),
    priority: Type.Optional(
      Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, description: 'Higher runs first.' }),
    ),
    run_at: Type.Optional(Timestamp),
    delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 31_536_000_000 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400_000 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    backoff: Type.Optional(
      Type.Object(
        {
          base_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400_000 })),
          max_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 604_800_000 })),
        },
        {
          additionalProperties: false,
          description:
            "This task's backoff between retries: a random wait up to min(max_ms, base_ms · 2^(n-1)) before the n-th retry. Unset: RETRY_BACKOFF_BASE_MS, RETRY_BACKOFF_MAX_MS.",
        },
      ),
    ),
    callback_url: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type CreateBody = Static<typeof CreateBody>;

export const BatchBody = Type.Object(
  { tasks: Type.Array(CreateBody, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);

export const WaitQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Number({ minimum: 0, maximum: 60, description: 'Seconds to wait for a terminal state.' }),
    ),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Array(Type.Enum(TASK_STATES))),
    kind: Type.Optional(Name),
    queue: Type.Optional(Name),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  },
  { additionalProperties: false },
);

export const QueuePatch = Type.Object(
  {
    paused: Type.Optional(Type.Boolean()),
    concurrency: Type.Optional(NullableCount(1_000_000)),
  },
  { additionalProperties: false },
);

/**
 * Letters, digits, `_`, `.`, `-`: no `:`, which separates the parts of a tick's idempotency key. At most 100
 * characters, the longest path parameter the router takes.
 */
export const ScheduleName = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
});

/**
 * The task each tick creates: a create body without `run_at` (a tick is its time; `delay_ms` counts from it) and
 * without `idempotency_key` (each tick's is `schedule:<name>:<tick>`).
 */
export const ScheduleTask = Type.Omit(CreateBody, ['run_at', 'idempotency_key'], {
  additionalProperties: false,
  description: 'A create body of POST /v1/tasks, without `run_at` and `idempotency_key`.',
});

export const SchedulePut = Type.Object(
  {
    cron: Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        '5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds field.',
    }),
    timezone: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: 'IANA time zone the cron is read in; UTC by default.',
      }),
    ),
    task: ScheduleTask,
    paused: Type.Optional(
      Type.Boolean({ description: 'A paused schedule creates no tasks; false by default.' }),
    ),
  },
  { additionalProperties: false },
);
export type SchedulePut = Static<typeof SchedulePut>;

export const Schedule = Type.Object({
  name: Type.String(),
  cron: Type.String(),
  timezone: Type.String(),
  task: Type.Unknown(),
  paused: Type.Boolean(),
  next_run_at: Nullable(Timestamp),
  next_runs: Type.Array(Timestamp, { description: 'The next 5 ticks; none while paused.' }),
  last_run_at: Nullable(Timestamp),
  last_task_id: Nullable(Type.String({ format: 'uuid' })),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const Schedules = Type.Object({ schedules: Type.Array(Schedule) });

const TaskError = Nullable(Type.Object({ type: Type.Enum(FAILURE_KINDS), message: Type.String() }));

export const Task = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.String(),
  queue: Type.String(),
  state: Type.Enum(TASK_STATES),
  input: Type.Unknown(),
  result: Type.Unknown(),
  error: TaskError,
  priority: Type.Integer(),
  attempt: Type.Integer(),
  max_attempts: Type.Integer(),
  timeout_ms: Type.Integer(),
  progress: Nullable(
    Type.Object({
      percent: Nullable(Type.Number()),
      message: Nullable(Type.String()),
      updated_at: Timestamp,
    }),
  ),
  idempotency_key: Nullable(Type.String()),
  callback_url: Nullable(Type.String()),
  created_at: Timestamp,
  run_at: Timestamp,
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
});

export const TaskList = Type.Object({ tasks: Type.Array(Task), next_cursor: Nullable(Type.String()) });
export const TaskBatch = Type.Object({ tasks: Type.Array(Task) });

export const Attempts = Type.Object({
  attempts: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      worker_id: Nullable(Type.String()),
      started_at: Nullable(Timestamp),
      finished_at: Nullable(Timestamp),
      outcome: Type.String(),
      error: TaskError,
    }),
  ),
});

export const Deliveries = Type.Object({
  deliveries: Type.Array(
    Type.Object({
      webhook_id: Type.String({
        format: 'uuid',
        description: 'The `webhook-id` header of every attempt of this delivery.',
      }),
      type: Type.Enum(['task.completed', 'task.failed', 'task.cancelled']),
      url: Type.String(),
      attempt: Type.Integer({ description: 'Attempts started so far.' }),
      status: Type.Enum(['pending', 'delivered', 'failed']),
      response_status: Nullable(Type.Integer({ description: 'Of the last attempt that got an answer.' })),
      error: Nullable(Type.String({ description: 'Why the last attempt did not deliver.' })),
      next_attempt_at: Nullable(Timestamp),
      created_at: Timestamp,
      delivered_at: Nullable(Timestamp),
      attempts: Type.Array(
        Type.Object({
          attempt: Type.Integer(),
          started_at: Timestamp,
          finished_at: Timestamp,
          response_status: Nullable(Type.Integer()),
          error: Nullable(Type.String()),
        }),
        { description: 'Every attempt that ended, oldest first.' },
      ),
    }),
  ),
});

export const Queue = Type.Object({
  name: Type.String(),
  paused: Type.Boolean(),
  concurrency: Nullable(Type.Integer()),
  counts: Type.Record(Type.String(), Type.Integer()),
  oldest_queued_age_ms: Nullable(Type.Number()),
});
export const Queues = Type.Object({ queues: Type.Array(Queue) });

export const Kinds = Type.Object({
  kinds: Type.Array(
    Type.Object({
      name: Type.String(),
      source: Type.String(),
      defaults: Type.Unknown(),
      input_schema: Type.Unknown(),
    }),
  ),
});

// ---- external workers ----

const LeaseToken = Type.String({ format: 'uuid', description: 'The lease token the claim gave.' });
const LeaseMs = Type.Integer({
  minimum: 1000,
  maximum: 3_600_000,
  description: 'Length of the lease from now, in ms. Unset: EXTERNAL_LEASE_MS.',
});

export const Lease = Type.Object({
  token: Type.String({ format: 'uuid', description: 'Send it with every heartbeat, complete and fail.' }),
  expires_at: {
    ...Timestamp,
    description: 'Without a heartbeat before then, the run is lost (worker_lost).',
  },
});

export const ClaimBody = Type.Object(
  {
    kinds: Type.Array(Name, {
      minItems: 1,
      maxItems: 100,
      description: 'Kinds to take tasks of; each must be one of EXTERNAL_KINDS.',
    }),
    max: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'Most tasks taken.' }),
    ),
    wait_ms: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 60_000,
        default: 0,
        description: 'How long to wait for a task when none is runnable now.',
      }),
    ),
    lease_ms: Type.Optional(LeaseMs),
    worker_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Names this worker in the task\'s attempts (`worker_id`). Unset: "external".',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ClaimedTasks = Type.Object({
  tasks: Type.Array(Type.Object({ ...Task.properties, lease: Lease })),
});

export const HeartbeatBody = Type.Object(
  {
    token: LeaseToken,
    progress: Type.Optional(
      Type.Object(
        {
          // One schema with both types rather than a union: with the body's type coercion, a 0 tried against
          // null first would become null (and a null tried against a number first, 0).
          percent: Type.Optional(
            Type.Unsafe<number | null>({ type: ['number', 'null'], minimum: 0, maximum: 100 }),
          ),
          message: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    lease_ms: Type.Optional(LeaseMs),
  },
  { additionalProperties: false },
);
export const HeartbeatAnswer = Type.Object({ lease: Lease });

export const CompleteBody = Type.Object(
  {
    token: LeaseToken,
    result: Type.Optional(Type.Unknown({ description: 'Any JSON value; unset is null.' })),
  },
  { additionalProperties: false },
);

export const FailBody = Type.Object(
  {
    token: LeaseToken,
    error: Type.Object({ message: Type.String({ maxLength: 65_536 }) }, { additionalProperties: false }),
    retry: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          'True: the task runs again after its backoff while it has attempts left. False: it fails now.',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Every error code a v1 answer can carry, with when it is sent: the v1 contract's codes, and the router's own
 * answers. The OpenAPI document lists them, each route naming those it answers with.
 */
export const ERROR_CODES = {
  invalid_request: 'The request does not match its schema; `details` says where.',
  unknown_kind: 'No handler is registered for `kind`; `details.known` lists the kinds there are.',
  invalid_input: "`input` fails the kind's input schema; `details` says where.",
  unauthorized: 'API_TOKENS is set and the request has no valid `Authorization: Bearer` token.',
  task_not_found: 'No task has this id.',
  queue_not_found: 'No queue has this name.',
  schedule_not_found: 'No schedule has this name.',
  task_finished: 'The task has already reached a terminal state.',
  task_not_retryable: 'Only a failed or cancelled task can be retried.',
  lease_lost: "The worker's lease is gone (the task was cancelled or the lease expired): stop working on it.",
  idempotency_key_in_use: 'A request with the same idempotency key is still in flight.',
  idempotency_key_reused: 'The idempotency key was used before with another body.',
  payload_too_large: 'The body is larger than BODY_LIMIT_BYTES.',
  rate_limited: 'Too many requests from this client address; see `Retry-After`.',
  shutting_down: 'The instance is draining for shutdown; try another.',
  database_unavailable: 'The database cannot be reached; retry later.',
  not_found: 'No route serves this path.',
  method_not_allowed: 'The path is served, but not for this method; see `Allow`.',
  internal: 'An unexpected error; `request_id` names it in the log.',
  not_ready: 'GET /readyz only: the instance should get no traffic now.',
  request_timeout: 'The request did not arrive within HTTP_REQUEST_TIMEOUT_MS.',
  headers_too_large: 'The request headers are too large.',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** The catalogue of codes, as a component of the OpenAPI document. */
export const ErrorCodeCatalog = {
  type: 'string' as const,
  enum: Object.keys(ERROR_CODES),
  description: Object.entries(ERROR_CODES)
    .map(([code, when]) => `- \`${code}\`: ${when}`)
    .join('\n'),
};

const ErrorFields = {
  error: Type.String({ description: 'A message for people; match on `code`, not on this.' }),
  detail: Type.Optional(Type.String()),
  details: Type.Optional(
    Type.Unknown({ description: 'Where the request is wrong, for the codes that say.' }),
  ),
};

export const ErrorBody = Type.Object({ ...ErrorFields, code: Type.String() });

/** An error answer that carries one of `codes`, described by them. */
function errorOf(codes: readonly ErrorCode[]) {
  return Type.Object(
    { ...ErrorFields, code: Type.Enum(codes as ErrorCode[]), request_id: Type.Optional(Type.String()) },
    { description: codes.map((c) => `\`${c}\`: ${ERROR_CODES[c]}`).join(' ') },
  );
}

/**
 * The error answers of a v1 route, by status: the given codes, and those any request can get (401 with
 * API_TOKENS, 429 with a rate limit, 503, 500). A route's response schema also serializes its answers, so every
 * field an error can carry is declared here.
 */
export function errorResponses(codes: Partial<Record<400 | 404 | 409 | 413 | 422, readonly ErrorCode[]>>) {
  const byStatus: Record<number, ReturnType<typeof errorOf>> = {};
  for (const [status, list] of Object.entries(codes)) byStatus[Number(status)] = errorOf(list);
  return {
    ...byStatus,
    401: errorOf(['unauthorized']),
    429: errorOf(['rate_limited']),
    500: errorOf(['internal']),
    503: errorOf(['shutting_down', 'database_unavailable']),
  };
}

// ---- the original API: described here, never enforced (see routes/tasks.ts) ----

export const LegacyCreateBody = Type.Object({
  task: Type.String({ minLength: 1, description: 'At most MAX_TASK_LENGTH characters, no NUL.' }),
});
export const LegacyCreated = Type.Object({
  task_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('success'),
});
export const LegacyQuery = Type.Object({ task_id: Type.String({ format: 'uuid' }) });
export const LegacyTask = Type.Object(
  {
    Task: Type.String({
      description: 'The task string as posted; for a v1 task, its input (JSON text unless a string).',
    }),
    CreatedAt: Timestamp,
    Task_identification: Type.String({ format: 'uuid' }),
    Result: Type.String({ description: 'Empty until the task ends; then its result, or what went wrong.' }),
    Status: Type.Enum(['in progress', 'completed', 'failed']),
  },
  { description: 'Exactly these keys, in this order.' },
);
const legacyError = (message: string) =>
  Type.Object({ error: Type.Literal(message) }, { description: `\`{"error": "${message}"}\`` });
export const legacyErrors = {
  unauthorized: legacyError('Missing or invalid bearer token'),
  rateLimited: legacyError('Too many requests'),
  invalidTaskData: legacyError('Invalid task data'),
  invalidTaskId: legacyError('Invalid task_id: expected a UUID'),
  taskNotFound: legacyError('Task not found'),
  unavailable: Type.Object(
    { error: Type.Enum(['Service is shutting down', 'Service unavailable: database unreachable']) },
    { description: 'Shutting down, or the database cannot be reached.' },
  ),
};

// ---- health ----

export const Health = Type.Object({ status: Type.Literal('ok') });
export const Ready = Type.Object({ status: Type.Literal('ready') });
export const NotReady = Type.Object(
  { error: Type.String(), detail: Type.Optional(Type.String()) },
  { description: 'Draining, the database does not answer, or the engine gave up; `detail` says which.' },
);

const NullableNumber = Nullable(Type.Number());
const NullableString = Nullable(Type.String());

export const HorizonHolder = Type.Object(
  {
    holder: Type.Union([
      Type.Literal('session'),
      Type.Literal('replication_slot'),
      Type.Literal('prepared_transaction'),
    ]),
    pid: Nullable(Type.Integer()),
    user: NullableString,
    application_name: NullableString,
    state: NullableString,
    backend_type: NullableString,
    name: Nullable(Type.String({ description: "A replication slot's or prepared transaction's name." })),
    since: Nullable(Timestamp),
    query_start: Nullable(Timestamp),
    age_s: NullableNumber,
    xid_age: NullableNumber,
  },
  { description: 'What holds the xmin horizon back: who, since when, in which state (never a query text).' },
);

export const HealthCheck = Type.Object({
  name: Type.String({
    description:
      'dead_tuples, table_size, vacuum_age, xmin_horizon_age, xmin_horizon_xid_age, notification_queue_usage, connections, replica_lag, read_replica_lag',
  }),
  subject: Nullable(
    Type.String({ description: 'The table, for the per-table checks; the replica, for read_replica_lag.' }),
  ),
  value: NullableNumber,
  unit: Type.String(),
  threshold: Type.Number(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('warn')]),
  holder: Type.Optional(Nullable(HorizonHolder)),
});

export const DbHealth = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('warn')], {
    description: 'warn when any check is over its threshold',
  }),
  sampled_at: Timestamp,
  checks: Type.Array(HealthCheck),
  tables: Type.Array(
    Type.Object({
      name: Type.String(),
      live_tuples: Type.Number(),
      dead_tuples: Type.Number(),
      total_bytes: Type.Number(),
      last_autovacuum: Nullable(Timestamp),
      last_vacuum: Nullable(Timestamp),
      last_autoanalyze: Nullable(Timestamp),
      vacuumed_s_ago: NullableNumber,
    }),
  ),
  xmin_horizon: Type.Object({ holders: Type.Array(HorizonHolder) }),
  connections: Type.Object({
    max_connections: Type.Integer(),
    by_state: Type.Record(Type.String(), Type.Integer()),
  }),
  notification_queue_usage: Type.Number(),
  replicas: Nullable(
    Type.Array(
      Type.Object({
        application_name: Type.String(),
        client_addr: NullableString,
        state: Type.String(),
        replay_lag_s: Type.Number(),
      }),
    ),
  ),
});

// ---- operations: stats, workers, bulk actions ----

export const StatsQuery = Type.Object(
  {
    window: Type.Optional(
      Type.Integer({
        minimum: 60,
        maximum: 86_400,
        default: 3600,
        description: 'Seconds back from now: tasks that finished within them.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Latency = Type.Object(
  { p50: Nullable(Type.Number()), p95: Nullable(Type.Number()) },
  { description: 'Milliseconds; null when no task of the bucket has one.' },
);
const StatsCounts = {
  completed: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
  pickup_ms: { ...Latency, description: 'From when the task could run (run_at) to its last start.' },
  run_ms: { ...Latency, description: 'From its last start to its end.' },
};

export const Stats = Type.Object({
  window_s: Type.Integer(),
  bucket_s: Type.Integer({ description: 'Width of each bucket, seconds.' }),
  totals: Type.Object(StatsCounts),
  buckets: Type.Array(Type.Object({ start: Timestamp, ...StatsCounts }), {
    description: 'Oldest first; only buckets in which any task finished.',
  }),
});

export const Workers = Type.Object({
  workers: Type.Array(
    Type.Object({
      id: Type.String({ format: 'uuid' }),
      host: Type.String(),
      pid: Type.Integer(),
      concurrency: Nullable(Type.Integer()),
      started_at: Timestamp,
      last_heartbeat_at: { ...Timestamp, description: 'Told from the lease: its end less LEASE_MS.' },
      lease_expires_at: Timestamp,
      running: Type.Integer({ description: 'Tasks it runs now.' }),
      leader: Type.Boolean({ description: 'Runs the maintenance for all (reaper, promoter, retention).' }),
    }),
  ),
});

export const BULK_LIMIT = 1000;

export const BulkBody = Type.Object(
  {
    action: Type.Enum(['retry', 'cancel']),
    filter: Type.Optional(
      Type.Object(
        {
          state: Type.Optional(Type.Array(Type.Enum(TASK_STATES), { maxItems: TASK_STATES.length })),
          kind: Type.Optional(Name),
          queue: Type.Optional(Name),
        },
        { additionalProperties: false },
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: BULK_LIMIT, default: BULK_LIMIT })),
    dry_run: Type.Optional(Type.Boolean({ description: 'Only count the tasks the action would touch.' })),
  },
  { additionalProperties: false },
);

export const BulkResult = Type.Object({
  action: Type.Enum(['retry', 'cancel']),
  dry_run: Type.Boolean(),
  count: Type.Integer({ description: 'Tasks retried or cancelled (with dry_run: that would be).' }),
});
