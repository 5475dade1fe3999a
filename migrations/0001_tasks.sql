-- The task table and the registry of live worker processes.
-- Released migrations are never edited: add a new numbered file instead.

CREATE TYPE taskd.task_state AS ENUM ('queued', 'running', 'completed', 'failed');

-- A process that claims tasks. It renews expires_at with one statement per heartbeat for all its tasks;
-- once expires_at has passed, any other process fails its running tasks ("worker lost") and deletes the row.
CREATE TABLE taskd.workers (
  id          uuid PRIMARY KEY,
  host        text NOT NULL,
  pid         integer NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);

CREATE TABLE taskd.tasks (
  id           uuid PRIMARY KEY,
  -- FIFO order for claims; uuids are random.
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  handler      text NOT NULL,
  input        text NOT NULL,
  state        taskd.task_state NOT NULL DEFAULT 'queued',
  result       text NOT NULL DEFAULT '',
  failure      text,
  timeout_ms   integer NOT NULL CHECK (timeout_ms > 0),
  -- Which claim this is; with owner it fences every write of an outcome.
  attempt      integer NOT NULL DEFAULT 0,
  owner        uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,

  -- The state machine, enforced where the data lives.
  CONSTRAINT tasks_queued_shape CHECK (
    state <> 'queued' OR (owner IS NULL AND started_at IS NULL AND finished_at IS NULL)),
  CONSTRAINT tasks_running_shape CHECK (
    state <> 'running' OR (owner IS NOT NULL AND started_at IS NOT NULL AND finished_at IS NULL)),
  CONSTRAINT tasks_finished_shape CHECK (
    state NOT IN ('completed', 'failed') OR finished_at IS NOT NULL),
  CONSTRAINT tasks_failure_iff_failed CHECK ((state = 'failed') = (failure IS NOT NULL)),
  CONSTRAINT tasks_failure_kind CHECK (
    failure IN ('error', 'timeout', 'shutdown', 'worker_lost', 'no_handler'))
) WITH (
  -- Every task is updated twice (claim, settle). Free space on each page keeps the new row versions on the
  -- page of the old ones, so the table does not scatter and page pruning can reclaim them early.
  fillfactor = 70,
  -- The table churns: vacuum it often so that dead tuples do not slow the claim query.
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02
);

-- Serves the claim query exactly: the oldest runnable tasks, and nothing else.
CREATE INDEX tasks_runnable ON taskd.tasks (seq) WHERE state = 'queued';
-- Serves failing the running tasks of one owner (shutdown, lost worker).
CREATE INDEX tasks_running_owner ON taskd.tasks (owner) WHERE state = 'running';
-- Serves the retention job.
CREATE INDEX tasks_finished_at ON taskd.tasks (finished_at) WHERE finished_at IS NOT NULL;
