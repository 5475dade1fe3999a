-- taskd:no-transaction
-- The states of v1: `scheduled` (waiting for run_at: a delayed task, or one waiting to be retried) and
-- `cancelled` (terminal). Outside a transaction: a value added to an enum cannot be used by the transaction
-- that adds it, and 0005 uses them.
ALTER TYPE taskd.task_state ADD VALUE IF NOT EXISTS 'scheduled' BEFORE 'queued';
ALTER TYPE taskd.task_state ADD VALUE IF NOT EXISTS 'cancelled';
