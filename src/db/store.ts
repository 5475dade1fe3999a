import type pg from 'pg';
import type { Decision, LostRunDecision } from '../domain/outcome.js';
import type { Backoff, ClaimedTask, FailureKind, TaskState, TaskView } from '../domain/task.js';
import { DbUnavailableError } from './errors.js';
import type { Lifeline } from './lifeline.js';
import { execute, runWithDeadline, type ExecuteOptions } from './pool.js';

/**
 * The task store: every SQL statement the service runs, and nothing else. Each statement is named (the name is
 * also the prepared-statement name), parameterised, and works on batches through arrays, so a caller never
 * pays a round trip per task. Nobody outside src/db calls `query`.
 */

/**
 * Channel on which an INSERT of new tasks wakes idle workers (once per batch, not per task). The payload is how
 * many became queued ('0': all of them started as they were created, or wait for their time), or 'queue'.
 */
export const TASK_CREATED_CHANNEL = 'taskd_task_created';

/** Whether a TASK_CREATED_CHANNEL notification may have left something to claim (not '0'): claimers look again. */
export const leftTasksQueued = (payload: string): boolean => payload !== '0';

/**
 * The notification channels a process listens on (src/notify/notifier.ts), and the statements of the listening
 * connection. Channel names are constants of ours, never client input.
 */
export const CHANNELS = {
  taskCreated: TASK_CREATED_CHANNEL,
  /** A running task was cancelled: whichever process runs it aborts its handler. Payload: the task id. */
  taskCancelled: 'taskd_task_cancelled',
  /**
   * A task's state, attempt or progress changed: waiters (long-polls, event streams) read it again. Payload: the
   * ids, comma-separated, at most CHANGED_IDS_PER_NOTIFY of them per notification.
   */
  taskChanged: 'taskd_task_changed',
  /** Webhook deliveries were inserted (migration 0009's trigger, at commit): deliverers claim them. */
  webhookDue: 'taskd_webhook_due',

  /** A schedule was set or removed: the tickers look again for the next tick due. Payload: its name. */
  schedulesChanged: 'taskd_schedules_changed',
  /** Each process sends itself a notification now and then, to prove the connection still delivers. */
  selfCheck: 'taskd_notifier_check',
} as const;
export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

/**
 * Ids per `taskd_task_changed` notification: 150 UUIDs with their commas are 5,550 bytes, well within NOTIFY's
 * 8,000-byte payload limit.
 */
export const CHANGED_IDS_PER_NOTIFY = 150;

/**
 * The body of a CTE that announces the ids of `source` (a CTE with an `id` column) on `taskd_task_changed`, in
 * chunks. A CTE that does not modify data runs only when read: each statement reads it once, cross-joined as
 * `announced` (one row), so that it neither multiplies nor filters the rows the statement returns.
 */
const announce = (source: string) => `
    SELECT pg_notify('${CHANNELS.taskChanged}', string_agg(id::text, ',')) FROM (
      SELECT id, (row_number() OVER () - 1) / ${CHANGED_IDS_PER_NOTIFY} AS chunk FROM ${source}
    ) c GROUP BY chunk`;
const announced = `(SELECT count(*) FROM announced) AS announced_`;

export const LISTENER_SQL = {
  listen: (channel: Channel) => `LISTEN ${channel}`,
  selfCheck: `SELECT pg_notify('${CHANNELS.selfCheck}', $1)`,
};

/** A timestamp as the API shows it: RFC 3339, UTC, microseconds. */
const iso = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Who holds a running task, as its history names it: the taskd process (owner), or an external worker. */
const runHolder = (t: string) => `coalesce(${t}.owner::text, ${t}.lease_worker)`;

/** An external worker's lease ends with its run, however the run ends (tasks_lease_shape). */
const leaseEnded = `lease_token = NULL, lease_expires_at = NULL, lease_worker = NULL`;

/**
 * How every statement that ends a run writes its decision (domain/outcome.ts). Each of them first works out, per
 * run, a row `d` (id, state, failure, result, output, delay_ms) and locks the task; this one fragment then moves
 * the task to `d.state` and appends the run to its history. One fragment, so that the ways a run can end (its
 * own outcome, a lost worker, an orphaned claim, shutdown, an external worker's outcome or expired lease) cannot
 * drift apart. Placeholders only: the values
 * always travel as parameters.
 *
 * - completed / failed: terminal, with `finished_at`; the Result text (and a v1 task's JSON output).
 * - scheduled: retried after `delay_ms`; queued: back in the queue at once. Either way the claim's owner and
 *   start are cleared, so that the next claim is a new run.
 */
const endRun = `
    state = d.state::taskd.task_state,
    failure = CASE WHEN d.state = 'failed' THEN d.failure END,
    result = CASE WHEN d.state IN ('completed', 'failed') THEN d.result ELSE t.result END,
    output = CASE WHEN d.state = 'completed' THEN d.output::jsonb ELSE t.output END,
    run_at = CASE WHEN d.state = 'scheduled' THEN now() + d.delay_ms * interval '1 millisecond' ELSE t.run_at END,
    owner = CASE WHEN d.state IN ('scheduled', 'queued') THEN NULL ELSE t.owner END,
    started_at = CASE WHEN d.state IN ('scheduled', 'queued') THEN NULL ELSE t.started_at END,
    finished_at = CASE WHEN d.state IN ('completed', 'failed') THEN now() END,
    ${leaseEnded},
    history = t.history || jsonb_build_array(jsonb_build_object(
      'attempt', t.attempt,
      'worker_id', ${runHolder('t')},
      'started_at', ${iso('t.started_at')},
      'finished_at', ${iso('now()')},
      'outcome', CASE d.state WHEN 'scheduled' THEN 'retried' WHEN 'queued' THEN 'requeued' ELSE d.state END,
      'error', CASE WHEN d.state = 'completed' THEN NULL
                    ELSE jsonb_build_object('type', d.failure, 'message', d.result) END))`;

/**
 * The per-run decision of a LostRunDecision ($n = retry, $n+1 = failure, $n+2 = result, $n+3 = backoff base,
 * $n+4 = backoff cap), for the columns of `d`: retried while the task has attempts left, failed otherwise.
 */
const lostRun = (n: number) => `
    CASE WHEN $${n} <> 'never' AND t.attempt - t.attempt_base < t.max_attempts
         THEN CASE $${n} WHEN 'later' THEN 'scheduled' ELSE 'queued' END
         ELSE 'failed' END AS state,
    $${n + 1}::text AS failure, $${n + 2}::text AS result, NULL::text AS output,
    floor(random() * least(coalesce(t.backoff_max_ms, $${n + 4}),
                           coalesce(t.backoff_base_ms, $${n + 3})
                             * power(2, greatest(t.attempt - t.attempt_base - 1, 0)))) AS delay_ms`;

/**
 * The original API's view of any task: a v1 task's JSON input and result read as text (a string as it is,
 * anything else as its JSON text); a task of the original API reads exactly as it was stored.
 */
const VIEW = `t.id,
    coalesce(t.input, CASE jsonb_typeof(t.payload) WHEN 'string' THEN t.payload #>> '{}' ELSE t.payload::text END)
      AS input,
    t.state,
    CASE WHEN t.output IS NULL THEN t.result
         WHEN jsonb_typeof(t.output) = 'string' THEN t.output #>> '{}'
         ELSE t.output::text END AS result,
    ${iso('t.created_at')} AS created_at`;

/** A task as v1 presents it, every column the API shows, timestamps already in its format. */
const RECORD = `t.id, t.handler AS kind, t.queue, t.state::text AS state,
    coalesce(t.payload, to_jsonb(t.input)) AS input,
    CASE WHEN t.state <> 'completed' THEN NULL WHEN t.payload IS NULL THEN to_jsonb(t.result) ELSE t.output END
      AS result,
    CASE WHEN t.failure IS NULL THEN NULL ELSE jsonb_build_object('type', t.failure, 'message', t.result) END AS error,
    t.priority, t.attempt, t.max_attempts, t.attempt_base, t.timeout_ms, t.progress, t.idempotency_key,
    t.callback_url, ${iso('t.created_at')} AS created_at, ${iso('coalesce(t.run_at, t.created_at)')} AS run_at,
    ${iso('t.started_at')} AS started_at, ${iso('t.finished_at')} AS finished_at`;

/** What a claim returns of each task: what the engine needs to run it, fence it and retry it. */
const CLAIMED = `t.id, t.handler, t.queue, coalesce(t.payload, to_jsonb(t.input)) AS input,
    t.payload IS NOT NULL AS json, t.timeout_ms, t.attempt, t.max_attempts, t.attempt_base, t.backoff_base_ms,
    t.backoff_max_ms, extract(epoch FROM t.started_at - coalesce(t.run_at, t.created_at))::float8 AS waited_s`;

/**
 * The completion-webhook outbox (migration 0009), one fragment for every statement that ends tasks, so that no way
 * of reaching a terminal state can forget it: the statement's data-modifying CTE adds OUTBOX_RETURNING to its
 * RETURNING list (the row as it is after the change: `t` there is the new row), and `outbox(cte)` is one more CTE
 * of the same statement. A task with a callback_url that is now completed, failed or cancelled gets its delivery
 * row, committed together with the state itself; the payload is frozen at that moment. (A data-modifying CTE
 * always runs to completion, read or not.)
 */
const OUTBOX_RETURNING = `
    CASE WHEN t.callback_url IS NOT NULL AND t.state IN ('completed', 'failed', 'cancelled')
         THEN (SELECT to_jsonb(r) FROM (SELECT ${RECORD}) r) END AS outbox_task_`;
const outbox = (source: string) => `
    INSERT INTO taskd.webhook_deliveries (id, task_id, event, url, payload)
    SELECT gen_random_uuid(), o.id, 'task.' || (o.outbox_task_->>'state'), o.outbox_task_->>'callback_url',
           jsonb_build_object('type', 'task.' || (o.outbox_task_->>'state'), 'timestamp', ${iso('now()')},
                              'data', o.outbox_task_)
    FROM ${source} o WHERE o.outbox_task_ IS NOT NULL`;

/** A webhook delivery as GET /v1/tasks/{id}/deliveries shows it. */
const DELIVERY = `d.id AS webhook_id, d.event AS type, d.url, d.attempt, d.status, d.response_status, d.error,
    ${iso('d.next_attempt_at')} AS next_attempt_at, ${iso('d.created_at')} AS created_at,
    ${iso('d.delivered_at')} AS delivered_at, d.history AS attempts`;

/** A schedule as the API presents it, timestamps already in its format. */
const SCHEDULE = `s.name, s.cron, s.timezone, s.task, s.paused, ${iso('s.next_run_at')} AS next_run_at,
    ${iso('s.last_run_at')} AS last_run_at, s.last_task_id, ${iso('s.created_at')} AS created_at,
    ${iso('s.updated_at')} AS updated_at`;

/** What an external claim returns besides the task: its lease. */
const LEASE = `t.lease_token AS lease_token, ${iso('t.lease_expires_at')} AS lease_expires_at`;

/*
 * The claims' filters are written `NOT IN (SELECT ...)`, a hashed subplan, and never `<> ALL(array)`: PostgreSQL
 * guesses an array it cannot see at planning time (a subquery's, or a parameter of the prepared statement) to
 * hold ten values, and multiplies ten `<>` selectivities. With two queues (or one kind) that put 20 of 20,000
 * queued tasks through the filter, and the claim read every queued row and sorted them to take its 500: 17–30 ms
 * a claim with 20,000 queued, growing with the backlog, against 1 ms through tasks_claimable in claim order. A
 * hashed subplan is guessed at half the rows, whatever the data, so the index scan in claim order always wins.
 */

/** The queues whose tasks wait for a claim of their own: paused ones, and limited ones (see taskClaimLimited). */
const HALTED_QUEUES = `SELECT name FROM taskd.queues WHERE paused OR concurrency IS NOT NULL`;
/**
 * The queues an unlimited claim takes from: neither paused nor limited (limited queues are claimed apart, under
 * their lock). The same for the engine's claims and for external workers'.
 */
const unlimitedQueue = `c.queue NOT IN (${HALTED_QUEUES})`;

/** `kind` is not one that external workers run (EXTERNAL_KINDS, the parameter `param`): the engine may run it. */
const notExternal = (kind: string, param: string) => `${kind} NOT IN (SELECT unnest(${param}::text[]))`;

/** The claim order, the same everywhere: highest priority first, FIFO among equals (index tasks_claimable). */
const claimOrder = `ORDER BY priority DESC, seq`;

