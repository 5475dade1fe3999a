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

/** Where a kind comes from, as `GET /v1/kinds` says. */
export type KindSource = 'builtin' | 'module' | 'external';

/** One thing wrong with an input: a JSON Pointer into it and what is wrong there. */
export interface InputProblem {
  path: string;
  message: string;
}

/** Checks an input against a kind's schema: the problems found, or none. */
export type InputValidator = (input: unknown) => InputProblem[] | undefined;

/** What a create of a kind gets for what it does not set (unset here: the service-wide defaults). */
export interface KindDefaults {
  queue?: string;
  timeoutMs?: number;
  maxAttempts?: number;
  backoff?: { baseMs?: number; maxMs?: number };
}

/** Everything the service knows of a kind besides its handler. */
export interface KindSpec {
  source: KindSource;
  defaults: KindDefaults;
  /** The JSON Schema of the input, as the kind declared it; null when it has none. */
  inputSchema: unknown;
  /** The compiled `inputSchema`: run on create and again before each run. */
  validate?: InputValidator | undefined;
  isolation: 'inline' | 'thread';
}

/** A registered kind: its name, its handler (none for kinds run elsewhere) and what else is known of it. */
export interface Kind extends KindSpec {
  name: string;
  handler: Handler | undefined;
}

const BUILTIN: KindSpec = { source: 'builtin', defaults: {}, inputSchema: null, isolation: 'inline' };

/** An input that fails its kind's schema at run time: running it again would fail the same way. */
export class InvalidInputError extends Error {
  readonly retryable = false;
  constructor(readonly problems: InputProblem[]) {
    super(`input does not match the kind's schema: ${describeProblems(problems)}`);
    this.name = 'InvalidInputError';
  }
}

export function describeProblems(problems: readonly InputProblem[]): string {
  return problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ');
}

/**
 * The kinds a process knows: built-in handlers and handler modules, each with its source, defaults, input schema
 * and isolation. Tasks name their kind; the original API uses DEFAULT_HANDLER.
 */
export class HandlerRegistry {
  private readonly kinds = new Map<string, Kind>();

  /** Registers a kind; without `spec`, a built-in one with no schema and the service-wide defaults. */
  register(name: string, handler: Handler | undefined, spec: KindSpec = BUILTIN): this {
    if (this.kinds.has(name)) throw new Error(`handler "${name}" is already registered`);
    const { validate } = spec;
    // Tasks created through SQL (taskd.add_task) reach the handler unchecked: the schema is checked again here,
    // before every run, and an input that fails it fails the task without a retry.
    const checked: Handler | undefined =
      handler && validate
        ? (input, ctx) => {
            const problems = validate(input);
            if (problems) throw new InvalidInputError(problems);
            return handler(input, ctx);
          }
        : handler;
    this.kinds.set(name, { ...spec, name, handler: checked });
    return this;
  }

  get(name: string): Handler | undefined {
    return this.kinds.get(name)?.handler;
  }

  kind(name: string): Kind | undefined {
    return this.kinds.get(name);
  }

  has(name: string): boolean {
    return this.kinds.has(name);
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }

  list(): Kind[] {
    return [...this.kinds.values()];
  }
}

export const DEFAULT_HANDLER = 'simulate';
