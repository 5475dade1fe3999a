-- taskd:no-transaction
-- Prepares taskd.tasks to become the first partition of a partitioned table (0012), without blocking writers:
-- everything that would scan or index the whole table happens here, concurrently, so that 0012's switch, under
-- a lock, only renames and attaches.
--
-- A task's partition is chosen by the time in its id (task ids are UUIDs version 7, src/domain/task-id.ts). The
-- tasks made before this version have version 4 ids, no time; they stay where they are, as the partition of
-- `-infinity`.

-- The time in a version 7 id (its first 48 bits, Unix milliseconds); `-infinity` for any other id. A read by id
-- writes `id_time = taskd.task_id_time(id)` so that PostgreSQL goes to the one partition that can hold it.
CREATE OR REPLACE FUNCTION taskd.task_id_time(id uuid) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN get_byte(uuid_send(id), 6) >> 4 = 7
              THEN to_timestamp(('x' || encode(substring(uuid_send(id) FROM 1 FOR 6), 'hex'))::bit(48)::bigint
                                / 1000.0)
              ELSE '-infinity'::timestamptz END;

-- The partition key. A constant default: existing rows are not rewritten.
ALTER TABLE taskd.tasks ADD COLUMN IF NOT EXISTS id_time timestamptz NOT NULL DEFAULT '-infinity';

-- The partitioned table's primary key must hold its partition key: (id, id_time) is as unique as id alone, since
-- id_time follows from id. Built here so that 0012 takes it as the old table's primary key at no cost.
DROP INDEX CONCURRENTLY IF EXISTS taskd.tasks_id_id_time;
CREATE UNIQUE INDEX CONCURRENTLY tasks_id_id_time ON taskd.tasks (id, id_time);

-- Proves to 0012's ATTACH PARTITION that every row belongs to the partition of old tasks, so that it does not
-- scan the table under its lock; and that every row's id_time is its id's.
ALTER TABLE taskd.tasks DROP CONSTRAINT IF EXISTS tasks_legacy_bound;
ALTER TABLE taskd.tasks ADD CONSTRAINT tasks_legacy_bound CHECK (id_time < '1970-01-02') NOT VALID;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_legacy_bound;
ALTER TABLE taskd.tasks DROP CONSTRAINT IF EXISTS tasks_id_time_of_id;
ALTER TABLE taskd.tasks ADD CONSTRAINT tasks_id_time_of_id CHECK (id_time = taskd.task_id_time(id)) NOT VALID;
ALTER TABLE taskd.tasks VALIDATE CONSTRAINT tasks_id_time_of_id;

-- Idempotency keys, unique across every partition (a unique index of a partitioned table is unique only per
-- partition unless it holds the partition key). A create with a key inserts its row here in the statement that
-- inserts the task; the row goes when its task does (retention). Filled from the old table by 0012.
CREATE TABLE IF NOT EXISTS taskd.idempotency_keys (
  key      text PRIMARY KEY,
  task_id  uuid NOT NULL,
  id_time  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_id_time ON taskd.idempotency_keys (id_time);

-- Deliveries of the tasks of one partition, found without reading the partition (retention drops both).
DROP INDEX CONCURRENTLY IF EXISTS taskd.webhook_deliveries_task_time;
CREATE INDEX CONCURRENTLY webhook_deliveries_task_time ON taskd.webhook_deliveries (taskd.task_id_time(task_id));