/**
 * A claim's LIMIT, its number hidden from the planner in a subquery. With the number in sight, a table whose
 * statistics are missing or stale (a backlog inserted since the last ANALYZE) is guessed to hold fewer queued
 * tasks than the claim asks for, so a plan that reads them all and sorts them looks as cheap as reading
 * tasks_claimable in order and stopping: at 100,000 queued that plan took 110 to 220 ms a claim against 20, and
 * PostgreSQL plans each of a prepared statement's first five runs with its values, so every new connection paid
 * it five times. A LIMIT it cannot see is taken as a tenth of the rows, and the ordered index scan always wins.
 */
const claimLimit = (param: string) => `LIMIT (SELECT ${param}::int)`;

/**
 * How an external worker's claim starts a run: like the engine's (attempt, started_at), but held by a lease
 * ($3 ms long, a fresh token per task) instead of by a process; $4 names the worker in the history.
 */
const leaseStarted = `state = 'running', attempt = t.attempt + 1, started_at = now(),
      lease_token = gen_random_uuid(), lease_expires_at = now() + $3 * interval '1 millisecond', lease_worker = $4`;

/**
 * taskd.tasks is partitioned by the time in the task id (migrations 0011, 0012). A condition on one id names its
 * partition too, so that PostgreSQL reads one partition's primary key instead of every partition's.
 */
const inPartitionOf = (t: string, id: string) => `${t}.id_time = taskd.task_id_time(${id})`;

/**
 * The same for the rows of a CTE (`source`, with id and id_time columns) that an UPDATE goes back to: the range
 * of their partition keys, which prunes the partitions none of them is in (usually all but one or two) when
 * the statement runs.
 */
const inPartitionsOf = (t: string, source: string) =>
  `${t}.id_time BETWEEN (SELECT min(id_time) FROM ${source}) AND (SELECT max(id_time) FROM ${source})`;

/**
 * The guard of every write an external worker makes about its run: the task still runs under this lease ($1 =
 * id, $2 = token) and the lease has not run out. One condition in one statement with the write, so that a worker
 * whose lease expired, was reaped, or whose task was cancelled or retried elsewhere can never change the task.
 */
const leaseHeld = `t.id = $1 AND ${inPartitionOf('t', '$1')} AND t.state = 'running' AND t.lease_token = $2
    AND t.lease_expires_at > now()`;

/**
 * Starting a task as it is created (the creates' direct dispatch, see TaskService): when the process that takes
 * the create runs tasks, has free slots and its claimer found nothing to claim, a new runnable task is inserted
 * already running under that process's worker, as a claim would leave it, instead of queued for the claim that
 * the insert's notification would bring (a second commit, a notification's trip and a claim's). Only while the
 * worker's lease holds ($worker, as a claim checks it), and never for a task of a paused or limited queue or of
 * a kind that external workers run: those wait for their own claims. `dispatchTo` is the CTEs that `mayStart`
 * reads; `startsNow` the state, owner, attempt and started_at columns of an insert, whose state is `otherwise`
 * for a row that does not start.
 */
const dispatchTo = (worker: string) => `
    runner AS MATERIALIZED (
      SELECT EXISTS (SELECT 1 FROM taskd.workers w WHERE w.id = ${worker}::uuid AND w.expires_at > now()) AS alive
    ), halted AS MATERIALIZED (${HALTED_QUEUES})`;
const mayStart = (queue: string, kind: string, externalKinds: string) =>
  `(SELECT alive FROM runner) AND ${queue} NOT IN (SELECT name FROM halted) AND ${notExternal(kind, externalKinds)}`;
/** `starts`: the row's column saying whether it starts now (the condition, computed once per row). */
const startsNow = (starts: string, worker: string, otherwise: string) => `
      CASE WHEN ${starts} THEN 'running' ELSE ${otherwise} END::taskd.task_state,
      CASE WHEN ${starts} THEN ${worker}::uuid END, CASE WHEN ${starts} THEN 1 ELSE 0 END,
      CASE WHEN ${starts} THEN now() END`;
/** A v1 create's future start: a run_at ahead, or a delay. */
const v1Scheduled = `coalesce(o.run_at > now() OR o.delay_ms > 0, false)`;
/** A task started as it was created, in the form a claim returns it (ClaimedRow); null for the others. */
const CLAIMED_RETURNING = `
    CASE WHEN t.state = 'running' THEN (SELECT to_jsonb(c) FROM (SELECT ${CLAIMED}) c) END AS claimed_`;

