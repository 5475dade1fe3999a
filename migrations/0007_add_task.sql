-- Enqueue from SQL, inside the application's own transaction: the task exists exactly when that transaction
-- commits, and the NOTIFY that wakes the workers is delivered at that commit (PostgreSQL holds notifications
-- back until then). The arguments are those of a v1 create, by name:
--
--   SELECT taskd.add_task(kind => 'email', input => '{"to": "a@b.c"}'::jsonb, max_attempts => 5);
--
-- Returns the task's id. With an idempotency key already taken, it returns the id of that key's task and
-- creates nothing. The kind is not checked against the service's handlers here (the database does not know
-- them): a task of a kind no process runs fails as `no_handler` when claimed.
CREATE FUNCTION taskd.add_task(
  kind text,
  input jsonb DEFAULT 'null',
  queue text DEFAULT 'default',
  priority integer DEFAULT 0,
  run_at timestamptz DEFAULT NULL,
  delay_ms bigint DEFAULT NULL,
  timeout_ms integer DEFAULT 240000,
  max_attempts integer DEFAULT 3,
  callback_url text DEFAULT NULL,
  idempotency_key text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql
AS $$
-- The arguments are named like the columns; in the statements below a bare name is the column, an argument is
-- always written add_task.<name>.
#variable_conflict use_column
DECLARE
  due timestamptz;
  new_id uuid := gen_random_uuid();
  existing uuid;
BEGIN
  IF kind IS NULL OR kind = '' THEN
    RAISE EXCEPTION 'taskd.add_task: kind is required' USING ERRCODE = '22023';
  END IF;
  IF run_at IS NOT NULL AND delay_ms IS NOT NULL THEN
    RAISE EXCEPTION 'taskd.add_task: give run_at or delay_ms, not both' USING ERRCODE = '22023';
  END IF;
  due := coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond');
  INSERT INTO taskd.tasks (id, handler, payload, timeout_ms, queue, priority, run_at, state, max_attempts,
                           idempotency_key, callback_url)
  VALUES (new_id, add_task.kind, coalesce(add_task.input, 'null'), add_task.timeout_ms, add_task.queue,
          add_task.priority, due,
          CASE WHEN due > now() THEN 'scheduled' ELSE 'queued' END::taskd.task_state,
          add_task.max_attempts, add_task.idempotency_key, add_task.callback_url)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    SELECT t.id INTO existing FROM taskd.tasks t WHERE t.idempotency_key = add_task.idempotency_key;
    RETURN existing;
  END IF;
  IF due <= now() THEN
    PERFORM pg_notify('taskd_task_created', '1');
  END IF;
  PERFORM pg_notify('taskd_task_changed', new_id::text);
  RETURN new_id;
END;
$$;
