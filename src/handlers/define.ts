/**
 * `taskd/handler`: what the author of a handler module imports. A module in HANDLERS_DIR default-exports the
 * value of `defineHandler({...})`; the file's name is the kind's name. At run time `defineHandler` returns its
 * argument unchanged: it exists for the types (the input inferred from the schema, the context, the options).
 *
 * This file must stay free of imports that have effects: a module loaded into a worker thread imports it too.
 */
import type { Static, TSchema } from 'typebox';

type LogFields = Record<string, unknown>;

/** One level of the task's logger: a message, or fields and a message (pino's argument order). */
export interface TaskLogMethod {
  (message: string): void;
  (fields: LogFields, message?: string): void;
}

/** The task's logger: every line carries task_id. In a thread, lines are sent to the main thread's log. */
export interface TaskLog {
  trace: TaskLogMethod;
  debug: TaskLogMethod;
  info: TaskLogMethod;
  warn: TaskLogMethod;
  error: TaskLogMethod;
  fatal: TaskLogMethod;
}

/** What a handler gets besides its input. */
export interface TaskContext {
  readonly taskId: string;
  /** 1 on the first run, counting up on each retry. */
  readonly attempt: number;
  /**
   * Aborted at the task's deadline, on cancel, on shutdown after the grace period, or when this process loses its
   * lease; `signal.reason` says which. With `isolation: "thread"` the thread is terminated instead, at once, and
   * this signal never fires.
   */
  readonly signal: AbortSignal;
  readonly log: TaskLog;
  /** How far the run is: `percent` 0–100 or null, a short `message`. Cheap; only the latest value is written. */
  readonly progress: (percent: number | null, message?: string | null) => void;
}

/** Where the handler runs: on the main thread (`inline`, the default) or in a pool of worker threads. */
export type Isolation = 'inline' | 'thread';

/** The options of a kind, each a default for creates that set none. */
export interface HandlerOptions {
  /** The queue of its tasks (default `default`). */
  queue?: string;
  /** A run's deadline, from its start (default TASK_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Runs a task may have, the first one included (default 3). */
  maxAttempts?: number;
  /** The wait before a retry: random up to min(maxMs, baseMs · 2^(n-1)) (default the RETRY_BACKOFF_* settings). */
  backoff?: { baseMs?: number; maxMs?: number };
  isolation?: Isolation;
}

/**
 * A handler module's default export. `run` returns the task's result (a JSON value) or throws: the task is retried
 * while it has attempts left, unless the error has `retryable: false`.
 */
export interface HandlerDefinition<Input = unknown, Result = unknown> extends HandlerOptions {
  /** The JSON Schema (or TypeBox schema) of `input`, checked on create (400 `invalid_input`) and before each run. */
  input?: TSchema | boolean;
  run(input: Input, ctx: TaskContext): Result | Promise<Result>;
}

/**
 * Declares a handler. With an `input` schema (TypeBox, or a JSON Schema literal `as const`), `run`'s input is
 * typed from it; without one, give the input's type as a type argument: `defineHandler<{ n: number }>({...})`.
 */
export function defineHandler<const Schema extends TSchema, Result>(
  definition: HandlerOptions & {
    input: Schema;
    run(input: Static<Schema>, ctx: TaskContext): Result | Promise<Result>;
  },
): HandlerDefinition<Static<Schema>, Result>;
export function defineHandler<Input = unknown, Result = unknown>(
  definition: HandlerDefinition<Input, Result>,
): HandlerDefinition<Input, Result>;
export function defineHandler(definition: HandlerDefinition): HandlerDefinition {
  return definition;
}