const SQL = {
  // One statement inserts a whole batch and notifies once; it commits as it returns, so a 201 sent after it
  // means the tasks are durable. The first $5 of them start running at once under worker $6 (see startsNow);
  // their claimed form is returned. The notification counts the tasks left queued for the claimers: 0 tells
  // them there is nothing to claim, and the dashboard's feed still hears that tasks were created.
  taskInsertMany: `
    WITH ${dispatchTo('$6')}, inserted AS (
      INSERT INTO taskd.tasks AS t (id, id_time, handler, input, timeout_ms, state, owner, attempt, started_at)
      SELECT o.id, taskd.task_id_time(o.id), o.handler, o.input, o.timeout_ms,
             ${startsNow('o.starts', '$6', `'queued'`)}
      FROM (
        SELECT o.*, o.n <= $5 AND ${mayStart(`'default'`, 'o.handler', '$7')} AS starts
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS o(id, handler, input, timeout_ms, n)
      ) o
      RETURNING t.state, ${CLAIMED_RETURNING}
    ), woken AS (
      SELECT pg_notify('${TASK_CREATED_CHANNEL}', (count(*) FILTER (WHERE state = 'queued'))::text) FROM inserted
    )
    SELECT (SELECT count(*) FROM woken) AS woken_,
           ARRAY(SELECT claimed_ FROM inserted WHERE claimed_ IS NOT NULL) AS started`,

  ping: `SELECT 1`,

  // How many more connections the server would accept from us: the start-up check of DB_POOL_SIZE.
  serverConnectionCapacity: `
    SELECT current_setting('max_connections')::int
             - current_setting('superuser_reserved_connections')::int AS max_connections,
           (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS in_use`,

  // The original API's view of any task (see VIEW).
  taskGet: `SELECT ${VIEW} FROM taskd.tasks t WHERE id = $1 AND ${inPartitionOf('t', '$1')}`,

  // The same for many ids in one statement: the point reads of a busy moment (domain/point-reads.ts).
  taskGetViews: `
    SELECT ${VIEW} FROM unnest($1::uuid[]) AS r(id)
    CROSS JOIN LATERAL (SELECT * FROM taskd.tasks t WHERE t.id = r.id AND ${inPartitionOf('t', 'r.id')}) t`,

  // v1 creates, a batch per statement like the original API's: all of the batch or none of it. A task with a
  // future run_at starts `scheduled`. An idempotency key already taken makes the whole statement fail (unique
  // violation of taskd.idempotency_keys, written by the same statement): the service then looks the key up.
  taskInsertManyV1: `
    WITH ${dispatchTo('$16')}, inserted AS (
      INSERT INTO taskd.tasks AS t (id, id_time, handler, payload, timeout_ms, queue, priority, run_at, max_attempts,
                               backoff_base_ms, backoff_max_ms, idempotency_key, request_fingerprint, callback_url,
                               state, owner, attempt, started_at)
      SELECT o.id, taskd.task_id_time(o.id), o.kind, o.input, o.timeout_ms, o.queue, o.priority,
             coalesce(o.run_at, now() + o.delay_ms * interval '1 millisecond', now()),
             o.max_attempts, o.backoff_base_ms, o.backoff_max_ms, o.idempotency_key, o.fingerprint, o.callback_url,
             ${startsNow('o.starts', '$16', `CASE WHEN ${v1Scheduled} THEN 'scheduled' ELSE 'queued' END`)}
      FROM (
        SELECT o.*, o.n <= $15 AND NOT ${v1Scheduled} AND o.idempotency_key IS NULL
                    AND ${mayStart('o.queue', 'o.kind', '$17')} AS starts
        FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int[], $5::text[], $6::int[], $7::timestamptz[],
                    $8::int[], $9::int[], $10::int[], $11::text[], $12::text[], $13::text[], $14::float8[])
          WITH ORDINALITY AS o(id, kind, input, timeout_ms, queue, priority, run_at, max_attempts, backoff_base_ms,
               backoff_max_ms, idempotency_key, fingerprint, callback_url, delay_ms, n)
      ) o
      RETURNING ${RECORD}, ${CLAIMED_RETURNING}
    ), keyed AS (
      INSERT INTO taskd.idempotency_keys (key, task_id, id_time)
      SELECT idempotency_key, id, taskd.task_id_time(id) FROM inserted WHERE idempotency_key IS NOT NULL
    ), woken AS (
      SELECT pg_notify('${TASK_CREATED_CHANNEL}', (count(*) FILTER (WHERE state = 'queued'))::text) FROM inserted
      WHERE state IN ('queued', 'running') HAVING count(*) > 0
    )
    SELECT inserted.* FROM inserted LEFT JOIN woken ON true`,

  taskGetRecord: `SELECT ${RECORD} FROM taskd.tasks t WHERE id = $1 AND ${inPartitionOf('t', '$1')}`,

  // What waiters read again when they hear their tasks changed: one statement for every id of a notification.
  taskGetRecords: `
    SELECT ${RECORD} FROM unnest($1::uuid[]) AS r(id)
    CROSS JOIN LATERAL (SELECT * FROM taskd.tasks t WHERE t.id = r.id AND ${inPartitionOf('t', 'r.id')}) t`,

  // The runs an engine holds that the database no longer has running under its claim (owner and attempt):
  // cancelled, or ended by someone else. The engine's check for cancel notifications it may have missed.
  taskRunsEnded: `
    SELECT r.id, t.state::text AS state
    FROM unnest($1::uuid[], $2::int[]) AS r(id, attempt)
    LEFT JOIN taskd.tasks t ON t.id = r.id AND ${inPartitionOf('t', 'r.id')}
    WHERE t.id IS NULL OR t.state <> 'running' OR t.owner <> $3 OR t.attempt <> r.attempt`,

  taskGetByIdempotencyKey: `
    SELECT ${RECORD}, t.request_fingerprint
    FROM taskd.idempotency_keys k JOIN taskd.tasks t ON t.id = k.task_id AND t.id_time = k.id_time
    WHERE k.key = $1`,

  // Newest first, keyset-paginated on seq (the cursor is the last seq seen), filters optional.
  taskList: `
    SELECT ${RECORD}, seq FROM taskd.tasks t
    WHERE ($1::taskd.task_state[] IS NULL OR state = ANY($1))
      AND ($2::text IS NULL OR handler = $2)
      AND ($3::text IS NULL OR queue = $3)
      AND ($4::bigint IS NULL OR seq < $4)
    ORDER BY seq DESC
    LIMIT $5`,

  taskHistory: `
    SELECT history, attempt, ${runHolder('t')} AS owner, ${iso('started_at')} AS started_at, state::text AS state
    FROM taskd.tasks t WHERE id = $1 AND ${inPartitionOf('t', '$1')}`,

  // Cancel: a task that has not ended ends now, as cancelled. A running one is ended in the database at once
  // (its late outcome is then fenced off) and its runner is told to abort through the notification.
  taskCancel: `
    WITH before AS (
      SELECT id, id_time, state, handler, queue FROM taskd.tasks t WHERE id = $1 AND ${inPartitionOf('t', '$1')}
      FOR UPDATE
    ), cancelled AS (
      UPDATE taskd.tasks t
      SET state = 'cancelled', failure = 'cancelled', result = $2, finished_at = now(), ${leaseEnded},
          history = CASE WHEN before.state = 'running' THEN t.history || jsonb_build_array(jsonb_build_object(
            'attempt', t.attempt, 'worker_id', ${runHolder('t')}, 'started_at', ${iso('t.started_at')},
            'finished_at', ${iso('now()')}, 'outcome', 'cancelled',
            'error', jsonb_build_object('type', 'cancelled', 'message', $2::text))) ELSE t.history END
      FROM before
      WHERE t.id = before.id AND t.id_time = before.id_time AND before.state IN ('scheduled', 'queued', 'running')
      RETURNING t.id, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('cancelled')}
    ), told AS (
      SELECT pg_notify('${CHANNELS.taskCancelled}', before.id::text) FROM before
      WHERE before.state = 'running' AND EXISTS (SELECT 1 FROM cancelled)
    ), announced AS (${announce('cancelled')})
    SELECT before.state::text AS before, EXISTS (SELECT 1 FROM cancelled) AS cancelled, before.handler AS kind,
           before.queue
    FROM before LEFT JOIN told ON true, ${announced}`,

  // Retry by hand: a failed or cancelled task is queued again; it may run max_attempts more times.
  taskRetry: `
    WITH retried AS (
      UPDATE taskd.tasks t
      SET state = 'queued', failure = NULL, result = '', output = NULL, finished_at = NULL, owner = NULL,
          started_at = NULL, run_at = now(), attempt_base = t.attempt
      WHERE id = $1 AND ${inPartitionOf('t', '$1')} AND state IN ('failed', 'cancelled')
      RETURNING ${RECORD}
    ), woken AS (
      SELECT pg_notify('${TASK_CREATED_CHANNEL}', '1') FROM retried
    ), announced AS (${announce('retried')})
    SELECT retried.* FROM retried LEFT JOIN woken ON true, ${announced}`,

  // Every queue that has tasks or settings, with its counts by state and the age of its oldest queued task.
  queueList: `
    WITH counts AS (
      SELECT queue, state::text AS state, count(*)::int AS n FROM taskd.tasks GROUP BY queue, state
    ), oldest AS (
      SELECT queue, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS age_ms
      FROM taskd.tasks WHERE state = 'queued' GROUP BY queue
    ), names AS (
      SELECT queue AS name FROM counts UNION SELECT name FROM taskd.queues
    )
    SELECT n.name, coalesce(q.paused, false) AS paused, q.concurrency,
           coalesce((SELECT jsonb_object_agg(c.state, c.n) FROM counts c WHERE c.queue = n.name), '{}') AS counts,
           (SELECT age_ms FROM oldest o WHERE o.queue = n.name) AS oldest_queued_age_ms
    FROM names n LEFT JOIN taskd.queues q ON q.name = n.name
    ORDER BY n.name`,

  // The gauges of /metrics, in one statement that every process runs every METRICS_SAMPLE_INTERVAL_MS (never per
  // scrape): the tasks not yet ended by queue and state (through the partial indexes of those states, so its cost
  // follows the backlog rather than the table's history), the age of each queue's oldest runnable task (since it
  // became runnable: its run_at), and the workers whose lease is live.
  metricsSample: `
    SELECT (SELECT count(*)::int FROM taskd.workers WHERE expires_at > now()) AS live_workers,
           coalesce((SELECT jsonb_agg(q) FROM (
             SELECT queue, state::text AS state, count(*)::int AS n,
                    CASE WHEN state = 'queued'
                         THEN extract(epoch FROM now() - min(coalesce(run_at, created_at)))::float8 END AS oldest_s
             FROM taskd.tasks
             WHERE state IN ('queued', 'scheduled', 'running')
             GROUP BY queue, state
           ) q), '[]'::jsonb) AS queues`,

  // Database health, part one: the tables of taskd's schema (dead tuples, size with indexes and TOAST, the last
  // (auto)vacuum and analyze). Statistics views only: no table is read. A partitioned table (taskd.tasks) has no
  // statistics of its own: it reports the sum of its partitions, and the vacuum of the one vacuumed longest ago.
  healthTables: `
    SELECT 'taskd.' || coalesce(p.relname, s.relname) AS name,
           sum(s.n_live_tup)::float8 AS live_tuples, sum(s.n_dead_tup)::float8 AS dead_tuples,
           sum(pg_total_relation_size(s.relid))::float8 AS total_bytes,
           ${iso('min(s.last_autovacuum)')} AS last_autovacuum, ${iso('min(s.last_vacuum)')} AS last_vacuum,
           ${iso('min(s.last_autoanalyze)')} AS last_autoanalyze,
           max(extract(epoch FROM now() - greatest(s.last_autovacuum, s.last_vacuum)))::float8 AS vacuumed_s_ago
    FROM pg_stat_user_tables s
    LEFT JOIN pg_inherits i ON i.inhrelid = s.relid
    LEFT JOIN pg_class p ON p.oid = i.inhparent
    WHERE s.schemaname = 'taskd'
    GROUP BY coalesce(p.relname, s.relname)
    ORDER BY 1`,

  // Part two: who holds the xmin horizon back, oldest first. Transactions of this database's sessions (and of WAL
  // senders, whose hot-standby feedback holds every database back), replication slots, prepared transactions. The
  // sampling session itself is left out. Never the text of a query: who, since when, in which state.
  healthHorizon: `
    SELECT * FROM (
      SELECT 'session' AS holder, a.pid, a.usename::text AS user, a.application_name, a.state,
             a.backend_type, NULL::text AS name, ${iso('a.xact_start')} AS since, ${iso('a.query_start')} AS query_start,
             extract(epoch FROM now() - a.xact_start)::float8 AS age_s,
             greatest(age(a.backend_xmin), age(a.backend_xid)) AS xid_age
      FROM pg_stat_activity a
      WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL)
        AND a.pid <> pg_backend_pid()
        AND (a.datname = current_database() OR a.backend_type = 'walsender')
      UNION ALL
      SELECT 'replication_slot', r.active_pid, NULL, NULL, CASE WHEN r.active THEN 'active' ELSE 'inactive' END,
             NULL, r.slot_name::text, NULL, NULL, NULL,
             greatest(age(r.xmin), age(r.catalog_xmin))
      FROM pg_replication_slots r
      WHERE r.xmin IS NOT NULL OR r.catalog_xmin IS NOT NULL
      UNION ALL
      SELECT 'prepared_transaction', NULL, p.owner::text, NULL, NULL, NULL, p.gid, ${iso('p.prepared')}, NULL,
             extract(epoch FROM now() - p.prepared)::float8, age(p.transaction)
      FROM pg_prepared_xacts p
      WHERE p.database = current_database()
    ) h
    ORDER BY age_s DESC NULLS LAST, xid_age DESC NULLS LAST
    LIMIT 5`,

  // Part three: the server as a whole: notification queue, client connections by state, replicas.
  healthServer: `
    SELECT pg_notification_queue_usage()::float8 AS notification_queue_usage,
           current_setting('max_connections')::int AS max_connections,
           coalesce((SELECT jsonb_object_agg(state, n) FROM (
             SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n
             FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1
           ) c), '{}'::jsonb) AS connections,
           coalesce((SELECT jsonb_agg(jsonb_build_object(
             'application_name', application_name, 'client_addr', client_addr::text, 'state', state,
             'replay_lag_s', coalesce(extract(epoch FROM replay_lag)::float8, 0)))
             FROM pg_stat_replication), '[]'::jsonb) AS replicas`,

  // Sets a queue's pause and limit; a field left out ($3/$5 false) keeps its value. Notifies the claimers: a
  // resumed or widened queue has work for them.
  queueUpdate: `
    WITH updated AS (
      INSERT INTO taskd.queues AS q (name, paused, concurrency)
      VALUES ($1, coalesce($2, false), CASE WHEN $4 THEN $3::int END)
      ON CONFLICT (name) DO UPDATE
        SET paused = coalesce($2, q.paused),
            concurrency = CASE WHEN $4 THEN $3::int ELSE q.concurrency END,
            updated_at = now()
      RETURNING name
    )
    SELECT pg_notify('${TASK_CREATED_CHANNEL}', 'queue') FROM updated`,

  // The inner SELECT takes the row locks with SKIP LOCKED, so concurrent claimers pass over each other's rows
  // instead of queueing behind them, and the UPDATE changes only rows this claimer holds. The partial index
  // tasks_runnable serves the SELECT exactly; `= ANY(ARRAY(...))` makes the UPDATE find its rows through the
  // primary key whatever the table's size (a join may choose to scan the whole table). Claims never exceed
  // free slots ($2), and a worker whose lease has run out (or was reaped) claims nothing: its tasks would point
  // at a worker that no reaper looks for. Kinds run by external workers ($3) are never claimed here.
  taskClaimAvailable: `
    WITH picked AS MATERIALIZED (
      SELECT id, id_time FROM taskd.tasks c
      WHERE state = 'queued'
        AND EXISTS (SELECT 1 FROM taskd.workers w WHERE w.id = $1 AND w.expires_at > now())
        AND ${unlimitedQueue}
        AND ${notExternal('c.handler', '$3')}
      ${claimOrder}
      ${claimLimit('$2')}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE taskd.tasks t
      SET state = 'running', owner = $1, attempt = t.attempt + 1, started_at = now()
      WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND ${inPartitionsOf('t', 'picked')}
      RETURNING ${CLAIMED}
    ), announced AS (${announce('claimed')})
    SELECT claimed.* FROM claimed, ${announced}`,

  // The limited queues nobody else is claiming from right now, locked until the claim's transaction ends: the
  // claimers of one limited queue take turns, so that each counts the running tasks the last one left.
  queueLockLimited: `
    SELECT name, concurrency FROM taskd.queues
    WHERE concurrency IS NOT NULL AND NOT paused
    ORDER BY name
    FOR UPDATE SKIP LOCKED`,

  // Within that transaction, a statement of its own (so that it sees what the claimers before committed).
  queueRunningCount: `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'running' AND queue = $1`,

  taskClaimFromQueue: `
    WITH picked AS MATERIALIZED (
      SELECT id, id_time FROM taskd.tasks c
      WHERE state = 'queued' AND queue = $3
        AND EXISTS (SELECT 1 FROM taskd.workers w WHERE w.id = $1 AND w.expires_at > now())
        AND ${notExternal('c.handler', '$4')}
      ${claimOrder}
      ${claimLimit('$2')}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE taskd.tasks t
      SET state = 'running', owner = $1, attempt = t.attempt + 1, started_at = now()
      WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND ${inPartitionsOf('t', 'picked')}
      RETURNING ${CLAIMED}
    ), announced AS (${announce('claimed')})
    SELECT claimed.* FROM claimed, ${announced}`,

  // External workers' claims: the engine's claims of the unlimited queues and of one limited queue (in the
  // same transaction of queueLockLimited and queueRunningCount, so that a queue's limit counts every running task,
  // external or not), restricted to the kinds asked for ($1, all of them external), each run held by a lease.
  taskLeaseAvailable: `
    WITH picked AS MATERIALIZED (
      SELECT id, id_time FROM taskd.tasks c
      WHERE state = 'queued' AND c.handler = ANY($1::text[])
        AND ${unlimitedQueue}
      ${claimOrder}
      ${claimLimit('$2')}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE taskd.tasks t
      SET ${leaseStarted}
      WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND ${inPartitionsOf('t', 'picked')}
      RETURNING ${RECORD}, ${LEASE}
    ), announced AS (${announce('claimed')})
    SELECT claimed.* FROM claimed, ${announced}`,

  taskLeaseFromQueue: `
    WITH picked AS MATERIALIZED (
      SELECT id, id_time FROM taskd.tasks c
      WHERE state = 'queued' AND queue = $5 AND c.handler = ANY($1::text[])
      ${claimOrder}
      ${claimLimit('$2')}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE taskd.tasks t
      SET ${leaseStarted}
      WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND ${inPartitionsOf('t', 'picked')}
      RETURNING ${RECORD}, ${LEASE}
    ), announced AS (${announce('claimed')})
    SELECT claimed.* FROM claimed, ${announced}`,

  // An external worker's heartbeat: the lease runs $3 ms from now, and the progress ($4 = given, $5 percent,
  // $6 message) is stored like a handler's. Announced only with progress: a longer lease is no visible change.
  taskLeaseRenew: `
    WITH renewed AS (
      UPDATE taskd.tasks t
      SET lease_expires_at = now() + $3 * interval '1 millisecond',
          progress = CASE WHEN $4::boolean
            THEN jsonb_build_object('percent', $5::float8, 'message', $6::text, 'updated_at', ${iso('now()')})
            ELSE t.progress END
      WHERE ${leaseHeld}
      RETURNING t.id, ${LEASE}
    ), announced AS (${announce('(SELECT id FROM renewed WHERE $4::boolean) p')})
    SELECT renewed.lease_token, renewed.lease_expires_at FROM renewed, ${announced}`,

  // An external worker's result ($3 Result text, $4 JSON output): the run ends as the engine's settle ends one.
  taskLeaseComplete: `
    WITH d AS MATERIALIZED (
      SELECT t.id, t.id_time, 'completed'::text AS state, NULL::text AS failure, $3::text AS result, $4::text AS output,
             0::float8 AS delay_ms
      FROM taskd.tasks t
      WHERE ${leaseHeld}
      FOR UPDATE
    ), ended AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = d.id AND t.id_time = d.id_time
      RETURNING ${RECORD}, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('ended')}
    ), announced AS (${announce('ended')})
    SELECT ended.* FROM ended, ${announced}`,

  // An external worker's failure: retried per the task's retry policy ($3 = 'later') or failed for good
  // ($3 = 'never'), like any run that failed with attempts left ($4..$7: failure, message, backoff).
  taskLeaseFail: `
    WITH d AS MATERIALIZED (
      SELECT t.id, t.id_time, ${lostRun(3)}
      FROM taskd.tasks t
      WHERE ${leaseHeld}
      FOR UPDATE
    ), ended AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = d.id AND t.id_time = d.id_time
      RETURNING ${RECORD}, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('ended')}
    ), announced AS (${announce('ended')})
    SELECT ended.* FROM ended, ${announced}`,

  // External runs whose lease ran out: the worker stopped renewing it (died, lost the network, gave up). Ended as
  // a lost worker's runs are (the decision's $1..$5), through tasks_lease_expires. SKIP LOCKED: a locked row is
  // being ended or renewed right now; the condition is checked again on the row that is locked, so a lease
  // renewed meanwhile is left alone.
  taskReapExpiredLeases: `
    WITH d AS MATERIALIZED (
      SELECT t.id, t.id_time, ${lostRun(1)}
      FROM taskd.tasks t
      WHERE t.lease_token IS NOT NULL AND t.lease_expires_at < now() AND t.state = 'running'
      FOR UPDATE OF t SKIP LOCKED
    ), ended AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = d.id AND t.id_time = d.id_time
      RETURNING t.id, t.state::text AS state, t.handler AS kind, t.queue, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('ended')}
    ), announced AS (${announce('ended')})
    SELECT ended.id, ended.state, ended.kind, ended.queue FROM ended, ${announced}`,

  // Is there any limited queue at all? (The claim loop asks before it opens a transaction for them.)
  queueAnyLimited: `SELECT EXISTS (SELECT 1 FROM taskd.queues WHERE concurrency IS NOT NULL AND NOT paused) AS any`,

  // Fenced by (owner, attempt, state = 'running'): a process that lost its lease, or a run that was already
  // failed by shutdown or by another process, changes nothing. Rows not returned were not written.
  // The LATERAL probe makes the batch drive the join, one primary-key lookup per outcome, whatever the
  // statistics say. A plain join let stale statistics ("no task is running") put the tasks side outside and
  // rescan the whole batch once per running task: quadratic, minutes for a burst of 100,000 completions.
  // The UPDATE then finds the locked rows through the primary key (`= ANY(ARRAY(...))`) rather than by
  // hashing the whole table. The probe's state test is written `state::text = 'running'` so that no partial
  // index on running tasks matches it: with stale statistics the planner took tasks_running_queue (every running
  // task of a queue) and filtered it by id, one whole index scan per outcome (80 % of a 500-row settle).
  taskSettleMany: `
    WITH d AS MATERIALIZED (
      SELECT r.id, r.id_time, o.state, o.failure, o.result, o.output, o.delay_ms
      FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[])
        AS o(id, owner, attempt, state, failure, result, output, delay_ms)
      CROSS JOIN LATERAL (
        SELECT id, id_time FROM taskd.tasks t
        WHERE id = o.id AND ${inPartitionOf('t', 'o.id')} AND owner = o.owner AND attempt = o.attempt
          AND state::text = 'running'
        FOR UPDATE
      ) r
    ), settled AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = ANY(ARRAY(SELECT id FROM d)) AND ${inPartitionsOf('t', 'd')} AND t.id = d.id
        AND t.id_time = d.id_time
      RETURNING t.id, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('settled')}
    ), announced AS (${announce('settled')})
    SELECT settled.id FROM settled, ${announced}`,

  // Handlers' progress, many runs per statement, fenced like a settle (owner, attempt, state = 'running'): a
  // lost run's progress changes nothing. SKIP LOCKED: a row locked now is being ended (settle, cancel, reaper,
  // shutdown), which supersedes its progress, and waiting for it could deadlock with a settle of the same rows
  // taken in another order. Rows not returned were not written. The probe is the settle's (primary key only).
  taskProgressMany: `
    WITH d AS MATERIALIZED (
      SELECT r.id, r.id_time, o.percent, o.message
      FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::float8[], $5::text[])
        AS o(id, owner, attempt, percent, message)
      CROSS JOIN LATERAL (
        SELECT id, id_time FROM taskd.tasks t
        WHERE id = o.id AND ${inPartitionOf('t', 'o.id')} AND owner = o.owner AND attempt = o.attempt
          AND state::text = 'running'
        FOR UPDATE SKIP LOCKED
      ) r
    ), written AS (
      UPDATE taskd.tasks t
      SET progress = jsonb_build_object('percent', d.percent, 'message', d.message, 'updated_at', ${iso('now()')})
      FROM d
      WHERE t.id = ANY(ARRAY(SELECT id FROM d)) AND ${inPartitionsOf('t', 'd')} AND t.id = d.id
        AND t.id_time = d.id_time
      RETURNING t.id
    ), announced AS (${announce('written')})
    SELECT written.id FROM written, ${announced}`,

  workerRegister: `
    INSERT INTO taskd.workers (id, host, pid, expires_at, concurrency)
    VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond', $5)`,

  // One statement per interval renews the lease of every task the process runs (tasks point at their worker),
  // and holds or takes the maintenance leadership: renewed while this worker holds it, taken over once the
  // holder's lease ran out (judged by the database's clock, the one clock all processes share). Two workers
  // racing for an expired row serialise on its lock; the second then sees a live lease and takes nothing.
  workerHeartbeat: `
    WITH renewed AS (
      UPDATE taskd.workers SET expires_at = now() + $2 * interval '1 millisecond'
      WHERE id = $1
      RETURNING id
    ), led AS (
      INSERT INTO taskd.leader AS l (name, worker_id, expires_at)
      SELECT 'maintenance', id, now() + $2 * interval '1 millisecond' FROM renewed
      ON CONFLICT (name) DO UPDATE
        SET worker_id = excluded.worker_id, expires_at = excluded.expires_at,
            elected_at = CASE WHEN l.worker_id = excluded.worker_id THEN l.elected_at ELSE now() END
        WHERE l.worker_id = excluded.worker_id OR l.expires_at < now()
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM renewed)::int AS held, (SELECT count(*) FROM led)::int AS leader`,

  // Deleting the expired worker rows and failing their tasks in one statement makes it atomic: two reapers
  // cannot both act on one worker (the second finds the row gone), and no task is left pointing at a worker
  // that no longer exists. A process never reaps itself: it renews its own lease, or learns it lost it.
  workerReapExpired: `
    WITH expired AS (
      DELETE FROM taskd.workers
      WHERE expires_at < now() AND id <> $1
      RETURNING id
    ), d AS MATERIALIZED (
      SELECT t.id, t.id_time, ${lostRun(2)}
      FROM taskd.tasks t JOIN expired ON t.owner = expired.id
      WHERE t.state = 'running'
      FOR UPDATE OF t
    ), ended AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = d.id AND t.id_time = d.id_time
      RETURNING t.id, t.state::text AS state, t.handler AS kind, t.queue, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('ended')}
    ), announced AS (${announce('ended')})
    SELECT (SELECT array_agg(id) FROM expired) AS workers,
           (SELECT array_agg(id) FROM ended WHERE state = 'failed') AS tasks,
           (SELECT array_agg(id) FROM ended WHERE state <> 'failed') AS retried,
           (SELECT jsonb_agg(jsonb_build_object('id', id, 'kind', kind, 'queue', queue)) FROM ended) AS about,
           ${announced}`,

  // Running tasks whose owner has no worker row: a claim that raced with the reaping of its own worker. The
  // recursive CTE walks the distinct owners of running tasks through tasks_running_owner_id, one index probe
  // per owner (a handful), however many tasks run; only orphaned owners' tasks are then touched.
  taskFailOrphaned: `
    WITH RECURSIVE owners(owner) AS (
      (SELECT owner FROM taskd.tasks WHERE state = 'running' ORDER BY owner LIMIT 1)
      UNION ALL
      SELECT (SELECT t.owner FROM taskd.tasks t
              WHERE t.state = 'running' AND t.owner > owners.owner ORDER BY t.owner LIMIT 1)
      FROM owners WHERE owners.owner IS NOT NULL
    ), orphaned AS (
      SELECT owner FROM owners
      WHERE owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM taskd.workers w WHERE w.id = owners.owner)
    ), d AS MATERIALIZED (
      SELECT t.id, t.id_time, ${lostRun(1)}
      FROM taskd.tasks t JOIN orphaned ON t.owner = orphaned.owner
      WHERE t.state = 'running'
      FOR UPDATE OF t
    ), ended AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = d.id AND t.id_time = d.id_time
      RETURNING t.id, t.state::text AS state, t.handler AS kind, t.queue, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('ended')}
    ), announced AS (${announce('ended')})
    SELECT ended.id, ended.state, ended.kind, ended.queue FROM ended, ${announced}`,

  // Graceful exit: fail whatever this process still runs, leave the registry, and hand over the leadership at
  // once (the next heartbeat of another worker takes it), in one statement (a data-modifying CTE always runs to
  // completion, read or not).
  workerDeregister: `
    WITH gone AS (
      DELETE FROM taskd.workers WHERE id = $1
    ), resigned AS (
      DELETE FROM taskd.leader WHERE worker_id = $1
    ), d AS MATERIALIZED (
      SELECT t.id, t.id_time, ${lostRun(2)}
      FROM taskd.tasks t
      WHERE t.owner = $1 AND t.state = 'running'
      FOR UPDATE OF t
    ), ended AS (
      UPDATE taskd.tasks t
      SET ${endRun}
      FROM d
      WHERE t.id = d.id AND t.id_time = d.id_time
      RETURNING t.id, t.state::text AS state, t.handler AS kind, t.queue, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('ended')}
    ), announced AS (${announce('ended')})
    SELECT ended.id, ended.state, ended.kind, ended.queue FROM ended, ${announced}`,

  // Scheduled tasks whose time has come become runnable; one NOTIFY wakes the claimers if any did.
  taskPromoteDue: `
    WITH picked AS MATERIALIZED (
      SELECT id, id_time FROM taskd.tasks
      WHERE state = 'scheduled' AND run_at <= now()
      ORDER BY run_at
      LIMIT $1
      FOR UPDATE SKIP LOCKED
    ), due AS (
      UPDATE taskd.tasks t SET state = 'queued'
      WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND ${inPartitionsOf('t', 'picked')}
      RETURNING t.id
    ), announced AS (${announce('due')})
    SELECT count(*)::int AS n, CASE WHEN count(*) > 0 THEN pg_notify('${TASK_CREATED_CHANNEL}', count(*)::text) END
    FROM due, ${announced}`,

  // Retention and the partitions of taskd.tasks (migration 0012's functions). The partitions with their bounds;
  // `expired`: a time partition whose whole range is older than the retention age ($1 ms).
  taskPartitions: `
    SELECT name, ${iso('lower_bound')} AS lower_bound, ${iso('upper_bound')} AS upper_bound,
           lower_bound IS NOT NULL AND upper_bound <= now() - $1 * interval '1 millisecond' AS expired
    FROM taskd.task_partitions()`,

  // Time partitions $1 ms long, from $2 ms back (when there are none yet) to $3 ms ahead.
  taskPartitionsEnsure: `
    SELECT taskd.ensure_task_partitions($1 * interval '1 millisecond', $2 * interval '1 millisecond',
                                        $3 * interval '1 millisecond') AS made`,

  // Drops partition $1 if every task in it ended more than $2 ms ago, waiting at most $3 ms for its lock.
  taskPartitionDrop: `
    SELECT taskd.drop_task_partition($1, now() - $2 * interval '1 millisecond', $3 * interval '1 millisecond')
      AS dropped`,

  // Deletes at most $3 tasks of partition $1 that ended more than $2 ms ago (small batches: few locks, a small
  // transaction).
  taskDeleteFinished: `
    SELECT taskd.delete_finished_tasks($1, now() - $2 * interval '1 millisecond', $3) AS deleted`,

  // Deliverers claim due webhook deliveries: each claim counts an attempt and holds the row by moving its due time
  // past the attempt's end ($2 ms), committed before the request is sent (no transaction is held open across
  // it). SKIP LOCKED lets every process claim side by side; a deliverer that dies leaves its rows due again.
  webhookClaimDue: `
    UPDATE taskd.webhook_deliveries w
    SET attempt = w.attempt + 1, next_attempt_at = now() + $2 * interval '1 millisecond'
    WHERE w.id = ANY(ARRAY(
      SELECT id FROM taskd.webhook_deliveries
      WHERE status = 'pending' AND next_attempt_at <= now()
      ORDER BY next_attempt_at
      LIMIT $1
      FOR UPDATE SKIP LOCKED
    ))
    RETURNING w.id, w.task_id, w.url, w.payload, w.attempt`,

  // An attempt's end, fenced by the attempt it was claimed as (a late answer to an attempt whose claim expired and
  // was claimed again changes nothing): delivered, failed for good, or pending again after $6 ms.
  webhookRecordAttempt: `
    UPDATE taskd.webhook_deliveries w
    SET status = $3,
        response_status = $4::int,
        error = $5::text,
        next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + $6 * interval '1 millisecond' END,
        delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
        history = w.history || jsonb_build_array(jsonb_build_object(
          'attempt', w.attempt, 'started_at', ${iso('$7::timestamptz')}, 'finished_at', ${iso('now()')},
          'response_status', $4::int, 'error', $5::text))
    WHERE w.id = $1 AND w.attempt = $2 AND w.status = 'pending'
    RETURNING w.id`,

  // Claims given back unsent (the deliverer stopped before their turn): due again at once, the attempt that the
  // claim counted uncounted again. Fenced by that attempt, like a record.
  webhookReleaseClaims: `
    UPDATE taskd.webhook_deliveries w
    SET attempt = w.attempt - 1, next_attempt_at = now()
    FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt)
    WHERE w.id = c.id AND w.attempt = c.attempt AND w.status = 'pending'`,

  // The same for many attempts in one statement (the deliverer's group commit): each row fenced by its attempt.
  // The rows are found through the primary key (`= ANY`), planned per call with the real array size.
  webhookRecordAttempts: `
    UPDATE taskd.webhook_deliveries w
    SET status = a.status,
        response_status = a.response_status,
        error = a.error,
        next_attempt_at = CASE WHEN a.status = 'pending' THEN now() + a.retry_ms * interval '1 millisecond' END,
        delivered_at = CASE WHEN a.status = 'delivered' THEN now() END,
        history = w.history || jsonb_build_array(jsonb_build_object(
          'attempt', w.attempt, 'started_at', ${iso('a.started_at')}, 'finished_at', ${iso('now()')},
          'response_status', a.response_status, 'error', a.error))
    FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::text[], $6::float8[], $7::timestamptz[])
      AS a(id, attempt, status, response_status, error, retry_ms, started_at)
    WHERE w.id = ANY($1::uuid[]) AND w.id = a.id AND w.attempt = a.attempt AND w.status = 'pending'
    RETURNING w.id, w.attempt`,

  // A task's deliveries, oldest first; no row at all when the task does not exist (one row of NULLs when it has
  // none).
  webhookDeliveriesOfTask: `
    SELECT t.id AS task_id, ${DELIVERY}
    FROM taskd.tasks t LEFT JOIN taskd.webhook_deliveries d ON d.task_id = t.id
    WHERE t.id = $1 AND ${inPartitionOf('t', '$1')}
    ORDER BY d.created_at, d.id`,

  // Creates or replaces a schedule (keeping its history: created_at, the last tick) and wakes the tickers.
  scheduleUpsert: `
    WITH saved AS (
      INSERT INTO taskd.schedules AS s (name, cron, timezone, task, paused, next_run_at)
      VALUES ($1, $2, $3, $4::jsonb, $5, $6::timestamptz)
      ON CONFLICT (name) DO UPDATE
        SET cron = excluded.cron, timezone = excluded.timezone, task = excluded.task, paused = excluded.paused,
            next_run_at = excluded.next_run_at, updated_at = now()
      RETURNING ${SCHEDULE}
    ), told AS (SELECT pg_notify('${CHANNELS.schedulesChanged}', $1))
    SELECT saved.* FROM saved LEFT JOIN told ON true`,

  scheduleGet: `SELECT ${SCHEDULE} FROM taskd.schedules s WHERE name = $1`,

  scheduleList: `SELECT ${SCHEDULE} FROM taskd.schedules s ORDER BY name`,

  scheduleDelete: `
    WITH deleted AS (
      DELETE FROM taskd.schedules s WHERE name = $1 RETURNING ${SCHEDULE}
    ), told AS (SELECT pg_notify('${CHANNELS.schedulesChanged}', $1) FROM deleted)
    SELECT deleted.* FROM deleted LEFT JOIN told ON true`,

  // The active schedules whose next tick has come, by the database's clock (the one all instances share).
  scheduleDue: `
    SELECT name, cron, timezone, task, ${iso('next_run_at')} AS next_run_at, ${iso('now()')} AS now
    FROM taskd.schedules
    WHERE NOT paused AND next_run_at <= now()
    ORDER BY next_run_at
    LIMIT $1`,

  // How long until the next tick of any active schedule (negative: one is due); null: none.
  scheduleNextDueInMs: `
    SELECT (extract(epoch FROM min(next_run_at) - now()) * 1000)::float8 AS in_ms
    FROM taskd.schedules WHERE NOT paused`,

  // One tick, once across every instance. The schedule row is locked only while it still holds the next tick
  // the ticker read ($2): an instance that lost the race finds it moved on (PostgreSQL re-reads a row it waited
  // for) and does nothing. The task's idempotency key (schedule:<name>:<tick>) is unique besides: the database
  // itself refuses a second task for a tick. The task, the schedule's new next tick and the notifications
  // commit together.
  scheduleFire: `
    WITH due AS (
      SELECT name FROM taskd.schedules
      WHERE name = $1 AND next_run_at = $2::timestamptz AND NOT paused
      FOR UPDATE
    ), keyed AS (
      INSERT INTO taskd.idempotency_keys (key, task_id, id_time)
      SELECT $15::text, $5::uuid, taskd.task_id_time($5::uuid) FROM due
      ON CONFLICT (key) DO NOTHING
      RETURNING task_id
    ), inserted AS (
      INSERT INTO taskd.tasks AS t (id, id_time, handler, payload, timeout_ms, queue, priority, run_at, state,
                               max_attempts, backoff_base_ms, backoff_max_ms, idempotency_key, request_fingerprint,
                               callback_url)
      SELECT $5::uuid, taskd.task_id_time($5::uuid), $6::text, $7::jsonb, $8::int, $9::text, $10::int,
             coalesce($11::timestamptz, now() + $18::float8 * interval '1 millisecond', now()),
             CASE WHEN $11::timestamptz > now() OR $18::float8 > 0 THEN 'scheduled' ELSE 'queued' END::taskd.task_state,
             $12::int, $13::int, $14::int, $15::text, $16::text, $17::text
      FROM keyed
      RETURNING ${RECORD}
    ), advanced AS (
      UPDATE taskd.schedules s
      SET next_run_at = $4::timestamptz, last_run_at = $3::timestamptz,
          last_task_id = coalesce((SELECT id FROM inserted), s.last_task_id)
      FROM due WHERE s.name = due.name
      RETURNING s.name
    ), woken AS (
      SELECT pg_notify('${TASK_CREATED_CHANNEL}', '1') FROM inserted WHERE state = 'queued'
    ), announced AS (${announce('inserted')})
    SELECT (SELECT count(*) FROM advanced)::int AS advanced, inserted.*
    FROM (SELECT 1) one LEFT JOIN inserted ON true LEFT JOIN woken ON true, ${announced}`,

  // ---- operations: the dashboard's reads and bulk actions ----

  // Throughput and latency of the tasks that finished within the last $1 seconds, in buckets of $2 seconds, and
  // over the whole window (the row whose bucket is null), in one statement. The range on finished_at is served by
  // the partial index tasks_finished_at (hence the explicit IS NOT NULL): only the window's rows are read.
  // Pickup: from when the task could run (run_at; created_at for the original API's) to its last start; run:
  // from that start to its end. A task cancelled before it ever started counts, and has neither.
  taskStats: `
    WITH finished AS (
      SELECT state::text AS state, finished_at,
             greatest(0, extract(epoch FROM started_at - coalesce(run_at, created_at)) * 1000)::float8 AS pickup_ms,
             greatest(0, extract(epoch FROM finished_at - started_at) * 1000)::float8 AS run_ms
      FROM taskd.tasks
      WHERE finished_at IS NOT NULL AND finished_at >= now() - $1::int * interval '1 second'
    )
    SELECT ${iso("(date_bin($2::int * interval '1 second', finished_at, timestamptz '2000-01-01 00:00:00+00'))")} AS start,
           grouping(date_bin($2::int * interval '1 second', finished_at, timestamptz '2000-01-01 00:00:00+00'))::int AS total,
           count(*) FILTER (WHERE state = 'completed')::int AS completed,
           count(*) FILTER (WHERE state = 'failed')::int AS failed,
           count(*) FILTER (WHERE state = 'cancelled')::int AS cancelled,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY pickup_ms) AS pickup_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY pickup_ms) AS pickup_p95_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY run_ms) AS run_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY run_ms) AS run_p95_ms
    FROM finished
    GROUP BY GROUPING SETS ((date_bin($2::int * interval '1 second', finished_at, timestamptz '2000-01-01 00:00:00+00')), ())
    ORDER BY total DESC, start`,

  // Every registered worker process, with the tasks it runs now (tasks_running_owner serves the count) and
  // whether it holds the maintenance leadership. A heartbeat sets expires_at to now() + LEASE_MS, so the last one
  // was LEASE_MS ($1, as this process is configured) before it.
  workerList: `
    SELECT w.id, w.host, w.pid, w.concurrency, ${iso('w.started_at')} AS started_at,
           ${iso("(w.expires_at - $1::int * interval '1 millisecond')")} AS last_heartbeat_at,
           ${iso('w.expires_at')} AS lease_expires_at,
           (SELECT count(*)::int FROM taskd.tasks t WHERE t.state = 'running' AND t.owner = w.id) AS running,
           EXISTS (SELECT 1 FROM taskd.leader l WHERE l.worker_id = w.id AND l.expires_at > now()) AS leader
    FROM taskd.workers w
    ORDER BY w.started_at, w.id`,

  // How many tasks a bulk action would touch: those in the states $1 matching the filter, at most $4.
  taskBulkCount: `
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM taskd.tasks
      WHERE state = ANY($1::taskd.task_state[])
        AND ($2::text IS NULL OR handler = $2)
        AND ($3::text IS NULL OR queue = $3)
      LIMIT $4
    ) matching`,

  // Bulk cancel: like taskCancel (an external worker's lease ends too, and the completion webhook is written), for
  // up to $4 tasks in the states $1 (only unfinished ones are passed) matching the filter, oldest first. SKIP LOCKED: a task being ended or claimed right now is left out rather than
  // waited for. Each running one's runner is told to abort, wherever it runs.
  taskBulkCancel: `
    WITH picked AS (
      SELECT id, id_time, state FROM taskd.tasks
      WHERE state = ANY($1::taskd.task_state[])
        AND ($2::text IS NULL OR handler = $2)
        AND ($3::text IS NULL OR queue = $3)
      ORDER BY seq
      LIMIT $4
      FOR UPDATE SKIP LOCKED
    ), cancelled AS (
      UPDATE taskd.tasks t
      SET state = 'cancelled', failure = 'cancelled', result = $5, finished_at = now(), ${leaseEnded},
          history = CASE WHEN p.state = 'running' THEN t.history || jsonb_build_array(jsonb_build_object(
            'attempt', t.attempt, 'worker_id', ${runHolder('t')}, 'started_at', ${iso('t.started_at')},
            'finished_at', ${iso('now()')}, 'outcome', 'cancelled',
            'error', jsonb_build_object('type', 'cancelled', 'message', $5::text))) ELSE t.history END
      FROM picked p
      WHERE t.id = p.id AND t.id_time = p.id_time
      RETURNING t.id, p.state::text AS before, ${OUTBOX_RETURNING}
    ), outboxed AS (${outbox('cancelled')}
    ), told AS (
      SELECT pg_notify('${CHANNELS.taskCancelled}', id::text) FROM cancelled WHERE before = 'running'
    ), announced AS (${announce('cancelled')})
    SELECT (SELECT count(*)::int FROM cancelled) AS n, (SELECT count(*) FROM told) AS told_, ${announced}`,

  // Bulk retry: like taskRetry, for up to $4 failed or cancelled tasks matching the filter, oldest first.
  taskBulkRetry: `
    WITH picked AS (
      SELECT id, id_time FROM taskd.tasks
      WHERE state = ANY($1::taskd.task_state[])
        AND ($2::text IS NULL OR handler = $2)
        AND ($3::text IS NULL OR queue = $3)
      ORDER BY seq
      LIMIT $4
      FOR UPDATE SKIP LOCKED
    ), retried AS (
      UPDATE taskd.tasks t
      SET state = 'queued', failure = NULL, result = '', output = NULL, finished_at = NULL, owner = NULL,
          started_at = NULL, run_at = now(), attempt_base = t.attempt
      FROM picked p
      WHERE t.id = p.id AND t.id_time = p.id_time
      RETURNING t.id
    ), woken AS (
      SELECT pg_notify('${TASK_CREATED_CHANNEL}', count(*)::text) FROM retried HAVING count(*) > 0
    ), announced AS (${announce('retried')})
    SELECT (SELECT count(*)::int FROM retried) AS n, (SELECT count(*) FROM woken) AS woken_, ${announced}`,
} as const;

