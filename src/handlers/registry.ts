import type { Logger } from '../logger.js';

/** What a handler gets besides its input. */
export interface HandlerContext {
  /** Aborted at the task's deadline, on shutdown after the grace period, or when the lease is lost. */
  readonly signal: AbortSignal;
  readonly taskId: string;
  readonly attempt: number;
  /** A logger whose every line carries task_id. */
  readonly log: Logger;
  /**
   * Says how far the run is, for the task's `progress`: `percent` from 0 to 100 (clamped) or null, `message` a
   * short text (cut at 1,000 characters) or null. Cheap enough to call in a tight loop: only the latest value is
   * kept, written at most once per PROGRESS_INTERVAL_MS, and the last one before the run ends is always written.
   * Never throws; values of the wrong type are ignored (and logged once per run), and so is progress reported
   * after the run ended or its signal aborted.
   */
  readonly progress: (percent: number | null, message?: string | null) => void;
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
