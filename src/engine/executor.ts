import { FAILURE_MESSAGES } from '../domain/outcome.js';
import type { ClaimedTask, Outcome } from '../domain/task.js';
import { outcomes } from '../domain/task.js';
import type { Handler, HandlerContext } from '../handlers/registry.js';
import type { Logger } from '../logger.js';
import { TaskAbort } from './abort.js';
import { Deadlines, type Timed } from './deadlines.js';

/**
 * What the executor tells its owner about a run. One object serves every run, so that a run costs no closures of
 * its own for them; it is handed back the execution it created.
 */
export interface ExecutionEvents<E extends Execution = Execution> {
  /**
   * How the run ended: at the handler's return or throw, or at once when the run is aborted (the deadline, or
   * `abort()` from outside). Called once per run; `execution.handlerDone` says whether the handler has returned.
   */
  outcome(execution: E, outcome: Outcome): void;
  /**
   * The handler itself has returned, once per run that had a handler. After `outcome` when the handler ignored
   * its abort: it kept running after its run was ended.
   */
  handlerReturned(execution: E): void;
  /** The handler's `ctx.progress`, its arguments as the handler passed them, unchecked. */
  progress(execution: E, percent: unknown, message: unknown): void;
}

/**
 * One run of one claimed task, mapping whatever happens onto one Outcome: a value → completed; a throw → failed
 * (error); the deadline → failed (timeout), even if the handler ignores its signal; `abort()` from outside →
 * failed (shutdown / worker lost / cancelled). The executor never touches the database.
 *
 * `abort()` is the only way a run is aborted: it notes why (`abortedBy`), so the run learns of its own abort
 * without listening on a signal, and aborts the run's signal, whose `reason` tells the handler why. The signal (an
 * AbortController) is made when the handler first reads `ctx.signal`, already aborted if the run was: most handlers
 * never ask, and making one for every run of a drain was 4 % of the process's time. Everything a run holds while
 * its handler works is in this object, its handler context and one reaction on the handler's promise (the deadline
 * is three fields here, see `Deadlines`): a process holding 100,000 running tasks pays for little beyond their
 * handlers and their signals.
 */
export class Execution implements Timed {
  #abortedBy: TaskAbort | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  /** Whether the handler has returned yet. Already true when the outcome comes from the handler's own return. */
  handlerDone = false;
  /** Set when the outcome is in. */
  ended = false;
  // The run's place among the deadlines (kept by `deadlines`).
  deadlineAt = -1;
  deadlinePrev: Timed | undefined = undefined;
  deadlineNext: Timed | undefined = undefined;

  constructor(
    readonly task: ClaimedTask,
    /** Its methods take the execution as their subclass (a method's parameter is checked both ways). */
    private readonly events: ExecutionEvents,
    private readonly log: Logger,
  ) {}

  /** Why the run was aborted; undefined while it was not. */
  get abortedBy(): TaskAbort | undefined {
    return this.#abortedBy;
  }

  /** The run's signal, made at the first ask. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortedBy) this.#controller.abort(this.#abortedBy);
    }
    return this.#controller.signal;
  }

  /** Starts the handler (none: the run fails at once as `no_handler`) and the deadline. */
  start(handler: Handler | undefined): void {
    if (!handler) {
      this.handlerDone = true;
      this.end(outcomes.failed('no_handler', FAILURE_MESSAGES.noHandler(this.task.handler)));
      return;
    }
    // The deadline counts from the start of the run (now), as the task's timeout promises.
    deadlines.add(this, this.task.timeoutMs);
    let result: unknown;
    try {
      // The three closures made here share this call's one context: the run itself.
      result = handler(
        this.task.input,
        new RunContext(this, this.task, this.log, (percent, message) => this.progress(percent, message)),
      );
    } catch (err) {
      // A throw before returning a promise ends the run a microtask later, as a rejection would.
      queueMicrotask(() => this.returned(undefined, err, true));
      return;
    }
    // A handler may return a plain value or a promise: both are the same here. A plain value still ends the run a
    // microtask later, as a promise would.
    Promise.resolve(result).then(
      (value) => this.returned(value, undefined, false),
      (err: unknown) => this.returned(undefined, err, true),
    );
  }