export type StatementName = keyof typeof SQL;

/** A statement's text, for the benchmark's measurements of exactly what the store runs. */
export const statementText = (name: StatementName): string => SQL[name];

const PLANNED_PER_CALL = new Set<StatementName>([
  'taskList',
  'taskStats',
  'taskBulkCount',
  'taskBulkCancel',
  'taskBulkRetry',
  'webhookRecordAttempts',
  'webhookReleaseClaims',
]);

/** A partition of taskd.tasks; a time partition has both bounds, the old tasks' one only an upper bound. */
export interface TaskPartition {
  name: string;
  lower_bound: string | null;
  upper_bound: string | null;
  expired: boolean;
}

/** A schedule as v1 presents it (see SCHEDULE); `next_runs` is computed by the service. */
export interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  task: unknown;
  paused: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  last_task_id: string | null;
  created_at: string;
  updated_at: string;
}

/** An active schedule whose next tick has come, with the database's time. */
export interface DueSchedule {
  name: string;
  cron: string;
  timezone: string;
  task: unknown;
  next_run_at: string;
  now: string;
}

export interface NewTask {
  id: string;
  handler: string;
  input: string;
  timeoutMs: number;
}

/** A v1 create, validated: every field has its value (defaults applied by the service). */
export interface NewTaskV1 {
  id: string;
  kind: string;
  /** The input's JSON text. */
  input: string;
  timeoutMs: number;
  queue: string;
  priority: number;
  /** An explicit start time, or null. */
  runAt: Date | null;
  /** Or a delay, added to the database's now() by the insert (null: none). */
  delayMs?: number | null;
  maxAttempts: number;
  backoffBaseMs: number | null;
  backoffMaxMs: number | null;
  idempotencyKey: string | null;
  fingerprint: string | null;
  callbackUrl: string | null;
}

