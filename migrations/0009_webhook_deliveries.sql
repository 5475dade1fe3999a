-- Completion webhooks: an outbox. Every statement that moves a task with a callback_url to a terminal state
-- inserts its delivery here in the same statement (src/db/store.ts, `outbox`), so the event is committed exactly
-- when the state is, and survives any crash after that. Deliverers claim due rows, POST them, and record each
-- attempt on the row.
CREATE TABLE taskd.webhook_deliveries (
  -- The webhook-id of every attempt of this delivery: the receiver deduplicates on it.
  id              uuid PRIMARY KEY,
  -- A delivery goes with its task: retention deletes both.
  task_id         uuid NOT NULL REFERENCES taskd.tasks (id) ON DELETE CASCADE,
  event           text NOT NULL,
  url             text NOT NULL,
  -- {"type", "timestamp", "data": the task as v1 shows it}, frozen at the terminal transition.
  payload         jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending',
  -- Attempts started. A claim counts one and holds the row by moving next_attempt_at past the attempt's timeout:
  -- a deliverer that dies mid-attempt leaves the row due again once that time has passed.
  attempt         integer NOT NULL DEFAULT 0,
  response_status integer,
  error           text,
  next_attempt_at timestamptz DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  -- The attempts that ended, oldest first: [{"attempt", "started_at", "finished_at", "response_status", "error"}].
  history         jsonb NOT NULL DEFAULT '[]',
  CONSTRAINT webhook_deliveries_event_kind CHECK (event IN ('task.completed', 'task.failed', 'task.cancelled')),
  CONSTRAINT webhook_deliveries_status_kind CHECK (status IN ('pending', 'delivered', 'failed')),
  CONSTRAINT webhook_deliveries_due_iff_pending CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
  CONSTRAINT webhook_deliveries_delivered_shape CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);

-- The deliverers' scan: pending rows by due time, nothing else.
CREATE INDEX webhook_deliveries_due ON taskd.webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- GET /v1/tasks/{id}/deliveries, and the cascade of a task's deletion.
CREATE INDEX webhook_deliveries_task ON taskd.webhook_deliveries (task_id, created_at);

-- New deliveries wake the deliverers at commit (PostgreSQL holds notifications back until then), whichever
-- statement inserted them: once per statement, and only when it inserted any.
CREATE FUNCTION taskd.webhook_deliveries_wake() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted) THEN
    PERFORM pg_notify('taskd_webhook_due', '');
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_deliveries_wake
  AFTER INSERT ON taskd.webhook_deliveries
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION taskd.webhook_deliveries_wake();
