import { Batcher } from '../db/batcher.js';
import { isUniqueViolation } from '../db/errors.js';
import { primaryReads, type ReadRouting } from '../db/read-replica.js';
import type {
  Attempt,
  DeliveryRecord,
  Dispatch,
  BulkFilter,
  NewTask,
  NewTaskV1,
  QueueRow,
  TaskFilter,
  TaskRecord,
  TaskStore,
} from '../db/store.js';
import { fingerprint, newTaskFromBody, type CreateBody } from './create-request.js';
import type { EventBus } from '../events/bus.js';
import { ApiError } from './errors.js';
import { newTaskId } from './task-id.js';
import { FAILURE_MESSAGES } from './outcome.js';
import { PointReads } from './point-reads.js';
import type { ClaimedTask, TaskState, TaskView } from './task.js';
import type { InputValidator } from '../handlers/registry.js';

/** What a bulk action does to the tasks matching its filter. */
export type BulkAction = 'retry' | 'cancel';

/** The states each bulk action applies to: a retry to the ended-badly tasks, a cancel to the unfinished ones. */
const BULK_STATES: Record<BulkAction, readonly TaskState[]> = {
  retry: ['failed', 'cancelled'],
  cancel: ['scheduled', 'queued', 'running'],
};

export interface TaskServiceOptions {
  defaultHandler: string;
  defaultTimeoutMs: number;
  maxTaskLength: number;
  /** Runs a v1 task may have when its create sets none. */
  defaultMaxAttempts?: number;
  /** The kinds a v1 create may name. */
  kinds?: readonly KindInfo[];
  /**
   * Where reads that tolerate staleness run (a read replica, see db/read-replica.ts); the primary by default.
   * Reads that must see this service's own writes always use the primary.
   */
  reads?: ReadRouting;
}

