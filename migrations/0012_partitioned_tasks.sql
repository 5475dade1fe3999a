-- taskd.tasks becomes a table partitioned by time ranges of the task ids (0011 prepared it), in place: the old
-- table is renamed and attached as the partition of the tasks made before time-ordered ids. Nothing here scans or
-- indexes the old table: 0011 built the primary key and the constraints that prove its rows belong where they go,
-- so the lock below is held for catalog changes only. New time partitions are made ahead of need
-- (taskd.ensure_task_partitions, run at every start and by the maintenance leader), and retention drops whole
-- partitions instead of deleting their rows (taskd.drop_task_partition). See docs/scaling.md, "Storage".

LOCK TABLE taskd.tasks IN ACCESS EXCLUSIVE MODE;

-- A foreign key to a partitioned table must name its whole primary key (id, id_time); deliveries are deleted with
-- their task by retention instead (src/db/store.ts, taskDeleteFinished; drop_task_partition below).
ALTER TABLE taskd.webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_task_id_fkey;

-- Keys of the tasks made so far (new keys go in with their task).
INSERT INTO taskd.idempotency_keys (key, task_id, id_time)
SELECT idempotency_key, id, id_time FROM taskd.tasks WHERE idempotency_key IS NOT NULL
ON CONFLICT (key) DO NOTHING;

ALTER TABLE taskd.tasks RENAME TO tasks_legacy;
ALTER TABLE taskd.tasks_legacy DROP CONSTRAINT tasks_pkey;
ALTER TABLE taskd.tasks_legacy ADD CONSTRAINT tasks_legacy_pkey PRIMARY KEY USING INDEX tasks_id_id_time;
DROP INDEX taskd.tasks_idempotency_key;
ALTER INDEX taskd.tasks_claimable RENAME TO tasks_legacy_claimable;
ALTER INDEX taskd.tasks_finished_at RENAME TO tasks_legacy_finished_at;
ALTER INDEX taskd.tasks_lease_expires RENAME TO tasks_legacy_lease_expires;
ALTER INDEX taskd.tasks_running_owner_id RENAME TO tasks_legacy_running_owner_id;
ALTER INDEX taskd.tasks_running_queue RENAME TO tasks_legacy_running_queue;
ALTER INDEX taskd.tasks_scheduled_run_at RENAME TO tasks_legacy_scheduled_run_at;
ALTER INDEX taskd.tasks_seq RENAME TO tasks_legacy_seq;

-- FIFO order across partitions: one sequence for the whole table, continuing the old one.
CREATE SEQUENCE taskd.task_seq AS bigint;
SELECT setval('taskd.task_seq', nextval(pg_get_serial_sequence('taskd.tasks_legacy', 'seq')));
ALTER TABLE taskd.tasks_legacy ALTER COLUMN seq DROP IDENTITY;

CREATE TABLE taskd.tasks (LIKE taskd.tasks_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (id_time);
ALTER TABLE taskd.tasks ALTER COLUMN seq SET DEFAULT nextval('taskd.task_seq');
ALTER SEQUENCE taskd.task_seq OWNED BY taskd.tasks.seq;
-- taskd's inserts name the partition key (taskd.task_id_time(id)); the constraint checks it. The default of 0011
-- stays, so that an insert of a version 4 id that does not name it still lands with the old tasks.
ALTER TABLE taskd.tasks DROP CONSTRAINT tasks_legacy_bound;
ALTER TABLE taskd.tasks ADD CONSTRAINT tasks_pkey PRIMARY KEY (id, id_time);

ALTER TABLE taskd.tasks ATTACH PARTITION taskd.tasks_legacy FOR VALUES FROM (MINVALUE) TO ('1970-01-02');

-- The indexes of 0001-0008, now of the partitioned table: each takes the old table's index as its partition
-- (same definition, so nothing is built) and is made on every new partition.
CREATE INDEX tasks_claimable ON taskd.tasks (priority DESC, seq) WHERE state = 'queued';
CREATE INDEX tasks_finished_at ON taskd.tasks (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX tasks_lease_expires ON taskd.tasks (lease_expires_at) WHERE lease_token IS NOT NULL;
CREATE INDEX tasks_running_owner_id ON taskd.tasks (owner, id) WHERE state = 'running';
CREATE INDEX tasks_running_queue ON taskd.tasks (queue) WHERE state = 'running';
CREATE INDEX tasks_scheduled_run_at ON taskd.tasks (run_at) WHERE state = 'scheduled';
CREATE INDEX tasks_seq ON taskd.tasks (seq);

-- Rows whose time has no partition (an id from a clock far off): kept, never refused. Ideally empty; retention
-- deletes its finished rows one by one.
CREATE TABLE taskd.tasks_default PARTITION OF taskd.tasks DEFAULT WITH (fillfactor = 70);

-- The partitions of taskd.tasks and their bounds (NULL: unbounded; both NULL: the default partition).
CREATE FUNCTION taskd.task_partitions() RETURNS TABLE (name text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT c.relname::text,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\)'))[1]::timestamptz,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']*)''\)'))[1]::timestamptz
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'taskd.tasks'::regclass
  ORDER BY 2 NULLS FIRST, 3 NULLS LAST
