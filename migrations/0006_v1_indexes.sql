-- taskd:no-transaction
-- The constraints 0005 added NOT VALID, checked against the existing rows without blocking writers, and the
-- indexes of v1, built without blocking writers.
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_input_one_form;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_scheduled_shape;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_terminal_shape;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_failure_iff_ended_badly;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_cancelled_failure;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_failure_kinds;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_attempts_bound;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_priority_range;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_progress_percent;
-- The claim: highest priority first, FIFO among equals, runnable tasks only.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_claimable;
CREATE INDEX CONCURRENTLY tasks_claimable ON taskd.tasks (priority DESC, seq) WHERE state = 'queued';
-- Promoting scheduled tasks whose time has come.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_scheduled_run_at;
CREATE INDEX CONCURRENTLY tasks_scheduled_run_at ON taskd.tasks (run_at) WHERE state = 'scheduled';
-- Idempotent creates: one task per key.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_idempotency_key;
CREATE UNIQUE INDEX CONCURRENTLY tasks_idempotency_key ON taskd.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Listing, newest first, with keyset pagination on seq.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_seq;
CREATE INDEX CONCURRENTLY tasks_seq ON taskd.tasks (seq);
-- Counting a limited queue's running tasks.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_running_queue;
CREATE INDEX CONCURRENTLY tasks_running_queue ON taskd.tasks (queue) WHERE state = 'running';
-- The claim of 0001 orders by seq alone; tasks_claimable replaces it.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_runnable;