/** A kind, as `GET /v1/kinds` shows it, and what a create of it is checked against. */
export interface KindInfo {
  name: string;
  source: 'builtin' | 'module' | 'external';
  /** What a create of this kind gets when it sets none of these. */
  defaults: {
    queue: string;
    timeout_ms: number;
    max_attempts: number;
    backoff: { base_ms: number; max_ms: number };
  };
  input_schema: unknown;
  /** Checks a create's input against `input_schema` (not shown). */
  validate?: InputValidator | undefined;
  /**
   * The backoff that creates of this kind store when they set none (not shown): the kind's own, field by field;
   * a field left unset here is null in the task, and the service-wide RETRY_BACKOFF_* apply when it retries.
   */
  backoff?: { baseMs?: number | undefined; maxMs?: number | undefined } | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The queue of every task created through the original API (the column's default). */
export const ORIGINAL_API_QUEUE = 'default';

/** Insert flushes that may run at once; each holds a pooled connection (counted in config's pool minimum). */
export const MAX_CONCURRENT_INSERTS = 4;

/** A create waiting for the group commit, of either API. */
type PendingInsert = { api: 'original'; task: NewTask } | { api: 'v1'; task: NewTaskV1 };

/**
 * The task engine of this process, as the creates see it: it may take new runnable tasks as they are inserted
 * (direct dispatch, see the store's startsNow), which saves their pickup a second commit and a claim.
 */
export interface CreateDispatcher {
  /** Slots for up to `max` creates that start at once, taken now; undefined when none. */
  reserveForCreates(max: number): { owner: string; slots: number } | undefined;
  /** Runs the creates that started under the reservation, and frees its other slots. */
  dispatched(reservation: { owner: string; slots: number }, started: ClaimedTask[]): void;
}

/** Something readiness depends on besides the database: returns why it is not ready, or undefined. */
export type ReadinessCheck = () => string | undefined;

/**
 * What clients can do with tasks, whatever the transport (HTTP today, a CLI tomorrow). The create path:
 * `create()` validates, then hands the task to the insert batcher, whose flush is one `taskInsertMany`
 * statement for every create that arrived meanwhile (group commit); each caller returns only after that INSERT
 * committed, and `task.created` is emitted then.
 */
export class TaskService {
  private readonly inserts: Batcher<PendingInsert, TaskRecord | undefined>;
  private readonly readinessChecks: ReadinessCheck[] = [];
  private accepting = true;
  private dispatcher: CreateDispatcher | undefined;
  private readonly reads: ReadRouting;
  /** Coalesced reads by id, one set per store that reads go to (the primary's, the replica's). */
  private readonly pointReads = new Map<TaskStore, PointReads>();

  constructor(
    private readonly store: TaskStore,
    private readonly bus: EventBus,
    private readonly options: TaskServiceOptions,
  ) {
    this.reads = options.reads ?? primaryReads(store);
    // One group commit for the creates of both APIs: concurrent creates share a flush, and each flush writes the
    // original API's tasks and v1's in one statement each. At most MAX_CONCURRENT_INSERTS flushes run at once in
    // all, which the pool minimum of config.ts counts on.
    this.inserts = new Batcher(
      async (items) => {
        const seed = items.filter(
          (i): i is Extract<PendingInsert, { api: 'original' }> => i.api === 'original',
        );
        const v1 = items.filter((i): i is Extract<PendingInsert, { api: 'v1' }> => i.api === 'v1');
        const dispatcher = this.dispatcher;
        const reservation = dispatcher?.reserveForCreates(items.length);
        const dispatch: Dispatch | undefined = reservation && {
          owner: reservation.owner,
          max: reservation.slots,
          started: [],
        };
        try {
          if (seed.length > 0)
            await this.store.taskInsertMany(
              seed.map((i) => i.task),
              dispatch,
            );
          if (dispatch) dispatch.max = dispatch.max - dispatch.started.length;
          const records =
            v1.length > 0
              ? await this.store.taskInsertManyV1(
                  v1.map((i) => i.task),
                  dispatch,
                )
              : [];
          const byId = new Map(records.map((r) => [r.id, r]));
          return items.map((i) => (i.api === 'v1' ? byId.get(i.task.id) : undefined));
        } finally {
          // After the callers have heard of the commit (they go on in this turn's microtasks): a task's creation
          // is told before its start. Whatever failed, what did start runs, and the other slots are free again.
          if (dispatcher && reservation && dispatch)
            setImmediate(() => dispatcher.dispatched(reservation, dispatch.started));
        }
      },
      { maxBatch: 1000, maxConcurrent: MAX_CONCURRENT_INSERTS },
    );
  }

  /** Lets the engine of this process start new runnable tasks as they are created. */
  dispatchTo(dispatcher: CreateDispatcher): void {
    this.dispatcher = dispatcher;
  }

  /** Rejects input that cannot be stored and read back unchanged, or is not a non-empty string. */
  validateTask(task: unknown): string {
    if (typeof task !== 'string' || task.length === 0 || task.length > this.options.maxTaskLength) {
      throw new ApiError('INVALID_TASK_DATA');
    }
    // PostgreSQL text cannot hold NUL, and a lone surrogate has no UTF-8 form: neither would read back as sent.
    if (task.includes('\u0000') || !task.isWellFormed()) throw new ApiError('INVALID_TASK_DATA');
    return task;
  }

  /** Resolves with the new task's id once the task is committed. */
  async create(task: unknown, context: { requestId?: string } = {}): Promise<string> {
    if (!this.accepting) throw new ApiError('SHUTTING_DOWN');
    const input = this.validateTask(task);
    const id = newTaskId();
    await this.inserts.add({
      api: 'original',
      task: { id, handler: this.options.defaultHandler, input, timeoutMs: this.options.defaultTimeoutMs },
    });
    this.bus.emit('task.created', {
      taskId: id,
      kind: this.options.defaultHandler,
      queue: ORIGINAL_API_QUEUE,
      api: 'original',
      requestId: context.requestId,
    });
    return id;
  }

  async get(taskId: unknown): Promise<TaskView> {
    if (typeof taskId !== 'string' || !UUID.test(taskId)) throw new ApiError('INVALID_TASK_ID');
    const id = taskId.toLowerCase();
    // Not found on a replica may be a create it has not replayed yet: the primary is asked then.
    const view = await this.reads.read(
      (s) => this.pointReadsOf(s).view(id),
      (v) => v === undefined,
    );
    if (!view) throw new ApiError('TASK_NOT_FOUND');
    return view;
  }

  /**
   * v1: creates one task; resolves once it is committed. Under an idempotency key (the body's or the
   * `Idempotency-Key` header's) a second create finds the first one's task: the same request body replays it
   * (`replayed`), another body is refused (422). The unique index on the key makes a concurrent duplicate wait for
   * the first one's commit and then find its task: never two tasks for one key.
   */
  async createV1(
    body: CreateBody,
    context: { requestId?: string; idempotencyKey?: string } = {},
  ): Promise<{ task: TaskRecord; replayed: boolean }> {
    const key = body.idempotency_key ?? context.idempotencyKey;
    if (key !== undefined) {
      const replay = await this.replayOf(key, body);
      if (replay) return { task: replay, replayed: true };
    }
    try {
      const [task] = await this.createManyV1([body], context);
      return { task: task!, replayed: false };
    } catch (err) {
      if (key === undefined || !isUniqueViolation(err)) throw err;
      const replay = await this.replayOf(key, body);
      // The key's task was deleted (retention) between the violation and the look-up: still no second task.
      if (!replay) throw new ApiError('IDEMPOTENCY_KEY_IN_USE');
      return { task: replay, replayed: true };
    }
  }

  private async replayOf(key: string, body: CreateBody): Promise<TaskRecord | undefined> {
    const existing = await this.store.taskGetByIdempotencyKey(key);
    if (!existing) return undefined;
    const { request_fingerprint, ...task } = existing;
    if (request_fingerprint !== fingerprint(body)) throw new ApiError('IDEMPOTENCY_KEY_REUSED');
    return task;
  }

  /** v1: creates every task of `bodies` in one statement, or none of them. */
  async createManyV1(
    bodies: readonly CreateBody[],
    context: { requestId?: string; idempotencyKey?: string; batch?: boolean } = {},
  ) {
    if (!this.accepting) throw new ApiError('SHUTTING_DOWN');
    const rows = bodies.map((b, i) => {
      try {
        return this.newTaskV1(b, {
          idempotencyKey: bodies.length === 1 ? context.idempotencyKey : undefined,
        });
      } catch (err) {
        // In a batch, the problem's path names the task it is in.
        throw context.batch ? inBatch(err, i) : err;
      }
    });
    // A single create without an idempotency key joins the group commit, like the original API's creates; a
    // batch is its own statement (all or nothing), and so is a keyed create (a key taken must fail it alone).
    const created =
      rows.length === 1 && rows[0]!.idempotencyKey === null
        ? [(await this.inserts.add({ api: 'v1', task: rows[0]! }))!]
        : await this.store.taskInsertManyV1(rows);
    for (const t of created) {
      this.bus.emit('task.created', {
        taskId: t.id,
        kind: t.kind,
        queue: t.queue,
        api: 'v1',
        requestId: context.requestId,
      });
    }
    return created;
  }

  /**
   * The row a create body would insert, checked as POST /v1/tasks checks it; nothing is written. `anyKind` lets a
   * kind this process does not know through: a schedule's tick, whose kind was checked when the schedule was set
   * (a task of a kind no process runs fails as `no_handler`, in sight, rather than the tick being lost).
   */
  newTaskV1(
    body: CreateBody,
    options: { idempotencyKey?: string | undefined; anyKind?: boolean } = {},
  ): NewTaskV1 {
    const kinds =
      options.anyKind && !this.kindNames.has(body.kind)
        ? new Map([...this.kindNames, [body.kind, this.unknownKind(body.kind)]])
        : this.kindNames;
    return newTaskFromBody(
      body,
      {
        timeoutMs: this.options.defaultTimeoutMs,
        maxAttempts: this.options.defaultMaxAttempts ?? 3,
        kinds,
      },
      options.idempotencyKey,
    );
  }

  /**
   * A kind this process does not know, with the service-wide defaults and no input check. Never shown: its task
   * stores no backoff of its own and retries with the service-wide RETRY_BACKOFF_*.
   */
  private unknownKind(name: string): KindInfo {
    return {
      name,
      source: 'external',
      defaults: {
        queue: 'default',
        timeout_ms: this.options.defaultTimeoutMs,
        max_attempts: this.options.defaultMaxAttempts ?? 3,
        backoff: this.kinds()[0]?.defaults.backoff ?? { base_ms: 0, max_ms: 0 },
      },
      input_schema: null,
    };
  }

  /** A task as of at most the read replica's lag bound (when there is one); found even right after its create. */
  async getV1(id: string): Promise<TaskRecord> {
    const task = await this.reads.read(
      (s) => this.pointReadsOf(s).record(id),
      (t) => t === undefined,
    );
    if (!task) throw new ApiError('TASK_NOT_FOUND');
    return task;
  }

  private pointReadsOf(store: TaskStore): PointReads {
    let reads = this.pointReads.get(store);
    if (!reads) this.pointReads.set(store, (reads = new PointReads(store)));
    return reads;
  }

  /** A task as the primary has it now: the answer to a write of this service. */
  private async getV1Fresh(id: string): Promise<TaskRecord> {
    const task = await this.store.taskGetRecord(id);
    if (!task) throw new ApiError('TASK_NOT_FOUND');
    return task;
  }

  /** Newest first; `cursor` is what the previous page returned as next_cursor. */
  async list(filter: Omit<TaskFilter, 'beforeSeq'> & { cursor?: string | undefined }) {
    let beforeSeq: string | undefined;
    if (filter.cursor !== undefined) {
      beforeSeq = Buffer.from(filter.cursor, 'base64url').toString('utf8');
      if (!/^[1-9]\d{0,18}$/.test(beforeSeq)) {
        throw new ApiError('INVALID_REQUEST', undefined, [
          { path: '/cursor', message: 'not a cursor of this API' },
        ]);
      }
    }
    const rows = await this.reads.read((s) => s.taskList({ ...filter, beforeSeq }));
    const last = rows.at(-1);
    const nextCursor =
      rows.length === filter.limit && last ? Buffer.from(String(last.seq)).toString('base64url') : null;
    return { tasks: rows, nextCursor };
  }

  async attempts(id: string): Promise<Attempt[]> {
    const attempts = await this.reads.read(
      (s) => s.taskAttempts(id),
      (a) => a === undefined,
    );
    if (!attempts) throw new ApiError('TASK_NOT_FOUND');
    return attempts;
  }

  /** The completion-webhook deliveries of a task, oldest first. */
  async deliveries(id: string): Promise<DeliveryRecord[]> {
    const deliveries = await this.reads.read(
      (s) => s.webhookDeliveriesOfTask(id),
      (d) => d === undefined,
    );
    if (!deliveries) throw new ApiError('TASK_NOT_FOUND');
    return deliveries;
  }

  /** Cancels a task that has not ended; a running one's handler is aborted wherever it runs. */
  async cancel(id: string): Promise<TaskRecord> {
    const { before, cancelled, kind, queue } = await this.store.taskCancel(id, FAILURE_MESSAGES.cancelled);
    if (before === undefined) throw new ApiError('TASK_NOT_FOUND');
    if (!cancelled) throw new ApiError('TASK_FINISHED');
    this.bus.emit('task.finished', {
      taskId: id,
      kind: kind!,
      queue: queue!,
      state: 'cancelled',
      failure: 'cancelled',
      by: 'client',
    });
    return this.getV1Fresh(id);
  }

  /** Queues a failed or cancelled task again. */
  async retry(id: string): Promise<TaskRecord> {
    const task = await this.store.taskRetry(id);
    if (task) return task;
    await this.getV1Fresh(id); // 404 when there is no such task
    throw new ApiError('TASK_NOT_RETRYABLE');
  }

  /**
   * Retries or cancels every task matching `filter` that the action applies to (retry: failed or cancelled;
   * cancel: not yet finished), at most `limit` of them, oldest first, in one statement. `dryRun` only counts
   * them, so that a person can be asked to confirm the number first.
   */
  async bulk(
    action: BulkAction,
    filter: {
      states?: readonly TaskState[] | undefined;
      kind?: string | undefined;
      queue?: string | undefined;
    },
    limit: number,
    dryRun: boolean,
  ): Promise<number> {
    const applicable = BULK_STATES[action];
    const states = filter.states?.length ? applicable.filter((s) => filter.states!.includes(s)) : applicable;
    if (states.length === 0) return 0;
    const bulkFilter: BulkFilter = { states, kind: filter.kind, queue: filter.queue, limit };
    if (dryRun) return this.store.taskBulkCount(bulkFilter);
    return action === 'retry'
      ? this.store.taskBulkRetry(bulkFilter)
      : this.store.taskBulkCancel(bulkFilter, FAILURE_MESSAGES.cancelled);
  }

  async queues(): Promise<QueueRow[]> {
    return this.reads.read((s) => s.queueList());
  }

  async queue(name: string): Promise<QueueRow> {
    const queue = await this.reads.read(
      async (s) => (await s.queueList()).find((q) => q.name === name),
      (q) => q === undefined,
    );
    if (!queue) throw new ApiError('QUEUE_NOT_FOUND');
    return queue;
  }

  /** Sets a queue's pause and concurrency limit (null: unlimited); a queue may be set before it has tasks. */
  async updateQueue(
    name: string,
    change: { paused?: boolean; concurrency?: number | null },
  ): Promise<QueueRow> {
    await this.store.queueUpdate(name, change.paused, change.concurrency);
    // The primary's row: the answer shows the change just made.
    const queue = (await this.store.queueList()).find((q) => q.name === name);
    if (!queue) throw new ApiError('QUEUE_NOT_FOUND');
    return queue;
  }

  kinds(): readonly KindInfo[] {
    return this.options.kinds ?? [];
  }

  private get kindNames(): ReadonlyMap<string, KindInfo> {
    return (this.kindMap ??= new Map(this.kinds().map((k) => [k.name, k])));
  }

  private kindMap: ReadonlyMap<string, KindInfo> | undefined;

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Adds a condition of readiness (the engine's health, say). */
  addReadinessCheck(check: ReadinessCheck): void {
    this.readinessChecks.push(check);
  }

  /**
   * Whether this process should get traffic: it is not draining, the database answers, and every readiness check
   * passes. Throws the ApiError that /readyz answers with otherwise.
   */
  async checkReady(): Promise<void> {
    if (!this.accepting) throw new ApiError('SHUTTING_DOWN');
    const problem = this.readinessChecks.map((check) => check()).find((p) => p !== undefined);
    if (problem) throw new ApiError('NOT_READY', problem);
    try {
      await this.store.ping();
    } catch {
      throw new ApiError('DATABASE_UNAVAILABLE');
    }
  }

  /** Refuse new creates (503) and wait for the ones already accepted to commit. */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    await this.inserts.idle();
  }
}

/** An input problem of the i-th task of a batch: its paths are prefixed with the task's place in the request. */
function inBatch(err: unknown, i: number): unknown {
  if (!(err instanceof ApiError) || !Array.isArray(err.details)) return err;
  const details = (err.details as { path: string; message: string }[]).map((d) => ({
    ...d,
    path: `/tasks/${i}${d.path}`,
  }));
  return new ApiError(err.code, err.detail, details);
}
