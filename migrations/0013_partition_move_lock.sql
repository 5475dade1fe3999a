-- Moving tasks out of the default partition (taskd.ensure_task_partitions, 0012) locks the whole task table, not
-- the default partition alone: a statement that had planned with the partitions as they were before the move, and
-- then waited for the default partition's lock, ran after the move with a fresh snapshot and found neither copy of
-- a moved task (a read answered 404 for a task that existed; a count saw none). The table's lock is taken first,
-- before any partition is made or attached: taken after an ATTACH (which locks the default partition), it would
-- deadlock with a reader holding the table's lock and waiting for the default partition's. The function is
-- otherwise as 0012 made it.

CREATE OR REPLACE FUNCTION taskd.ensure_task_partitions(step interval, behind interval, ahead interval) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  origin constant timestamptz := '2000-01-01 00:00:00+00';
  lo timestamptz;
  hi timestamptz;
  part text;
  made integer := 0;
  moving boolean := false;
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
  -- Tasks to move (below): the whole table is locked now, before anything else here takes a lock on it.
  IF EXISTS (SELECT 1 FROM taskd.tasks_default WHERE id_time >= lo AND id_time < now() + ahead + step) THEN
    LOCK TABLE taskd.tasks IN ACCESS EXCLUSIVE MODE;
    moving := true;
  END IF;
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
      -- or by a clock far ahead): they move into the new partition, which is then attached. Every statement on
      -- the table waits meanwhile: one that had planned with the partitions as they were (default only) and then
      -- waited for the default partition's lock alone would run after the move and see neither copy of a moved
      -- task. Rare (only tasks made where no partition was) and as short as the move. Tasks that reached the
      -- default partition after the look above: the table's lock cannot be taken safely this late, so the caller
      -- is told to try again (as when a lock is not had in time), and the next run moves them.
      IF NOT moving THEN
        RAISE EXCEPTION 'tasks arrived in the default partition while partitions were being made; try again'
          USING ERRCODE = 'lock_not_available';
      END IF;
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
