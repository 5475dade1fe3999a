-- taskd:no-transaction
-- External workers (POST /v1/workers/claim): a task run by a worker outside taskd is held by a lease of its own
-- rather than by a taskd process. Such a run has no `owner` (so no process's heartbeat renews it, and neither the
-- reaping of a dead process nor the orphan sweep touches it); it has a `lease_token`, which fences every write
-- the worker makes, and a `lease_expires_at`, which the worker's heartbeats push forward and past which the
-- reaper ends the run as `worker_lost`. `lease_worker` is the name the worker gave, for the task's history.
-- Outside a transaction so that the constraints are checked and the index built without blocking writers; every
-- statement can run again after a failed attempt.
ALTER TABLE taskd.tasks
  ADD COLUMN IF NOT EXISTS lease_token uuid,
  ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz,
  ADD COLUMN IF NOT EXISTS lease_worker text;
-- A running task is held by exactly one of a process (owner) and a lease; a lease exists only while it runs.
ALTER TABLE taskd.tasks DROP CONSTRAINT IF EXISTS tasks_running_holder;
ALTER TABLE taskd.tasks ADD CONSTRAINT tasks_running_holder CHECK (
  state <> 'running'
  OR (started_at IS NOT NULL AND finished_at IS NULL AND (owner IS NULL) <> (lease_token IS NULL))) NOT VALID;
ALTER TABLE taskd.tasks DROP CONSTRAINT IF EXISTS tasks_lease_shape;
ALTER TABLE taskd.tasks ADD CONSTRAINT tasks_lease_shape CHECK (
  (lease_token IS NULL) = (lease_expires_at IS NULL) AND (lease_token IS NULL OR state = 'running')) NOT VALID;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_running_holder;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_lease_shape;
-- Replaced by tasks_running_holder, which allows a running task without an owner when a lease holds it.
ALTER TABLE taskd.tasks DROP CONSTRAINT IF EXISTS tasks_running_shape;
-- The reaper's look for expired leases: only running external tasks are in it, a handful.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_lease_expires;
CREATE INDEX CONCURRENTLY tasks_lease_expires ON taskd.tasks (lease_expires_at) WHERE lease_token IS NOT NULL;