/**
 * Creates that may start running as they are inserted: at most `max` of them, under worker `owner`. The insert
 * adds those that did to `started`, in the form a claim returns them.
 */
export interface Dispatch {
  owner: string;
  max: number;
  started: ClaimedTask[];
}

/** A row of VIEW, as the statements return it. */
interface ViewRow {
  id: string;
  input: string;
  state: TaskState;
  result: string;
  created_at: string;
}

const taskView = (row: ViewRow): TaskView => ({
  id: row.id,
  task: row.input,
  state: row.state,
  result: row.result,
  createdAt: row.created_at,
});

/** A task as v1 presents it (see RECORD). */
export interface TaskRecord {
  id: string;
  kind: string;
  queue: string;
  state: TaskState;
  input: unknown;
  result: unknown;
  error: { type: FailureKind; message: string } | null;
  priority: number;
  attempt: number;
  max_attempts: number;
  attempt_base: number;
  timeout_ms: number;
  progress: { percent: number | null; message: string | null; updated_at: string } | null;
  idempotency_key: string | null;
  callback_url: string | null;
  created_at: string;
  run_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** A delivery claimed for an attempt. */
export interface ClaimedDelivery {
  id: string;
  task_id: string;
  url: string;
  payload: { type: string; timestamp: string; data: TaskRecord };
  attempt: number;
}

/** How one delivery attempt ended. */
export interface DeliveryAttempt {
  id: string;
  attempt: number;
  /** `pending`: to be tried again after `retryInMs`. */
  status: 'delivered' | 'pending' | 'failed';
  responseStatus: number | null;
  error: string | null;
  retryInMs: number;
  startedAt: Date;
}

/** A webhook delivery of a task (see DELIVERY). */
export interface DeliveryRecord {
  webhook_id: string;
  type: 'task.completed' | 'task.failed' | 'task.cancelled';
  url: string;
  attempt: number;
  status: 'pending' | 'delivered' | 'failed';
  response_status: number | null;
  error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
  attempts: {
    attempt: number;
    started_at: string;
    finished_at: string;
    response_status: number | null;
    error: string | null;
  }[];
}

export interface Attempt {
  attempt: number;
  worker_id: string | null;
  started_at: string | null;
  finished_at: string | null;
  outcome: 'running' | 'completed' | 'failed' | 'retried' | 'requeued' | 'cancelled';
  error: { type: FailureKind; message: string } | null;
}

export interface TaskFilter {
  states?: readonly TaskState[] | undefined;
  kind?: string | undefined;
  queue?: string | undefined;
  /** The seq of the last task of the previous page. */
  beforeSeq?: string | undefined;
  limit: number;
}

export interface QueueRow {
  name: string;
  paused: boolean;
  concurrency: number | null;
  counts: Partial<Record<TaskState, number>>;
  oldest_queued_age_ms: number | null;
}

/** Finished tasks of one bucket of time (or of the whole window), and their latencies in ms (null: none). */
export interface StatsRow {
  /** The bucket's start; for the whole window, the start of its first bucket (ignored). */
  start: string | null;
  /** 1 for the row of the whole window. */
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  pickup_p50_ms: number | null;
  pickup_p95_ms: number | null;
  run_p50_ms: number | null;
  run_p95_ms: number | null;
}

/** A registered worker process. */
export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  concurrency: number | null;
  started_at: string;
  last_heartbeat_at: string;
  lease_expires_at: string;
  running: number;
  leader: boolean;
}

