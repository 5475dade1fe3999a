import type { Logger } from '../logger.js';

/** What a handler gets besides its input. */
export interface HandlerContext {
  /** Aborted at the task's deadline, on shutdown after the grace period, or when the lease is lost. */
  readonly signal: AbortSignal;
  readonly taskId: string;
  readonly attempt: number;
  /** A logger whose every line carries task_id. */
  readonly log: Logger;
}

/**
 * A handler does the work of one task. Its input is the posted string for a task of the original API, any JSON
 * value for a v1 task. It returns a value or a promise of one, which becomes the task's result (for the original
 * API: strings as they are, anything else as JSON); a throw or a rejection fails the run with the error's message,
 * and the task is retried while it has attempts left, unless the error has `retryable: false`.
 * It should honour `ctx.signal`; if it does not, the engine still fails the task at the deadline, discards
 * whatever it returns later, and counts it as stuck (its slot stays taken) until it returns.
 */
export type Handler = (input: unknown, ctx: HandlerContext) => unknown;

/** The named handlers a process can run. Tasks name their handler; the original API uses DEFAULT_HANDLER. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, Handler>();

  register(name: string, handler: Handler): this {
    if (this.handlers.has(name)) throw new Error(`handler "${name}" is already registered`);
    this.handlers.set(name, handler);
    return this;
  }

  get(name: string): Handler | undefined {
    return this.handlers.get(name);
  }

  names(): string[] {
    return [...this.handlers.keys()];
  }
}

export const DEFAULT_HANDLER = 'simulate';
