import Type, { type Static } from 'typebox';
import { TASK_STATES, FAILURE_KINDS } from '../domain/task.js';

/**
 * The schemas of the v1 API, one source for request validation (Fastify compiles them with ajv), for the
 * handlers' types (TypeBox's Static) and for the API's description (OpenAPI is generated from the routes).
 */

const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339, UTC, microseconds' });
// Null first: with the query-string coercion on, a null tried against an integer first would become 0.
const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([Type.Null(), t]);
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
    concurrency: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))),
  },
  { additionalProperties: false },
);

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

export const ErrorBody = Type.Object({
  error: Type.String(),
  code: Type.String(),
  details: Type.Optional(Type.Unknown()),
});
