-- Leadership of maintenance (reaping lost workers, retention, and later schedules): one row, held by one worker
-- at a time under a lease judged by the database's clock. The holder renews it with its heartbeat; when it stops
-- (killed, stalled, cut off), the lease runs out and the next heartbeat of another worker takes the row over.
-- A lease rather than a session advisory lock: a stalled leader keeps its session, and with it such a lock, for
-- ever, and then nobody would reap it.
CREATE TABLE taskd.leader (
  name        text PRIMARY KEY CHECK (name = 'maintenance'),
  worker_id   uuid NOT NULL,
  elected_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);

-- What a worker row stands for: a process that runs up to `concurrency` tasks, or (0) one that serves the API
-- only and is registered to take its turn at maintenance. NULL for rows of processes older than this column.
ALTER TABLE taskd.workers ADD COLUMN concurrency integer CHECK (concurrency >= 0);
