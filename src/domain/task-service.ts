import { randomUUID } from 'node:crypto';
import { Batcher } from '../db/batcher.js';
import type { NewTask, TaskStore } from '../db/store.js';
import type { EventBus } from '../events/bus.js';
import { ApiError } from './errors.js';
import type { TaskView } from './task.js';

export interface TaskServiceOptions {
  defaultHandler: string;
  defaultTimeoutMs: number;
  maxTaskLength: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Insert flushes that may run at once; each holds a pooled connection (counted in config's pool minimum). */
export const MAX_CONCURRENT_INSERTS = 4;

/** Something readiness depends on besides the database: returns why it is not ready, or undefined. */
export type ReadinessCheck = () => string | undefined;

/**
 * What clients can do with tasks, whatever the transport (HTTP today, a CLI tomorrow). The create path:
 * `create()` validates, then hands the task to the insert batcher, whose flush is one `taskInsertMany`
 * statement for every create that arrived meanwhile (group commit); each caller returns only after that INSERT
 * committed, and `task.created` is emitted then.
 */
export class TaskService {
  private readonly inserts: Batcher<NewTask, undefined>;
  private readonly readinessChecks: ReadinessCheck[] = [];
  private accepting = true;

  constructor(
    private readonly store: TaskStore,
    private readonly bus: EventBus,
    private readonly options: TaskServiceOptions,
  ) {
    this.inserts = new Batcher(
      async (tasks) => {
        await this.store.taskInsertMany(tasks);
        return tasks.map(() => undefined);
      },
      { maxBatch: 1000, maxConcurrent: MAX_CONCURRENT_INSERTS },
    );
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
    const id = randomUUID();
    await this.inserts.add({
      id,
      handler: this.options.defaultHandler,
      input,
      timeoutMs: this.options.defaultTimeoutMs,
    });
    this.bus.emit('task.created', { taskId: id, requestId: context.requestId });
    return id;
  }

  async get(taskId: unknown): Promise<TaskView> {
    if (typeof taskId !== 'string' || !UUID.test(taskId)) throw new ApiError('INVALID_TASK_ID');
    const view = await this.store.taskGet(taskId.toLowerCase());
    if (!view) throw new ApiError('TASK_NOT_FOUND');
    return view;
  }

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
