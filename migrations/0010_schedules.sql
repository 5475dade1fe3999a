-- Cron schedules: each one creates a task (its `task`, a v1 create body) at every tick of its cron expression,
-- read in its time zone. Every instance runs the ticker; a tick creates its task with the idempotency key
-- `schedule:<name>:<tick>`, whose unique index (0006) makes a second task for the same tick impossible, and the
-- statement that creates it moves next_run_at on only if it still holds the value the ticker read.
CREATE TABLE taskd.schedules (
  -- Letters, digits, `_`, `.` and `-` (no `:`, which separates the parts of a tick's idempotency key).
  name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$' AND length(name) <= 100),
  cron          text NOT NULL,
  -- An IANA time zone name; the cron expression is read in it (wall-clock times, DST included).
  timezone      text NOT NULL DEFAULT 'UTC',
  -- The v1 create body of each tick's task, as validated when the schedule was set.
  task          jsonb NOT NULL,
  paused        boolean NOT NULL DEFAULT false,
  -- The next tick to run; NULL while paused, or when the expression has no tick left.
  next_run_at   timestamptz,
  -- The last tick that created a task, and that task.
  last_run_at   timestamptz,
  last_task_id  uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT paused OR next_run_at IS NULL)
);

-- The ticker's question: which active schedule is due next.
CREATE INDEX schedules_next_run_at ON taskd.schedules (next_run_at) WHERE NOT paused;
