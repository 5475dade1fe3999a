-- Settling a batch joins the outcomes to the tasks on (id, owner). Under a generic plan the planner may probe
-- the running-by-owner index once per outcome; with the owner alone as key every probe walks all of that
-- worker's running tasks (quadratic in the batch). Keyed by (owner, id), each probe finds exactly one row, and
-- failing a whole worker's tasks (shutdown, lost worker) still uses the owner prefix.
DROP INDEX taskd.tasks_running_owner;
CREATE INDEX tasks_running_owner_id ON taskd.tasks (owner, id) WHERE state = 'running';