$$;

-- Makes the time partitions from the last one's end (or from `behind` ago) until `ahead` from now, each `step`
-- long and aligned to it. Returns how many it made. Serialised by an advisory lock: every process may call it.
CREATE FUNCTION taskd.ensure_task_partitions(step interval, behind interval, ahead interval) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  origin constant timestamptz := '2000-01-01 00:00:00+00';
  lo timestamptz;
  hi timestamptz;
  part text;
  made integer := 0;
  -- As 0001 set them for the old table: see there.
  options constant text := 'fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, '
    'autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02';
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('taskd.ensure_task_partitions'));
  -- Statements on the table queue behind a DDL lock that waits: give up soon, the next run tries again (the
  -- partitions are made well ahead of need).
  PERFORM set_config('lock_timeout', '2000', true);
  SELECT max(p.upper_bound) INTO lo FROM taskd.task_partitions() p WHERE p.lower_bound IS NOT NULL;
  lo := coalesce(lo, date_bin(step, now() - behind, origin));
  WHILE lo < now() + ahead LOOP
    hi := date_bin(step, lo, origin) + step;
    part := 'tasks_' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD"t"HH24MISS');
    -- Made apart and then attached: ATTACH PARTITION takes a lock that lets every statement on taskd.tasks go on
    -- (CREATE TABLE … PARTITION OF would stop them all while it waits for its lock).
    EXECUTE format('CREATE TABLE taskd.%I (LIKE taskd.tasks INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (%s)',
                   part, options);
    BEGIN
      EXECUTE format('ALTER TABLE taskd.tasks ATTACH PARTITION taskd.%I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    EXCEPTION WHEN check_violation THEN
      -- Tasks of this range are in the default partition already (made while no process kept partitions ahead,
      -- or by a clock far ahead): they move into the new partition, which is then attached. Writes that would
      -- route to the default partition wait for its lock meanwhile; the others go on.
      LOCK TABLE taskd.tasks_default IN ACCESS EXCLUSIVE MODE;
      EXECUTE format('INSERT INTO taskd.%I SELECT * FROM taskd.tasks_default WHERE id_time >= %L AND id_time < %L',
                     part, lo, hi);
      DELETE FROM taskd.tasks_default WHERE id_time >= lo AND id_time < hi;
      EXECUTE format('ALTER TABLE taskd.tasks ATTACH PARTITION taskd.%I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    END;
    lo := hi;
    made := made + 1;
  END LOOP;
  RETURN made;
END;
$$;

-- Whether a partition holds a task that retention must keep: one not ended, or ended at or after `cutoff`.
CREATE FUNCTION taskd.task_partition_kept(part text, cutoff timestamptz) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
  kept boolean;
BEGIN
  EXECUTE format(
    'SELECT EXISTS (SELECT 1 FROM taskd.%1$I WHERE state IN (''queued'', ''scheduled'', ''running''))
         OR EXISTS (SELECT 1 FROM taskd.%1$I WHERE finished_at IS NOT NULL AND finished_at >= %2$L)',
    part, cutoff) INTO kept;
  RETURN kept;
END;
$$;

-- Drops a time partition whose tasks have all ended before `cutoff` (and that holds nothing younger), with the
-- idempotency keys and webhook deliveries of its tasks. Returns false, and drops nothing, when any of its tasks
-- has not ended or ended at or after `cutoff`. The check is made again under the lock that DROP needs anyway, so
-- a task retried by hand meanwhile keeps its partition. That lock is brief and bounded (lock_timeout): the
-- deletes of keys and deliveries (rows past retention either way) happen before it.
CREATE FUNCTION taskd.drop_task_partition(part text, cutoff timestamptz, wait interval) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
  lo timestamptz;
  hi timestamptz;
BEGIN
  SELECT p.lower_bound, p.upper_bound INTO lo, hi
  FROM taskd.task_partitions() p WHERE p.name = part AND p.lower_bound IS NOT NULL;
  IF hi IS NULL OR hi > cutoff THEN
    RETURN false;
  END IF;
  IF taskd.task_partition_kept(part, cutoff) THEN
    RETURN false;
  END IF;
  DELETE FROM taskd.idempotency_keys WHERE id_time >= lo AND id_time < hi;
  DELETE FROM taskd.webhook_deliveries WHERE taskd.task_id_time(task_id) >= lo AND taskd.task_id_time(task_id) < hi;
  PERFORM set_config('lock_timeout', (extract(epoch FROM wait) * 1000)::bigint::text, true);
  LOCK TABLE taskd.tasks IN ACCESS EXCLUSIVE MODE;
  IF taskd.task_partition_kept(part, cutoff) THEN
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE taskd.%I', part);
  RETURN true;
END;
$$;

-- Deletes at most `max_rows` tasks of one partition that ended before `cutoff`, oldest first, with their
-- idempotency keys and webhook deliveries; returns how many. Retention's way for the partitions it cannot drop
-- whole: the old tasks' table, the default partition, and a time partition still holding a task not ended.
-- SKIP LOCKED: rows another sweep is deleting are left to it.
CREATE FUNCTION taskd.delete_finished_tasks(part text, cutoff timestamptz, max_rows integer) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  EXECUTE format($q$
    WITH gone AS (
      DELETE FROM taskd.%1$I WHERE id = ANY(ARRAY(
        SELECT id FROM taskd.%1$I
        WHERE finished_at IS NOT NULL AND finished_at < $1
        ORDER BY finished_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
      ))
      RETURNING id, idempotency_key
    ), keys AS (
      DELETE FROM taskd.idempotency_keys k USING gone WHERE k.key = gone.idempotency_key AND k.task_id = gone.id
    ), deliveries AS (
      DELETE FROM taskd.webhook_deliveries d USING gone WHERE d.task_id = gone.id
    )
    SELECT count(*)::int FROM gone$q$, part) INTO n USING cutoff, max_rows;
  RETURN n;
END;
$$;

-- A task id made by the database (version 7, from its own clock): for taskd.add_task.
CREATE FUNCTION taskd.new_task_id() RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  b bytea := uuid_send(gen_random_uuid());
BEGIN
  b := overlay(b PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
               FROM 1 FOR 6);
  RETURN encode(set_byte(b, 6, (get_byte(b, 6) & 15) | 112), 'hex')::uuid;
END;
$$;

-- taskd.add_task of 0007, with the idempotency key in its own table and the id made time-ordered.
CREATE OR REPLACE FUNCTION taskd.add_task(
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
#variable_conflict use_column
DECLARE
  due timestamptz;
  new_id uuid := taskd.new_task_id();
  existing uuid;
BEGIN
  IF kind IS NULL OR kind = '' THEN
    RAISE EXCEPTION 'taskd.add_task: kind is required' USING ERRCODE = '22023';
  END IF;
  IF run_at IS NOT NULL AND delay_ms IS NOT NULL THEN
    RAISE EXCEPTION 'taskd.add_task: give run_at or delay_ms, not both' USING ERRCODE = '22023';
  END IF;
  IF add_task.idempotency_key IS NOT NULL THEN
    INSERT INTO taskd.idempotency_keys AS k (key, task_id, id_time)
    VALUES (add_task.idempotency_key, new_id, taskd.task_id_time(new_id))
    ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
      SELECT k.task_id INTO existing FROM taskd.idempotency_keys k WHERE k.key = add_task.idempotency_key;
      RETURN existing;
    END IF;
  END IF;
  due := coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond');
  INSERT INTO taskd.tasks (id, id_time, handler, payload, timeout_ms, queue, priority, run_at, state, max_attempts,
                           idempotency_key, callback_url)
  VALUES (new_id, taskd.task_id_time(new_id), add_task.kind, coalesce(add_task.input, 'null'), add_task.timeout_ms,
          add_task.queue, add_task.priority, due,
          CASE WHEN due > now() THEN 'scheduled' ELSE 'queued' END::taskd.task_state,
          add_task.max_attempts, add_task.idempotency_key, add_task.callback_url);
  IF due <= now() THEN
    PERFORM pg_notify('taskd_task_created', '1');
  END IF;
  PERFORM pg_notify('taskd_task_changed', new_id::text);
  RETURN new_id;
END;
$$;

-- No time partition is made here: every process makes them at its start, before it makes a task, with the range
-- it is configured for (PARTITION_INTERVAL_MINUTES). Until then a task lands in the default partition and moves
-- into its own when it is made.