  /**
   * Aborts the run's signal with `reason` and, unless the outcome is already in, ends the run with it at once,
   * without waiting for the handler. A run already aborted keeps its first reason.
   */
  abort(reason: TaskAbort): void {
    if (this.#abortedBy) return;
    // The reason first: whoever reads the outcome reads why from it.
    this.#abortedBy = reason;
    this.#controller?.abort(reason);
    if (!this.ended) this.end(abortOutcome(reason));
  }

  private returned(value: unknown, err: unknown, threw: boolean): void {
    this.handlerDone = true;
    if (!this.ended) this.end(threw ? errorOutcome(err) : outcomes.completed(value));
    this.events.handlerReturned(this);
  }

  private end(outcome: Outcome): void {
    this.ended = true;
    deadlines.remove(this, this.task.timeoutMs);
    this.events.outcome(this, outcome);
  }

  private progress(percent: unknown, message: unknown): void {
    // Reporting progress must never fail the work it reports on.
    try {
      this.events.progress(this, percent, message);
    } catch (err) {
      this.log.warn({ err, task_id: this.task.id }, 'could not record progress');
    }
  }
}

/** Every run's deadline, on one timer per distinct timeout. */
const deadlines = new Deadlines<Execution>((execution) =>
  execution.abort(new TaskAbort('timeout', FAILURE_MESSAGES.timeout(execution.task.timeoutMs))),
);

function abortOutcome(reason: TaskAbort): Outcome {
  switch (reason.kind) {
    case 'timeout':
      return outcomes.failed('timeout', reason.message);
    case 'shutdown':
      return outcomes.failed('shutdown', reason.message);
    case 'lease_lost':
      return outcomes.failed('worker_lost', reason.message);
    case 'cancelled':
      return outcomes.failed('cancelled', reason.message, false);
  }
}

function errorOutcome(err: unknown): Outcome {
  // A handler says "running this again would not help" with an error whose `retryable` is false, and "not
  // before" with its `retryAfterMs` (a number of milliseconds).
  const said = err as { retryable?: unknown; retryAfterMs?: unknown } | null;
  const retryable = said?.retryable === false ? false : undefined;
  const after = said?.retryAfterMs;
  return outcomes.failed(
    'error',
    err instanceof Error ? err.message || err.name : String(err),
    retryable,
    typeof after === 'number' && Number.isFinite(after) && after > 0 ? after : undefined,
  );
}

/**
 * The handler's view of its run. Its signal and its logger (bound to task_id) are made only if the handler asks
 * for them: `signal` and `log` are own accessors, each defined with one descriptor that every context shares, which
 * keeps the object in V8's fast mode (an object literal with a getter is a dictionary: a few hundred bytes more per
 * running task). Its own properties are signal, taskId, attempt, log and progress, in that order, for handlers
 * that spread or list them.
 */
class RunContext implements HandlerContext {
  declare readonly signal: AbortSignal;
  declare readonly taskId: string;
  declare readonly attempt: number;
  declare readonly log: Logger;
  declare readonly progress: (percent: number | null, message?: string | null) => void;
  readonly #run: Execution;
  readonly #parentLog: Logger;
  #log: Logger | undefined = undefined;

  static readonly #signalDescriptor: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: RunContext): AbortSignal {
      return this.#run.signal;
    },
  };

  static readonly #logDescriptor: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: RunContext): Logger {
      return (this.#log ??= this.#parentLog.child({ task_id: this.taskId }));
    },
  };

  constructor(
    run: Execution,
    task: ClaimedTask,
    log: Logger,
    progress: (percent: unknown, message: unknown) => void,
  ) {
    this.#run = run;
    this.#parentLog = log;
    Object.defineProperty(this, 'signal', RunContext.#signalDescriptor);
    this.taskId = task.id;
    this.attempt = task.attempt;
    Object.defineProperty(this, 'log', RunContext.#logDescriptor);
    this.progress = progress;
  }
}