/** Which tasks a bulk action is for: the states it applies to (already narrowed by the action), and filters. */
export interface BulkFilter {
  states: readonly TaskState[];
  kind?: string | undefined;
  queue?: string | undefined;
  limit: number;
}

/** A decision for one run, fenced by the claim it was made under. */
export interface SettleRow {
  id: string;
  owner: string;
  attempt: number;
  decision: Decision;
}

/** A run's latest progress, fenced by its claim like a settle. */
export interface ProgressRow {
  id: string;
  owner: string;
  attempt: number;
  /** 0–100, or null: the handler says what it does but not how far it is. */
  percent: number | null;
  message: string | null;
}

/** An external worker's hold on a running task: the token that fences its writes, and when it runs out. */
export interface Lease {
  token: string;
  expires_at: string;
}

/** A task an external worker claimed, with its lease. */
export interface LeasedTask {
  task: TaskRecord;
  lease: Lease;
}

type LeasedRow = TaskRecord & { lease_token: string; lease_expires_at: string };

function leased({ lease_token, lease_expires_at, ...task }: LeasedRow): LeasedTask {
  return { task, lease: { token: lease_token, expires_at: lease_expires_at } };
}

export interface TaskStoreOptions {
  /**
   * Kinds that external workers run (EXTERNAL_KINDS): the engine's claims never take them. Every process sharing
   * the database must list the same ones.
   */
  externalKinds?: readonly string[];
  /** Deadline of a statement that sets none (a read replica's store: a silent replica must not hold reads long). */
  deadlineMs?: number;
}

/** Per-call options: an abort signal (shutdown) and a deadline shorter than the default. */
export type StatementOptions = ExecuteOptions;

/** What a task whose run ended is: the labels its metrics are counted under. */
export interface EndedTask {
  id: string;
  kind: string;
  queue: string;
}

/** What the end of many runs at once did: failed for good, or retried / requeued; `about` names each task. */
export interface EndedRuns {
  failed: string[];
  retried: string[];
  about: Map<string, EndedTask>;
}

type ClaimedRow = {
  id: string;
  handler: string;
  queue: string;
  waited_s: number;
  input: unknown;
  json: boolean;
  timeout_ms: number;
  attempt: number;
  max_attempts: number;
  attempt_base: number;
  backoff_base_ms: number | null;
  backoff_max_ms: number | null;
};

function claimed(r: ClaimedRow): ClaimedTask {
  return {
    id: r.id,
    handler: r.handler,
    queue: r.queue,
    // A run_at in the future of started_at cannot happen; a clock that steps back is no wait at all.
    waitedMs: Math.max(0, r.waited_s * 1000),
    input: r.input,
    json: r.json,
    timeoutMs: r.timeout_ms,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    attemptBase: r.attempt_base,
    backoff:
      r.backoff_base_ms === null && r.backoff_max_ms === null
        ? NO_BACKOFF
        : {
            ...(r.backoff_base_ms !== null && { baseMs: r.backoff_base_ms }),
            ...(r.backoff_max_ms !== null && { maxMs: r.backoff_max_ms }),
          },
  };
}

/** The backoff of a task that sets none: one object for all of them, as a running task keeps its own until it ends. */
const NO_BACKOFF: Partial<Backoff> = Object.freeze({});

function lostRunValues(d: LostRunDecision): unknown[] {
  return [d.retry, d.failure, d.result, d.backoff.baseMs, d.backoff.maxMs];
}

type EndedRow = { id: string; state: string; kind: string; queue: string };

function endedRuns(rows: EndedRow[]): EndedRuns {
  return {
    failed: rows.filter((r) => r.state === 'failed').map((r) => r.id),
    retried: rows.filter((r) => r.state !== 'failed').map((r) => r.id),
    about: new Map(rows.map((r) => [r.id, { id: r.id, kind: r.kind, queue: r.queue }])),
  };
}

/** What `metricsSample` reads: the backlog by queue and state, and the workers alive. */
export interface MetricsSample {
  liveWorkers: number;
  queues: { queue: string; state: 'queued' | 'scheduled' | 'running'; n: number; oldest_s: number | null }[];
}

/** A table of taskd's schema, as the statistics views see it. */
export interface TableHealth {
  name: string;
  live_tuples: number;
  dead_tuples: number;
  total_bytes: number;
  last_autovacuum: string | null;
  last_vacuum: string | null;
  last_autoanalyze: string | null;
  /** Since the last vacuum of either kind; null: never vacuumed. */
  vacuumed_s_ago: number | null;
}

/** Something that holds the xmin horizon back (the oldest first). */
export interface HorizonHolder {
  holder: 'session' | 'replication_slot' | 'prepared_transaction';
  pid: number | null;
  user: string | null;
  application_name: string | null;
  state: string | null;
  backend_type: string | null;
  /** A replication slot's or prepared transaction's name. */
  name: string | null;
  /** Since when: the transaction's start, or when it was prepared. */
  since: string | null;
  query_start: string | null;
  age_s: number | null;
  xid_age: number | null;
}

export interface ServerHealth {
  notification_queue_usage: number;
  max_connections: number;
  connections: Record<string, number>;
  replicas: { application_name: string; client_addr: string | null; state: string; replay_lag_s: number }[];
}

export interface HealthSample {
  tables: TableHealth[];
  horizon: HorizonHolder[];
  server: ServerHealth;
}

