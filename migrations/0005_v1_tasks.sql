-- The task model of v1 (shared/api v1 contract), added in place: every row the original API created keeps
-- reading as before (kind = handler, input = the posted string, max_attempts 1, queue 'default', priority 0).
-- Columns with constant defaults are added without rewriting the table; constraints are added NOT VALID here
-- (no scan under an exclusive lock) and validated by 0006, which does not block writers.

ALTER TABLE taskd.tasks
  -- The queue the task belongs to (pausing and concurrency limits apply per queue).
  ADD COLUMN queue text NOT NULL DEFAULT 'default',
  -- Higher runs first; FIFO (seq) among equals.
  ADD COLUMN priority integer NOT NULL DEFAULT 0,
  -- When a `scheduled` task becomes runnable (a delay, or the next retry); the last such time otherwise.
  ADD COLUMN run_at timestamptz,
  ADD COLUMN max_attempts integer NOT NULL DEFAULT 1,
  -- `attempt` when the task was last retried by hand: it may run max_attempts more times from there.
  ADD COLUMN attempt_base integer NOT NULL DEFAULT 0,
  -- Exponential backoff between retries (full jitter): the first gap's cap, and the cap of every gap.
  ADD COLUMN backoff_base_ms integer,
  ADD COLUMN backoff_max_ms integer,
  -- v1's JSON input and result. A task of the original API keeps its string in `input` and its Result text in
  -- `result`, and has neither.
  ADD COLUMN payload jsonb,
  ADD COLUMN output jsonb,
  -- {"percent": 0-100 or null, "message": text or null, "updated_at": timestamp}, written by the handler.
  ADD COLUMN progress jsonb,
  -- Idempotent creates: the key, and a fingerprint of the request it was first used with.
  ADD COLUMN idempotency_key text,
  ADD COLUMN request_fingerprint text,
  -- Where the completion webhook goes (delivered by the webhook outbox).
  ADD COLUMN callback_url text,
  -- The runs that ended, oldest first: [{"attempt", "worker_id", "started_at", "finished_at", "outcome",
  -- "error"}]. Appended by the statement that ends the run, in the row it already writes: no second table, no
  -- second index entry per run. The running attempt, if any, is the row itself.
  ADD COLUMN history jsonb NOT NULL DEFAULT '[]';

ALTER TABLE taskd.tasks ALTER COLUMN input DROP NOT NULL;

-- The state machine of v1, enforced where the data lives. Replaces the checks of 0001 that knew four states.
ALTER TABLE taskd.tasks
  ADD CONSTRAINT tasks_input_one_form CHECK ((input IS NULL) <> (payload IS NULL)) NOT VALID,
  ADD CONSTRAINT tasks_scheduled_shape CHECK (
    state <> 'scheduled' OR (run_at IS NOT NULL AND owner IS NULL AND finished_at IS NULL)) NOT VALID,
  ADD CONSTRAINT tasks_terminal_shape CHECK (
    state NOT IN ('completed', 'failed', 'cancelled') OR finished_at IS NOT NULL) NOT VALID,
  ADD CONSTRAINT tasks_failure_iff_ended_badly CHECK (
    (state IN ('failed', 'cancelled')) = (failure IS NOT NULL)) NOT VALID,
  ADD CONSTRAINT tasks_cancelled_failure CHECK ((state = 'cancelled') = (failure IS NOT DISTINCT FROM 'cancelled')) NOT VALID,
  ADD CONSTRAINT tasks_failure_kinds CHECK (
    failure IN ('error', 'timeout', 'shutdown', 'worker_lost', 'no_handler', 'cancelled')) NOT VALID,
  ADD CONSTRAINT tasks_attempts_bound CHECK (max_attempts >= 1 AND attempt >= attempt_base AND attempt_base >= 0) NOT VALID,
  ADD CONSTRAINT tasks_priority_range CHECK (priority BETWEEN -1000000 AND 1000000) NOT VALID,
  ADD CONSTRAINT tasks_progress_percent CHECK (
    progress IS NULL OR progress->'percent' = 'null'::jsonb
    OR (progress->>'percent')::numeric BETWEEN 0 AND 100) NOT VALID,
  DROP CONSTRAINT tasks_finished_shape,
  DROP CONSTRAINT tasks_failure_iff_failed,
  DROP CONSTRAINT tasks_failure_kind;

-- Queues exist as soon as a task names one; a row here only when an operator set something for it.
CREATE TABLE taskd.queues (
  name         text PRIMARY KEY,
  paused       boolean NOT NULL DEFAULT false,
  -- Running tasks of this queue across every instance at once; NULL: unlimited.
  concurrency  integer CHECK (concurrency IS NULL OR concurrency >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
