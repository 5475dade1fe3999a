import { Batcher } from '../db/batcher.js';
import type { TaskRecord, TaskStore } from '../db/store.js';
import type { TaskView } from './task.js';

/** Largest number of ids read by one statement. */
const IDS_PER_READ = 500;
/**
 * Statements of each kind in flight at once. Reads that arrive meanwhile wait for the next one and go together:
 * under load one statement answers many requests, and the reads never hold more than a few pooled connections
 * (the rest of the pool stays free for claims, settles and inserts).
 */
const READS_AT_ONCE = 2;
const options = { maxBatch: IDS_PER_READ, maxConcurrent: READS_AT_ONCE };

/**
 * Reads of single tasks by id (`GET /task/check-result`, `GET /v1/tasks/{id}`), coalesced: the reads asked for in
 * one turn of the event loop go to the database as one statement over all their ids (see Batcher). Alone at low
 * load, so that a single read waits for nothing; under load one primary-key lookup per id instead of a statement,
 * a round trip and a connection per request. Each read still starts after its request arrived, so it sees every
 * write committed before.
 */
export class PointReads {
  private readonly views: Batcher<string, TaskView | undefined>;
  private readonly records: Batcher<string, TaskRecord | undefined>;

  constructor(store: Pick<TaskStore, 'taskGetViews' | 'taskGetRecords'>) {
    this.views = new Batcher(
      byId((ids) => store.taskGetViews(ids)),
      options,
    );
    this.records = new Batcher(
      byId((ids) => store.taskGetRecords(ids)),
      options,
    );
  }

  /** The original API's view of the task, undefined when there is none. */
  view(id: string): Promise<TaskView | undefined> {
    return this.views.add(id);
  }

  /** The task as v1 presents it, undefined when there is none. */
  record(id: string): Promise<TaskRecord | undefined> {
    return this.records.add(id);
  }
}

/** A read of many ids (rows in any order, missing ones absent) as a Batcher's flush: one answer per id asked. */
function byId<T extends { id: string }>(
  read: (ids: string[]) => Promise<T[]>,
): (ids: string[]) => Promise<(T | undefined)[]> {
  return async (ids) => {
    const found = new Map((await read([...new Set(ids)])).map((row) => [row.id, row]));
    return ids.map((id) => found.get(id));
  };
}