export class TaskStore {
  /**
   * @param pool every statement but the heartbeat's
   * @param lifeline the heartbeat's own connection (see Lifeline); without one, the pool serves it too
   */
  private readonly externalKinds: readonly string[];
  private readonly deadlineMs: number | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly lifeline?: Lifeline,
    options: TaskStoreOptions = {},
  ) {
    this.externalKinds = options.externalKinds ?? [];
    this.deadlineMs = options.deadlineMs;
  }

  private async run<R extends pg.QueryResultRow>(
    name: StatementName,
    values: unknown[],
    options?: StatementOptions,
  ): Promise<pg.QueryResult<R>> {
    // Some batch statements are planned for each call, with the real array sizes: a generic plan guesses 10 rows
    // for every unnest, and a join planned on that guess can go quadratic (a 1,000-row settle once took a second
    // instead of a few milliseconds). The claims, the settle and progress are prepared instead: their probes are
    // LATERAL (one primary-key lookup per row whatever the guess), and planning them over every partition of
    // taskd.tasks at each call cost more than running them (13 ms of planning for a 100-task claim with six
    // partitions, measured; the prepared plan prunes partitions as it runs).
    const query = PLANNED_PER_CALL.has(name)
      ? { text: SQL[name], values }
      : { name, text: SQL[name], values };
    if (this.deadlineMs !== undefined && options?.deadlineMs === undefined) {
      return execute<R>(this.pool, query, { ...options, deadlineMs: this.deadlineMs });
    }
    return execute<R>(this.pool, query, options);
  }

  private async rows<R extends pg.QueryResultRow>(
    name: StatementName,
    values: unknown[],
    options?: StatementOptions,
  ): Promise<R[]> {
    return (await this.run<R>(name, values, options)).rows;
  }

  async ping(): Promise<void> {
    await this.run('ping', [], { deadlineMs: 3000 });
  }

  async serverConnectionCapacity(): Promise<{ maxConnections: number; inUse: number }> {
    const [row] = await this.rows<{ max_connections: number; in_use: number }>(
      'serverConnectionCapacity',
      [],
    );
    return { maxConnections: row?.max_connections ?? 0, inUse: row?.in_use ?? 0 };
  }

  /** Inserts `tasks`; with `dispatch`, the first `dispatch.max` start running at once (see startsNow). */
  async taskInsertMany(tasks: readonly NewTask[], dispatch?: Dispatch): Promise<void> {
    const [row] = await this.rows<{ started: ClaimedRow[] }>('taskInsertMany', [
      tasks.map((t) => t.id),
      tasks.map((t) => t.handler),
      tasks.map((t) => t.input),
      tasks.map((t) => t.timeoutMs),
      dispatch?.max ?? 0,
      dispatch?.owner ?? null,
      this.externalKinds,
    ]);
    if (dispatch) dispatch.started.push(...(row?.started ?? []).map(claimed));
  }

  /**
   * Inserts all of `tasks` or none (a unique violation: an idempotency key already taken). With `dispatch`, up
   * to `dispatch.max` of them that are runnable now start running at once (see startsNow).
   */
  async taskInsertManyV1(tasks: readonly NewTaskV1[], dispatch?: Dispatch): Promise<TaskRecord[]> {
    const rows = await this.rows<TaskRecord & { claimed_?: ClaimedRow | null }>('taskInsertManyV1', [
      tasks.map((t) => t.id),
      tasks.map((t) => t.kind),
      tasks.map((t) => t.input),
      tasks.map((t) => t.timeoutMs),
      tasks.map((t) => t.queue),
      tasks.map((t) => t.priority),
      tasks.map((t) => t.runAt),
      tasks.map((t) => t.maxAttempts),
      tasks.map((t) => t.backoffBaseMs),
      tasks.map((t) => t.backoffMaxMs),
      tasks.map((t) => t.idempotencyKey),
      tasks.map((t) => t.fingerprint),
      tasks.map((t) => t.callbackUrl),
      tasks.map((t) => t.delayMs ?? null),
      dispatch?.max ?? 0,
      dispatch?.owner ?? null,
      this.externalKinds,
    ]);
    for (const r of rows) {
      if (r.claimed_) dispatch?.started.push(claimed(r.claimed_));
      delete r.claimed_;
    }
    // RETURNING gives no order: answer in the order of the request.
    const byId = new Map(rows.map((r) => [r.id, r]));
    return tasks.map((t) => byId.get(t.id)!);
  }

  async taskGet(id: string): Promise<TaskView | undefined> {
    const [row] = await this.rows<ViewRow>('taskGet', [id]);
    return row && taskView(row);
  }

  /** The original API's views of the tasks of `ids` that exist, in no particular order. */
  async taskGetViews(ids: readonly string[]): Promise<TaskView[]> {
    return (await this.rows<ViewRow>('taskGetViews', [ids])).map(taskView);
  }

  async taskGetRecord(id: string): Promise<TaskRecord | undefined> {
    return (await this.rows<TaskRecord>('taskGetRecord', [id]))[0];
  }

  /** The tasks of `ids` that exist, in no particular order. */
  async taskGetRecords(ids: readonly string[]): Promise<TaskRecord[]> {
    return this.rows<TaskRecord>('taskGetRecords', [ids]);
  }

  /**
   * Of the runs given (task id and attempt), those the database no longer has running under `owner`, with the
   * state the task is in now (null: the task is gone).
   */
  async taskRunsEnded(
    owner: string,
    runs: readonly { id: string; attempt: number }[],
    options?: StatementOptions,
  ): Promise<{ id: string; state: TaskState | null }[]> {
    return this.rows<{ id: string; state: TaskState | null }>(
      'taskRunsEnded',
      [runs.map((r) => r.id), runs.map((r) => r.attempt), owner],
      options,
    );
  }

  async taskGetByIdempotencyKey(
    key: string,
  ): Promise<(TaskRecord & { request_fingerprint: string | null }) | undefined> {
    return (
      await this.rows<TaskRecord & { request_fingerprint: string | null }>('taskGetByIdempotencyKey', [key])
    )[0];
  }

  async taskList(filter: TaskFilter): Promise<(TaskRecord & { seq: string })[]> {
    return this.rows<TaskRecord & { seq: string }>('taskList', [
      filter.states && filter.states.length > 0 ? filter.states : null,
      filter.kind ?? null,
      filter.queue ?? null,
      filter.beforeSeq ?? null,
      filter.limit,
    ]);
  }

  /** The runs of a task, oldest first; the running one (if any) last. */
  async taskAttempts(id: string): Promise<Attempt[] | undefined> {
    const [row] = await this.rows<{
      history: Attempt[];
      attempt: number;
      owner: string | null;
      started_at: string | null;
      state: TaskState;
    }>('taskHistory', [id]);
    if (!row) return undefined;
    if (row.state !== 'running') return row.history;
    const current: Attempt = {
      attempt: row.attempt,
      worker_id: row.owner,
      started_at: row.started_at,
      finished_at: null,
      outcome: 'running',
      error: null,
    };
    return [...row.history, current];
  }

  /** Cancels a task that has not ended. `before` is its state before (undefined: no such task). */
  async taskCancel(
    id: string,
    message: string,
  ): Promise<{ before: TaskState | undefined; cancelled: boolean; kind?: string; queue?: string }> {
    const [row] = await this.rows<{ before: TaskState; cancelled: boolean; kind: string; queue: string }>(
      'taskCancel',
      [id, message],
    );
    if (!row) return { before: undefined, cancelled: false };
    return { before: row.before, cancelled: row.cancelled, kind: row.kind, queue: row.queue };
  }

  /** Queues a failed or cancelled task again; undefined when it is in another state or does not exist. */
  async taskRetry(id: string): Promise<TaskRecord | undefined> {
    return (await this.rows<TaskRecord>('taskRetry', [id]))[0];
  }

  async taskClaimAvailable(owner: string, limit: number, options?: StatementOptions): Promise<ClaimedTask[]> {
    return (
      await this.rows<ClaimedRow>('taskClaimAvailable', [owner, limit, this.externalKinds], options)
    ).map(claimed);
  }

  async queueAnyLimited(): Promise<boolean> {
    return (await this.rows<{ any: boolean }>('queueAnyLimited', []))[0]?.any ?? false;
  }

  /**
   * Claims from the queues with a concurrency limit, never past a limit, counted across every process: in one
   * transaction that locks each limited queue it claims from, so that its claimers take turns.
   */
  async taskClaimLimited(owner: string, limit: number, options?: StatementOptions): Promise<ClaimedTask[]> {
    const rows = await this.claimFromLimitedQueues<ClaimedRow>(
      limit,
      options,
      'taskClaimFromQueue',
      (room, queue) => [owner, room, queue, this.externalKinds],
    );
    return rows.map(claimed);
  }

  /**
   * An external worker's claim: up to `limit` runnable tasks of `kinds`, each held by a lease of `leaseMs`, from
   * the unlimited queues first and then from the limited ones, as the engine claims (same order, same pause and
   * concurrency rules).
   */
  async taskLease(
    kinds: readonly string[],
    limit: number,
    leaseMs: number,
    worker: string,
    options?: StatementOptions,
  ): Promise<LeasedTask[]> {
    const rows = await this.rows<LeasedRow>('taskLeaseAvailable', [kinds, limit, leaseMs, worker], options);
    if (rows.length < limit && (await this.queueAnyLimited())) {
      rows.push(
        ...(await this.claimFromLimitedQueues<LeasedRow>(
          limit - rows.length,
          options,
          'taskLeaseFromQueue',
          (room, queue) => [kinds, room, leaseMs, worker, queue],
        )),
      );
    }
    return rows.map(leased);
  }

  /** Extends a lease that is still held (and stores the progress given); undefined: the lease is lost. */
  async taskLeaseRenew(
    id: string,
    token: string,
    leaseMs: number,
    progress: { percent: number | null; message: string | null } | undefined,
  ): Promise<Lease | undefined> {
    const [row] = await this.rows<{ lease_token: string; lease_expires_at: string }>('taskLeaseRenew', [
      id,
      token,
      leaseMs,
      progress !== undefined,
      progress?.percent ?? null,
      progress?.message ?? null,
    ]);
    return row && { token: row.lease_token, expires_at: row.lease_expires_at };
  }

  /** Completes a run held by the lease, with the result's JSON text; undefined: the lease is lost. */
  async taskLeaseComplete(id: string, token: string, output: string): Promise<TaskRecord | undefined> {
    return (await this.rows<TaskRecord>('taskLeaseComplete', [id, token, '', output]))[0];
  }

  /** Ends a run held by the lease as failed, retried as `decision` says; undefined: the lease is lost. */
  async taskLeaseFail(id: string, token: string, decision: LostRunDecision): Promise<TaskRecord | undefined> {
    return (await this.rows<TaskRecord>('taskLeaseFail', [id, token, ...lostRunValues(decision)]))[0];
  }

  /** Ends the external runs whose lease ran out, as `decision` says. */
  async taskReapExpiredLeases(decision: LostRunDecision, options?: StatementOptions): Promise<EndedRuns> {
    return endedRuns(await this.rows<EndedRow>('taskReapExpiredLeases', lostRunValues(decision), options));
  }

  /**
   * Claims from the queues with a concurrency limit, never past a limit, counted across every process and
   * external worker: in one transaction that locks each limited queue it claims from, so that its claimers take
   * turns. `statement` claims up to `room` tasks of one queue with the values `values` gives.
   */
  private async claimFromLimitedQueues<R extends pg.QueryResultRow>(
    limit: number,
    options: StatementOptions | undefined,
    statement: StatementName,
    values: (room: number, queue: string) => unknown[],
  ): Promise<R[]> {
    if (options?.signal?.aborted) return [];
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new DbUnavailableError('no database connection could be had', { cause: err });
    }
    const claimedRows: R[] = [];
    let broken: Error | undefined;
    const q = <T extends pg.QueryResultRow>(name: StatementName, v: unknown[]) =>
      runWithDeadline<T>(client, { name, text: SQL[name], values: v }, options ?? {}, (b) => (broken ??= b));
    try {
      await q('ping', []).then(() => client.query('BEGIN'));
      const queues = (await q<{ name: string; concurrency: number }>('queueLockLimited', [])).rows;
      for (const { name, concurrency } of queues) {
        if (claimedRows.length >= limit) break;
        const running = (await q<{ n: number }>('queueRunningCount', [name])).rows[0]?.n ?? 0;
        const room = Math.min(concurrency - running, limit - claimedRows.length);
        if (room <= 0) continue;
        claimedRows.push(...(await q<R>(statement, values(room, name))).rows);
      }
      await client.query('COMMIT');
      return claimedRows;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Makes due scheduled tasks runnable (and wakes the claimers); returns how many. */
  async taskPromoteDue(limit: number, options?: StatementOptions): Promise<number> {
    return (await this.rows<{ n: number }>('taskPromoteDue', [limit], options))[0]?.n ?? 0;
  }

  /** Returns the ids whose decision was written; the others had been fenced off. */
  async taskSettleMany(rows: readonly SettleRow[], options?: StatementOptions): Promise<Set<string>> {
    const written = await this.rows<{ id: string }>(
      'taskSettleMany',
      [
        rows.map((r) => r.id),
        rows.map((r) => r.owner),
        rows.map((r) => r.attempt),
        rows.map((r) => r.decision.state),
        rows.map((r) => (r.decision.state === 'completed' ? null : r.decision.failure)),
        rows.map((r) => r.decision.result),
        rows.map((r) => (r.decision.state === 'completed' ? (r.decision.output ?? null) : null)),
        rows.map((r) => (r.decision.state === 'scheduled' ? r.decision.delayMs : 0)),
      ],
      options,
    );
    return new Set(written.map((r) => r.id));
  }

  /** Writes the progress of running tasks; returns the ids written (the others' runs had ended or were lost). */
  async taskProgressMany(rows: readonly ProgressRow[], options?: StatementOptions): Promise<Set<string>> {
    const written = await this.rows<{ id: string }>(
      'taskProgressMany',
      [
        rows.map((r) => r.id),
        rows.map((r) => r.owner),
        rows.map((r) => r.attempt),
        rows.map((r) => r.percent),
        rows.map((r) => r.message),
      ],
      options,
    );
    return new Set(written.map((r) => r.id));
  }

  async metricsSample(options?: StatementOptions): Promise<MetricsSample> {
    const [row] = await this.rows<{ live_workers: number; queues: MetricsSample['queues'] }>(
      'metricsSample',
      [],
      options,
    );
    return { liveWorkers: row?.live_workers ?? 0, queues: row?.queues ?? [] };
  }

  /** The database's health: three statements over the statistics views, none of them reading a table. */
  async healthSample(options?: StatementOptions): Promise<HealthSample> {
    // One after the other: a sample holds one pooled connection at a time, whatever else the process does.
    const tables = await this.rows<TableHealth>('healthTables', [], options);
    const horizon = await this.rows<HorizonHolder>('healthHorizon', [], options);
    const [server] = await this.rows<ServerHealth>('healthServer', [], options);
    return { tables, horizon, server: server! };
  }

  async queueList(): Promise<QueueRow[]> {
    return this.rows<QueueRow>('queueList', []);
  }

  /** `paused` undefined and `concurrency` undefined keep their values; concurrency null removes the limit. */
  async queueUpdate(
    name: string,
    paused: boolean | undefined,
    concurrency: number | null | undefined,
  ): Promise<void> {
    await this.run('queueUpdate', [name, paused ?? null, concurrency ?? null, concurrency !== undefined]);
  }
  async workerRegister(
    id: string,
    host: string,
    pid: number,
    leaseMs: number,
    concurrency: number,
  ): Promise<void> {
    const values = [id, host, pid, leaseMs, concurrency];
    if (this.lifeline)
      await this.lifeline.query({ name: 'workerRegister', text: SQL.workerRegister, values });
    else await this.run('workerRegister', values);
  }

  /**
   * Renews this worker's lease and its claim on the maintenance leadership. `held` is false when the worker row
   * is gone: another process declared this one dead.
   */
  async workerHeartbeat(id: string, leaseMs: number): Promise<{ held: boolean; leader: boolean }> {
    const query = { name: 'workerHeartbeat', text: SQL.workerHeartbeat, values: [id, leaseMs] };
    const result = this.lifeline
      ? await this.lifeline.query<{ held: number; leader: number }>(query)
      : await this.run<{ held: number; leader: number }>('workerHeartbeat', query.values);
    const row = result.rows[0];
    return { held: row?.held === 1, leader: row?.leader === 1 };
  }

  async workerReapExpired(
    selfId: string,
    decision: LostRunDecision,
    options?: StatementOptions,
  ): Promise<{ workers: string[]; tasks: string[]; retried: string[]; about: Map<string, EndedTask> }> {
    const [row] = await this.rows<{
      workers: string[] | null;
      tasks: string[] | null;
      retried: string[] | null;
      about: EndedTask[] | null;
    }>('workerReapExpired', [selfId, ...lostRunValues(decision)], options);
    return {
      workers: row?.workers ?? [],
      tasks: row?.tasks ?? [],
      retried: row?.retried ?? [],
      about: new Map((row?.about ?? []).map((t) => [t.id, t])),
    };
  }

  async taskFailOrphaned(decision: LostRunDecision, options?: StatementOptions): Promise<EndedRuns> {
    return endedRuns(await this.rows<EndedRow>('taskFailOrphaned', lostRunValues(decision), options));
  }

  async workerDeregister(
    id: string,
    decision: LostRunDecision,
    options?: StatementOptions,
  ): Promise<EndedRuns> {
    return endedRuns(
      await this.rows<EndedRow>('workerDeregister', [id, ...lostRunValues(decision)], options),
    );
  }

  /** Claims up to `limit` due deliveries, each held for `holdMs` (its attempt's longest time, and some). */
  async webhookClaimDue(
    limit: number,
    holdMs: number,
    options?: StatementOptions,
  ): Promise<ClaimedDelivery[]> {
    return this.rows<ClaimedDelivery>('webhookClaimDue', [limit, holdMs], options);
  }

  /** Records how an attempt ended; false when the attempt had been given up on (claimed again meanwhile). */
  async webhookRecordAttempt(a: DeliveryAttempt, options?: StatementOptions): Promise<boolean> {
    const rows = await this.rows<{ id: string }>(
      'webhookRecordAttempt',
      [a.id, a.attempt, a.status, a.responseStatus, a.error, a.retryInMs, a.startedAt],
      options,
    );
    return rows.length > 0;
  }

  /**
   * Records how many attempts ended, in one statement; answers, per attempt in order, whether it was written
   * (false: it had been given up on and claimed again meanwhile).
   */
  async webhookRecordAttempts(
    attempts: readonly DeliveryAttempt[],
    options?: StatementOptions,
  ): Promise<boolean[]> {
    if (attempts.length === 0) return [];
    const rows = await this.rows<{ id: string; attempt: number }>(
      'webhookRecordAttempts',
      [
        attempts.map((a) => a.id),
        attempts.map((a) => a.attempt),
        attempts.map((a) => a.status),
        attempts.map((a) => a.responseStatus),
        attempts.map((a) => a.error),
        attempts.map((a) => a.retryInMs),
        attempts.map((a) => a.startedAt),
      ],
      options,
    );
    const written = new Set(rows.map((r) => `${r.id}/${r.attempt}`));
    return attempts.map((a) => written.has(`${a.id}/${a.attempt}`));
  }

  /** Gives claimed deliveries back unsent: due again at once, their claim's attempt not counted. */
  async webhookReleaseClaims(
    claims: readonly { id: string; attempt: number }[],
    options?: StatementOptions,
  ): Promise<void> {
    if (claims.length === 0) return;
    await this.rows('webhookReleaseClaims', [claims.map((c) => c.id), claims.map((c) => c.attempt)], options);
  }

  /** The deliveries of a task, oldest first; undefined when there is no such task. */
  async webhookDeliveriesOfTask(taskId: string): Promise<DeliveryRecord[] | undefined> {
    const rows = await this.rows<DeliveryRecord & { task_id: string }>('webhookDeliveriesOfTask', [taskId]);
    if (rows.length === 0) return undefined;
    return rows.filter((r) => r.webhook_id !== null).map(({ task_id: _task, ...d }) => d);
  }

  /** Finished tasks of the last `windowS` seconds: the whole window's row first, then each bucket, oldest first. */
  async taskStats(windowS: number, bucketS: number): Promise<StatsRow[]> {
    return this.rows<StatsRow>('taskStats', [windowS, bucketS]);
  }

  /** Every registered worker; `leaseMs` is this process's LEASE_MS, from which the last heartbeat is told. */
  async workerList(leaseMs: number): Promise<WorkerRow[]> {
    return this.rows<WorkerRow>('workerList', [leaseMs]);
  }

  private bulkValues(filter: BulkFilter): unknown[] {
    return [filter.states, filter.kind ?? null, filter.queue ?? null, filter.limit];
  }

  /** How many tasks `filter` matches, at most its limit. */
  async taskBulkCount(filter: BulkFilter): Promise<number> {
    return (await this.rows<{ n: number }>('taskBulkCount', this.bulkValues(filter)))[0]?.n ?? 0;
  }

  /** Cancels up to `filter.limit` unfinished tasks matching it; returns how many. */
  async taskBulkCancel(filter: BulkFilter, message: string): Promise<number> {
    return (
      (await this.rows<{ n: number }>('taskBulkCancel', [...this.bulkValues(filter), message]))[0]?.n ?? 0
    );
  }

  /** Queues again up to `filter.limit` failed or cancelled tasks matching it; returns how many. */
  async taskBulkRetry(filter: BulkFilter): Promise<number> {
    return (await this.rows<{ n: number }>('taskBulkRetry', this.bulkValues(filter)))[0]?.n ?? 0;
  }

  async taskPartitions(retentionMs: number, options?: StatementOptions): Promise<TaskPartition[]> {
    return this.rows<TaskPartition>('taskPartitions', [retentionMs], options);
  }

  /** Makes the time partitions missing until `aheadMs` from now; returns how many it made. */
  async taskPartitionsEnsure(stepMs: number, behindMs: number, aheadMs: number): Promise<number> {
    return (await this.rows<{ made: number }>('taskPartitionsEnsure', [stepMs, behindMs, aheadMs]))[0]!.made;
  }

  async taskPartitionDrop(name: string, retentionMs: number, waitMs: number, options?: StatementOptions) {
    return (
      await this.rows<{ dropped: boolean }>('taskPartitionDrop', [name, retentionMs, waitMs], options)
    )[0]!.dropped;
  }

  async taskDeleteFinished(
    partition: string,
    retentionMs: number,
    limit: number,
    options?: StatementOptions,
  ) {
    return (
      await this.rows<{ deleted: number }>('taskDeleteFinished', [partition, retentionMs, limit], options)
    )[0]!.deleted;
  }

  async scheduleUpsert(s: {
    name: string;
    cron: string;
    timezone: string;
    task: unknown;
    paused: boolean;
    nextRunAt: Date | null;
  }): Promise<ScheduleRow> {
    const [row] = await this.rows<ScheduleRow>('scheduleUpsert', [
      s.name,
      s.cron,
      s.timezone,
      JSON.stringify(s.task),
      s.paused,
      s.nextRunAt,
    ]);
    return row!;
  }

  async scheduleGet(name: string): Promise<ScheduleRow | undefined> {
    return (await this.rows<ScheduleRow>('scheduleGet', [name]))[0];
  }

  async scheduleList(): Promise<ScheduleRow[]> {
    return this.rows<ScheduleRow>('scheduleList', []);
  }

  /** The schedule as it was; undefined when there was none of that name. */
  async scheduleDelete(name: string): Promise<ScheduleRow | undefined> {
    return (await this.rows<ScheduleRow>('scheduleDelete', [name]))[0];
  }

  async scheduleDue(limit: number, options?: StatementOptions): Promise<DueSchedule[]> {
    return this.rows<DueSchedule>('scheduleDue', [limit], options);
  }

  /** Milliseconds until the next tick of any active schedule (≤ 0: one is due); null when there is none. */
  async scheduleNextDueInMs(options?: StatementOptions): Promise<number | null> {
    return (await this.rows<{ in_ms: number | null }>('scheduleNextDueInMs', [], options))[0]?.in_ms ?? null;
  }

  /**
   * Creates the task of one tick and moves the schedule on to `next`, if the schedule still had `expected` as its
   * next tick. `advanced` false: another instance ran this tick first (or the schedule changed); `task` is
   * undefined then, or when the tick's idempotency key was already taken.
   */
  async scheduleFire(
    fire: { name: string; expected: string; tick: Date; next: Date | null; task: NewTaskV1 },
    options?: StatementOptions,
  ): Promise<{ advanced: boolean; task: TaskRecord | undefined }> {
    const t = fire.task;
    const [row] = await this.rows<TaskRecord & { advanced: number; announced_: unknown }>(
      'scheduleFire',
      [
        fire.name,
        fire.expected,
        fire.tick,
        fire.next,
        t.id,
        t.kind,
        t.input,
        t.timeoutMs,
        t.queue,
        t.priority,
        t.runAt,
        t.maxAttempts,
        t.backoffBaseMs,
        t.backoffMaxMs,
        t.idempotencyKey,
        t.fingerprint,
        t.callbackUrl,
        t.delayMs ?? null,
      ],
      options,
    );
    if (!row) return { advanced: false, task: undefined };
    const { advanced, announced_: _announced, ...task } = row;
    // No task inserted: the LEFT JOIN's columns are all null.
    return { advanced: advanced > 0, task: task.id ? task : undefined };
  }
}
